/**
 * The Raft bugs the random seeds almost never reach (raft-mutations.ts,
 * `rare`) are caught by the scripted scenarios instead: the whole Raft unit
 * suite (test/unit/raft, the paper's and etcd's scenarios) runs in a child
 * process with one bug switched on in every node
 * (scenario-mutant-preload.ts), and must fail; without a bug the same run
 * passes. The failing scenarios are reported (docs/robustness.md). One rare
 * bug only ever costs liveness, in a history no scenario builds; its entry
 * says why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { raftMutants, type RaftMutant } from './raft-mutations.js';

const mochaBin = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const raftTests = fileURLToPath(new URL('../unit/raft/', import.meta.url));
const preload = new URL('./scenario-mutant-preload.js', import.meta.url).href;

/** Runs the Raft unit suite, with the bug `mutant` on every node; returns the titles of the failing tests. */
function raftSuite(mutant?: string): { status: number | null; failing: string[]; output: string } {
  const files = readdirSync(raftTests).filter((f) => f.endsWith('.test.js')).map((f) => `${raftTests}${f}`);
  const args = [...(mutant === undefined ? [] : ['--import', preload]), mochaBin, '--no-config', '--reporter', 'json', ...files];
  const env = { ...process.env, SIM_SCENARIO_MUTANT: mutant ?? '' };
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  let failing: string[] = [];
  try {
    failing = (JSON.parse(r.stdout) as { failures: Array<{ fullTitle: string }> }).failures.map((f) => f.fullTitle);
  } catch {
    // Not JSON: the run broke before reporting; the status and output say how.
  }
  return { status: r.status, failing, output: `${r.stdout.slice(0, 2000)}${r.stderr.slice(0, 2000)}` };
}

describe('scripted scenarios catch the rare Raft bugs', function () {
  this.timeout(300_000);
  const rare = (Object.entries(raftMutants) as Array<[string, RaftMutant]>).filter(([, m]) => m.rare !== undefined);

  it('the Raft unit suite passes without a bug', () => {
    const clean = raftSuite();
    assert.equal(clean.status, 0, clean.output);
    assert.deepEqual(clean.failing, []);
  });

  it('runs every rare bug but one, which no scenario builds (its reason says why)', () => {
    assert.deepEqual(rare.filter(([, m]) => m.patchAll === undefined).map(([name]) => name), ['stale-ack-counted']);
  });

  for (const [name, m] of rare) {
    if (m.patchAll === undefined) continue;
    it(`${name}: ${m.bug}; fails the scripted scenarios`, () => {
      const run = raftSuite(name);
      assert.ok(run.failing.length > 0, `no scenario failed (status ${run.status}): ${run.output}`);
      console.log(`      ${name} fails ${run.failing.length}: ${run.failing.slice(0, 4).join(' | ')}`);
    });
  }
});
