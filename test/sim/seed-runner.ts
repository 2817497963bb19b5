/**
 * Runs a simulation over many seeds, or replays one, and sums up what was
 * checked. Shared by the simulation tests and the long-run script.
 *
 * The environment of every simulation test:
 *   SIM_SEED=123              replay one seed (checks it replays to the same trace hash)
 *   SIM_TRACE=/tmp/trace.txt  with SIM_SEED: write the readable trace there
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { envInt } from './env.js';
import { lincheckStepsMax, runSeed, type SimFailure, type SimOptions, type SimReport } from './simulator.js';

/** Seeds 1..count, or the one in SIM_SEED. */
export function seedsFromEnv(countVar: string, countDefault: number): number[] {
  const only = envInt('SIM_SEED');
  if (only !== undefined) return [only];
  return Array.from({ length: envInt(countVar) ?? countDefault }, (_, i) => i + 1);
}

/**
 * Runs the seeds in order and throws the first failure (its message names
 * the seed, the trace hash and how to replay it). A single seed is run twice
 * and must produce the same trace hash; with SIM_TRACE its trace is written.
 */
export async function runSeeds(options: Omit<SimOptions, 'seed'>, seeds: readonly number[], onReport?: (r: SimReport) => void): Promise<SimReport[]> {
  const single = seeds.length === 1 && envInt('SIM_SEED') !== undefined;
  const tracePath = single ? process.env.SIM_TRACE : undefined;
  const reports: SimReport[] = [];
  for (const seed of seeds) {
    let report: SimReport;
    try {
      report = await runSeed({ ...options, seed, keepTrace: tracePath !== undefined });
    } catch (err) {
      if (tracePath !== undefined) writeFileSync(tracePath, ((err as SimFailure).simTrace ?? []).join('\n') + '\n');
      throw err;
    }
    if (tracePath !== undefined) writeFileSync(tracePath, (report.trace ?? []).join('\n') + '\n');
    if (single) assert.equal((await runSeed({ ...options, seed })).traceHash, report.traceHash, 'the seed does not replay deterministically');
    reports.push(report);
    onReport?.(report);
  }
  return reports;
}

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** What the runs checked and the figures they produced, one line per subject; `failed` seeds are not in `reports`. */
export function summarize(reports: readonly SimReport[], elapsedS: number, failed = 0): string[] {
  const sum = (f: (r: SimReport) => number): number => reports.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: SimReport) => number): number => reports.reduce((a, r) => Math.max(a, f(r)), 0);
  const median = (f: (r: SimReport) => number): number => quantile(reports.map(f), 0.5);
  const faults = new Map<string, number>();
  for (const r of reports) for (const [k, v] of Object.entries(r.faults)) faults.set(k, (faults.get(k) ?? 0) + v);
  const threes = reports.filter((r) => r.config.members === 3).length;
  const lines = [
    `seeds ${reports.length} (${threes} x 3 members, ${reports.length - threes} x 5) in ${elapsedS.toFixed(1)} s: ${(reports.length / elapsedS).toFixed(2)} seeds/s; simulated time ${sum((r) => r.simUnits)} units`,
    `ops ${sum((r) => r.ops.writes + r.ops.reads)} (ok ${sum((r) => r.ops.ok)}, unknown ${sum((r) => r.ops.unknown)}, failed ${sum((r) => r.ops.failed)}); linearizability checked on ${sum((r) => r.lincheck.ops)} ops: checker p50 ${median((r) => r.lincheck.ms)} ms, max ${max((r) => r.lincheck.ms)} ms; search steps max ${max((r) => r.lincheck.steps)} of a budget of ${lincheckStepsMax}`,
    `raft: leaders in ${sum((r) => r.terms)} terms; messages ${sum((r) => r.network.sent)} (lost ${sum((r) => r.network.lost)}, blocked ${sum((r) => r.network.blocked)}, duplicated ${sum((r) => r.network.duplicated)}); safety checks: roles ${sum((r) => r.checks.roles)}, entries ${sum((r) => r.checks.entries)}, commits ${sum((r) => r.checks.commits)}, applies ${sum((r) => r.checks.applies)}, new leaders ${sum((r) => r.checks.leaders)}, pairwise log scans ${sum((r) => r.checks.pairwise)}`,
  ];
  if (reports.some((r) => r.watch !== undefined)) {
    lines.push(`watch: ${sum((r) => r.watch!.streams)} streams (${sum((r) => r.watch!.resumes)} resumed), ${sum((r) => r.watch!.events)} events, ${sum((r) => r.watch!.progressNotifications)} progress notifications, ${sum((r) => r.watch!.compactionCancels)} compaction cancels (${sum((r) => r.watch!.compactions)} compactions); lag from first apply to delivery p50 ${median((r) => r.watch!.lagP50)} p99 ${median((r) => r.watch!.lagP99)} units (median seed), max ${max((r) => r.watch!.lagMax)}`);
  }
  if (reports.some((r) => r.lease !== undefined)) {
    lines.push(`lease: ${sum((r) => r.lease!.granted)} granted, ${sum((r) => r.lease!.revokedByClients)} revoked, ${sum((r) => r.lease!.expired)} expired; keep-alives ${sum((r) => r.lease!.keepAlivesSent)} sent, ${sum((r) => r.lease!.keepAlivesAcked)} acked, ${sum((r) => r.lease!.keepAlivesRefused)} refused; expiry after floor + TTL p50 ${median((r) => r.lease!.expiryLagP50)} p99 ${median((r) => r.lease!.expiryLagP99)} units (median seed); least slack over the bound ${Math.min(...reports.map((r) => r.lease!.minSlack)).toFixed(1)} units`);
  }
  lines.push(`faults ${[...faults.entries()].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push(`seeds with a violation ${failed} (checked: ${checkedProperties(reports)})`);
  if (reports.length === 1) lines.push(`seed ${reports[0]!.seed} trace hash ${reports[0]!.traceHash} config ${JSON.stringify(reports[0]!.config)}`);
  return lines;
}

/** The classes of violation the runs checked for (every one of them found none). */
export function checkedProperties(reports: readonly SimReport[]): string {
  const classes = ['raft: election safety, log matching, leader completeness, state machine safety, durability, monotonicity, liveness', 'linearizability'];
  if (reports.some((r) => r.watch !== undefined)) classes.push('watch: ordered unique reliable atomic resumable bookmarkable consistent prev-values compaction-cancels liveness');
  if (reports.some((r) => r.lease !== undefined)) classes.push('lease: early expiry, one revision, orphan keys, puts on ended leases, lease tables');
  if (reports.some((r) => r.stores === 'real')) classes.push('HashKV equal on every member');
  return classes.join('; ');
}
