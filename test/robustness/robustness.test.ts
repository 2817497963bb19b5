import assert from 'node:assert/strict';
import { killAll, removeTempDirs } from '../support/procs.js';
import { shortProfile } from './profiles.js';
import { runSession } from './session.js';
import { violationCount } from './validate.js';

/**
 * The robustness tier (short profile): every scenario of faults.ts once, on
 * real 3-member clusters, with the recorded history validated at the end of
 * each session. `npm run robustness -- --all --profile long` is the long run.
 */
describe('robustness on real processes (short profile: every fault once)', function () {
  this.timeout(300_000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  for (const plan of shortProfile(Number(process.env['ROBUSTNESS_SEED'] ?? 1))) {
    it(`${plan.name}: ${plan.scenarios.map((s) => s.name).join(', ')}`, async () => {
      const lines: string[] = [];
      const report = await runSession({ ...plan, log: (line) => lines.push(line) });
      const unfired = report.faults.filter((f) => !f.fired).map((f) => `${f.scenario}${f.error ? `: ${f.error}` : ''}`);
      const v = report.validation;
      console.log(`      ${v.operations.total} operations (${v.operations.unknown} unknown), ${v.acknowledgedWrites} acknowledged writes, ${report.faults.length} faults, checker ${v.checkerMs.toFixed(0)} ms, ${(report.wallMs / 1000).toFixed(0)} s`);
      assert.deepEqual(unfired, [], `faults that did not fire:\n${lines.join('\n')}`);
      assert.ok(v.fullWatchComplete, 'the full watch missed revisions: unknown outcomes could not be settled from it');
      assert.equal(violationCount(v), 0, `violations:\n${v.messages.join('\n')}\n${lines.join('\n')}`);
    });
  }
});
