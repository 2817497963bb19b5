/**
 * The seeded cluster simulation (design.md §4.2). Each seed runs a 3- or
 * 5-member cluster through crashes, partitions, lossy links, membership
 * changes and leadership moves while clients read and write; safety is
 * checked at every step and the client history for linearizability.
 *
 *   SIM_SEEDS=500 npx mocha ... raft-sim.test.js   more seeds
 *   SIM_SEED=123  npx mocha ... raft-sim.test.js   replay one seed (prints its trace hash)
 *   SIM_OPS=1000                                   operations per seed
 *   SIM_TRACE=/tmp/trace.txt                       with SIM_SEED: write the readable trace there
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { envInt } from './env.js';
import { runSeed, type SimFailure, type SimReport } from './simulator.js';

const seedsDefault = 200;
const opsDefault = 700;

describe('raft simulation', function () {
  this.timeout(0);
  const only = envInt('SIM_SEED');
  const seeds = only !== undefined ? [only] : Array.from({ length: envInt('SIM_SEEDS') ?? seedsDefault }, (_, i) => i + 1);
  const ops = envInt('SIM_OPS') ?? opsDefault;

  it(`keeps Raft safe and the KV history linearizable over ${seeds.length} seed(s) x ${ops} ops`, () => {
    const started = Date.now();
    const reports: SimReport[] = [];
    const tracePath = only !== undefined ? process.env.SIM_TRACE : undefined;
    for (const seed of seeds) {
      let report: SimReport;
      try {
        report = runSeed({ seed, ops, keepTrace: tracePath !== undefined });
      } catch (err) {
        if (tracePath !== undefined) writeFileSync(tracePath, ((err as SimFailure).simTrace ?? []).join('\n') + '\n');
        throw err;
      }
      if (tracePath !== undefined) writeFileSync(tracePath, (report.trace ?? []).join('\n') + '\n');
      reports.push(report);
      // A replayed seed must reproduce itself exactly.
      if (only !== undefined) assert.equal(runSeed({ seed, ops }).traceHash, report.traceHash, 'the seed does not replay deterministically');
    }
    const elapsed = (Date.now() - started) / 1000;
    printSummary(reports, elapsed, only !== undefined);
  });
});

function printSummary(reports: SimReport[], elapsedS: number, single: boolean): void {
  const sum = (f: (r: SimReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
  const faults = new Map<string, number>();
  for (const r of reports) for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
  const linMs = reports.map((r) => r.lincheck.ms).sort((a, b) => a - b);
  const lines = [
    `seeds ${reports.length} (${reports.filter((r) => r.config.members === 3).length} x 3 members, ${reports.filter((r) => r.config.members === 5).length} x 5) in ${elapsedS.toFixed(1)} s: ${(reports.length / elapsedS).toFixed(2)} seeds/s`,
    `ops ${sum((r) => r.ops.writes + r.ops.reads)} (ok ${sum((r) => r.ops.ok)}, unknown ${sum((r) => r.ops.unknown)}, failed ${sum((r) => r.ops.failed)}); linearizability checked on ${sum((r) => r.lincheck.ops)} ops, checker p50 ${linMs[Math.floor(linMs.length / 2)]} ms max ${linMs[linMs.length - 1]} ms`,
    `simulated time ${sum((r) => r.simUnits)} units; leaders in ${sum((r) => r.terms)} terms; messages ${sum((r) => r.network.sent)} (lost ${sum((r) => r.network.lost)}, blocked ${sum((r) => r.network.blocked)}, duplicated ${sum((r) => r.network.duplicated)})`,
    `faults ${[...faults.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `safety checks: roles ${sum((r) => r.checks.roles)}, entries ${sum((r) => r.checks.entries)}, commits ${sum((r) => r.checks.commits)}, applies ${sum((r) => r.checks.applies)}, new leaders ${sum((r) => r.checks.leaders)}, pairwise log scans ${sum((r) => r.checks.pairwise)}; violations 0`,
  ];
  if (single) lines.push(`seed ${reports[0]!.seed} trace hash ${reports[0]!.traceHash} config ${JSON.stringify(reports[0]!.config)}`);
  console.log(lines.map((l) => `      ${l}`).join('\n'));
}
