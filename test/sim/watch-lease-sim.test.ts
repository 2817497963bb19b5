/**
 * The seeded cluster simulation with watches and leases (issue 4): besides
 * everything raft-sim checks, each seed runs watch clients that resume
 * across members and lease clients that keep leases alive through any
 * member, with clock skew between members, compaction, deletes and txns,
 * and checks etcd's six watch guarantees and the lease rules (sim-watch.ts,
 * lease-check.ts).
 *
 *   SIM_WL_SEEDS=200 npx mocha ... watch-lease-sim.test.js    more seeds
 *   SIM_SEED=123                                              replay one seed (prints its trace hash)
 *   SIM_WL_OPS=1000                                           operations per seed
 *   SIM_TRACE=/tmp/trace.txt                                  with SIM_SEED: write the readable trace there
 *   SIM_WL_MUTATION=lease-early-expiry                        run with one injected bug: must fail
 *   SIM_WL_MUTATIONS=1                                        the mutation table: every bug must be caught
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { isMutation, mutations, type Mutation, type MutationInfo } from './mutations.js';
import { envInt } from './env.js';
import { runSeed, type SimFailure, type SimReport } from './simulator.js';

const seedsDefault = 40;
const opsDefault = 500;
/** Seeds each mutation gets to show itself in the mutation table. */
const mutationSeedsMax = 40;

function envMutation(): Mutation | undefined {
  const v = process.env.SIM_WL_MUTATION;
  if (v === undefined || v === '') return undefined;
  assert.ok(isMutation(v), `SIM_WL_MUTATION must be one of ${Object.keys(mutations).join(', ')}`);
  return v;
}

describe('watch and lease simulation', function () {
  this.timeout(0);
  const only = envInt('SIM_SEED');
  const seeds = only !== undefined ? [only] : Array.from({ length: envInt('SIM_WL_SEEDS') ?? seedsDefault }, (_, i) => i + 1);
  const ops = envInt('SIM_WL_OPS') ?? opsDefault;
  const mutation = envMutation();

  it(`keeps the watch guarantees and lease expiry over ${seeds.length} seed(s) x ${ops} ops`, () => {
    const started = Date.now();
    const reports: SimReport[] = [];
    const tracePath = only !== undefined ? process.env.SIM_TRACE : undefined;
    for (const seed of seeds) {
      let report: SimReport;
      try {
        report = runSeed({ seed, ops, watchLease: true, mutation, keepTrace: tracePath !== undefined });
      } catch (err) {
        if (tracePath !== undefined) writeFileSync(tracePath, ((err as SimFailure).simTrace ?? []).join('\n') + '\n');
        throw err;
      }
      if (tracePath !== undefined) writeFileSync(tracePath, (report.trace ?? []).join('\n') + '\n');
      reports.push(report);
      if (only !== undefined) assert.equal(runSeed({ seed, ops, watchLease: true, mutation }).traceHash, report.traceHash, 'the seed does not replay deterministically');
    }
    printSummary(reports, (Date.now() - started) / 1000, only !== undefined);
  });

  if (process.env.SIM_WL_MUTATIONS === '1') {
    it('catches every injected bug (mutation table)', () => {
      const rows: string[] = [];
      const wrong: string[] = [];
      for (const name of Object.keys(mutations) as Mutation[]) {
        const { harmless, rare }: MutationInfo = mutations[name];
        const row = hunt(name, ops);
        const note = row.caught ? '' : harmless !== undefined ? ` (harmless: ${harmless})` : rare !== undefined ? ` (rare: ${rare})` : '';
        rows.push(row.line + note);
        if (rare === undefined && row.caught === (harmless !== undefined)) wrong.push(name);
      }
      console.log(['      mutation | caught at seed | violation', ...rows.map((r) => `      ${r}`)].join('\n'));
      assert.deepEqual(wrong, [], `bugs not caught in ${mutationSeedsMax} seeds, or "harmless" ones caught`);
    });
  }
});

/** Runs seeds with the mutation until one fails; the violation class is the first word after "seed n failed". */
function hunt(name: Mutation, ops: number): { caught: boolean; line: string } {
  const started = Date.now();
  for (let seed = 1; seed <= mutationSeedsMax; seed++) {
    try {
      runSeed({ seed, ops, watchLease: true, mutation: name });
    } catch (err) {
      const message = (err as Error).message;
      const property = /\): (.*?) violated/.exec(message)?.[1] ?? message.slice(0, 80);
      return { caught: true, line: `${name} | ${seed} (${((Date.now() - started) / 1000).toFixed(1)} s) | ${property}` };
    }
  }
  return { caught: false, line: `${name} | not in ${mutationSeedsMax} seeds | -` };
}

function printSummary(reports: SimReport[], elapsedS: number, single: boolean): void {
  const sum = (f: (r: SimReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: SimReport) => number): number => reports.reduce((a, r) => Math.max(a, f(r)), 0);
  const faults = new Map<string, number>();
  for (const r of reports) for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
  const median = (f: (r: SimReport) => number): number => {
    const xs = reports.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)] ?? 0;
  };
  const lines = [
    `seeds ${reports.length} in ${elapsedS.toFixed(1)} s: ${(reports.length / elapsedS).toFixed(2)} seeds/s; simulated time ${sum((r) => r.simUnits)} units`,
    `ops ${sum((r) => r.ops.writes + r.ops.reads)} (ok ${sum((r) => r.ops.ok)}, unknown ${sum((r) => r.ops.unknown)}, failed ${sum((r) => r.ops.failed)}); linearizability checked on ${sum((r) => r.lincheck.ops)} ops`,
    `watch: ${sum((r) => r.watch!.streams)} streams (${sum((r) => r.watch!.resumes)} resumed), ${sum((r) => r.watch!.events)} events, ${sum((r) => r.watch!.progressNotifications)} progress notifications, ${sum((r) => r.watch!.compactionCancels)} compaction cancels (${sum((r) => r.watch!.compactions)} compactions); lag from first apply to delivery p50 ${median((r) => r.watch!.lagP50)} p99 ${median((r) => r.watch!.lagP99)} units (median seed), max ${max((r) => r.watch!.lagMax)}`,
    `lease: ${sum((r) => r.lease!.granted)} granted, ${sum((r) => r.lease!.revokedByClients)} revoked, ${sum((r) => r.lease!.expired)} expired; keep-alives ${sum((r) => r.lease!.keepAlivesSent)} sent, ${sum((r) => r.lease!.keepAlivesAcked)} acked, ${sum((r) => r.lease!.keepAlivesRefused)} refused; expiry after floor + TTL p50 ${median((r) => r.lease!.expiryLagP50)} p99 ${median((r) => r.lease!.expiryLagP99)} units (median seed); least slack over the bound ${Math.min(...reports.map((r) => r.lease!.minSlack)).toFixed(1)} units`,
    `faults ${[...faults.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `violations 0 (raft safety, linearizability, watch: ordered unique reliable atomic resumable bookmarkable consistent prev-values compaction-cancels liveness; lease: early expiry, one revision, orphan keys, puts on ended leases, lease tables)`,
  ];
  if (single) lines.push(`seed ${reports[0]!.seed} trace hash ${reports[0]!.traceHash} config ${JSON.stringify(reports[0]!.config)}`);
  console.log(lines.map((l) => `      ${l}`).join('\n'));
}
