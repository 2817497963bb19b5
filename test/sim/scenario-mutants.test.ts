/**
 * A Raft bug the random seeds almost never reach (raft-mutations.ts,
 * `rare`) is caught by a scripted scenario instead: the paper's Figure 8
 * test (test/unit/raft/paper.test.ts) runs in a child process with the bug
 * switched on in every node (scenario-mutant-preload.ts), and must fail
 * exactly where the history shows the old entry committed by counting;
 * without the bug the same run passes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { raftMutants } from './raft-mutations.js';

const mochaBin = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const paperTest = fileURLToPath(new URL('../unit/raft/paper.test.js', import.meta.url));
const preload = new URL('./scenario-mutant-preload.js', import.meta.url).href;

function runScenario(grep: string, withBug: boolean): { status: number | null; output: string } {
  const args = [...(withBug ? ['--import', preload] : []), mochaBin, '--no-config', '--reporter', 'dot', '--grep', grep, paperTest];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('scripted scenarios catch the rare Raft bugs', function () {
  this.timeout(120_000);

  it('commit-old-term fails the Figure 8 scenario, which passes without it', () => {
    assert.equal(raftMutants['commit-old-term'].scenario, 'Figure 8');
    const clean = runScenario('Figure 8', false);
    assert.equal(clean.status, 0, clean.output);
    assert.match(clean.output, /1 passing/);
    const broken = runScenario('Figure 8', true);
    assert.equal(broken.status, 1, broken.output);
    assert.match(broken.output, /but it is not committed by counting/);
  });
});
