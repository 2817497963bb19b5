import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOperations } from '../../support/lincheck/checker.js';
import { registerModel } from '../../support/lincheck/register-model.js';
import { bruteForceLinearizable } from './brute-force.js';
import { parseJepsenLog } from './jepsen-log.js';

/** The data lives next to the sources; tests run from a build directory. */
function dataDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, 'repository root not found');
    dir = parent;
  }
  return join(dir, 'test', 'unit', 'lincheck', 'data', 'jepsen');
}

// Verdicts as published with the logs (Porcupine's test suite).
const expected: [string, 'ok' | 'illegal'][] = [
  ['000', 'illegal'], ['001', 'illegal'], ['002', 'ok'], ['003', 'illegal'], ['005', 'ok'], ['007', 'ok'],
];

describe('lincheck: Jepsen etcd register logs', () => {
  for (const [name, verdict] of expected) {
    it(`judges etcd_${name}.log ${verdict === 'ok' ? 'linearizable' : 'not linearizable'}`, () => {
      const ops = parseJepsenLog(readFileSync(join(dataDir(), `etcd_${name}.log`), 'utf8'));
      assert.ok(ops.length > 70, 'the whole log was read');
      assert.ok(ops.some((o) => o.return === Infinity), 'timed-out requests are kept as unknown');
      assert.equal(checkOperations(registerModel, ops).verdict, verdict);
    });
  }

  it('agrees with brute force on windows of 12 operations of each log', () => {
    for (const [name] of expected) {
      const ops = parseJepsenLog(readFileSync(join(dataDir(), `etcd_${name}.log`), 'utf8'));
      for (let start = 0; start + 12 <= ops.length; start += 6) {
        // A window of the log, rebased so that it starts from an empty register is not a
        // valid slice of the history, but it is a fine random history for cross-checking.
        const window = ops.slice(start, start + 12);
        assert.equal(checkOperations(registerModel, window).verdict, bruteForceLinearizable(registerModel, window) ? 'ok' : 'illegal', `etcd_${name} from ${start}`);
      }
    }
  });
});
