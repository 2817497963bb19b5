import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededPrng } from '../../src/server/raft/prng.js';
import type { KeyValue } from '../support/lincheck/etcd-model.js';
import { waitFor } from '../support/procs.js';
import { RobustCluster, type ClusterSettings } from './cluster.js';
import type { FaultContext, Scenario } from './faults.js';
import { Probes } from './probes.js';
import { Traffic, type AckedWrite, type TrafficSettings } from './traffic.js';
import { validate, violationCount, type MemberFinal, type ValidationReport } from './validate.js';
import { WatchRecorder, type WatchSettings } from './watches.js';

/**
 * One robustness session (etcd's tests/robustness procedure): start a
 * cluster, start recorded traffic and watches, inject the scenarios' faults
 * one after another (each once, or in turns until the duration is spent),
 * waiting after each until every member serves again and traffic flowed,
 * then stop, collect every member's final state, and validate.
 */
export interface SessionSettings {
  name: string;
  scenarios: Scenario[];
  /** Keep injecting (in turns) until this much time has passed; every scenario runs at least once. */
  durationMs: number;
  /** Writes acknowledged after a recovery before the next fault (traffic before and after each fault). */
  writesBetweenFaults: number;
  /** When set, each fault comes this long after the one before it (the chaos run: a kill every 5 s). */
  faultIntervalMs?: number;
  cluster: ClusterSettings;
  traffic: TrafficSettings;
  watches: WatchSettings;
  checkerTimeoutMs: number;
  log(line: string): void;
}

export interface FaultRecord {
  scenario: string;
  member?: string;
  fired: boolean;
  detail?: string;
  /** The fault could not be injected (a harness failure, reported as such). */
  error?: string;
  injectedAt: number;
  /** Every member served a linearizable read again. */
  recoveredAt: number;
  /** Share of the 1 s windows from injection to recovery with a successful write. */
  availability: number;
  /** From injection to the first successful write sent after it. */
  firstWriteMs: number | undefined;
}

export interface SessionReport {
  name: string;
  wallMs: number;
  faults: FaultRecord[];
  traffic: { requests: number; writesAcknowledged: number; leases: number; watchStreams: number; watchEvents: number; probeSamples: number };
  crashes: { member: string; exit: number | string; armed: string }[];
  validation: ValidationReport;
}

const warmupWrites = 20;
const healthyMs = 90_000;

export async function runSession(settings: SessionSettings): Promise<SessionReport> {
  const started = performance.now();
  const cluster = await RobustCluster.start(settings.cluster);
  try {
    await cluster.waitHealthy(healthyMs);
    const traffic = new Traffic(() => cluster.endpoints(), settings.traffic);
    const watches = new WatchRecorder(() => cluster.endpoints(), () => traffic.latestRevision, settings.watches);
    const probes = new Probes(cluster);
    const ctx: FaultContext = { cluster, traffic, watches, prng: new SeededPrng(settings.traffic.seed + 13), log: settings.log };
    probes.start();
    traffic.start();
    watches.start();
    await waitFor('traffic to warm up', () => traffic.acked.length >= warmupWrites, 60_000);
    const faults = await injectAll(settings, ctx);
    await traffic.stop();
    const finals = await settle(cluster, traffic, watches, settings);
    await watches.stop();
    probes.stop();
    settings.log(`${settings.name}: validating ${traffic.recorder.operations().length} operations`);
    const validation = validate({
      operations: traffic.recorder.operations(),
      streams: watches.streams(),
      chains: watches.chainLinks(),
      fullWatch: { events: watches.fullHistory(), complete: watches.fullWatchComplete() },
      finals,
      leases: traffic.leases,
      probeViolations: probes.violations.map((v) => `${v.member}: ${v.message}`),
      unexpectedCrashes: cluster.crashes.filter((c) => !c.armed.includes('panic')).map((c) => `${c.member} exited (${c.exit}) with no failpoint armed:\n${c.outputTail}`),
      checkerTimeoutMs: settings.checkerTimeoutMs,
    });
    if (violationCount(validation) > 0) {
      const dir = dumpHistory(settings.name, { operations: traffic.recorder.operations(), streams: watches.streams(), chains: watches.chainLinks(), leases: traffic.leases, finals, crashes: cluster.crashes });
      settings.log(`${settings.name}: the history and final states are in ${dir}`);
    }
    return {
      name: settings.name,
      wallMs: performance.now() - started,
      faults: faults.map((f) => ({ ...f, ...figures(f, traffic.acked) })),
      traffic: {
        requests: traffic.recorder.operations().length,
        writesAcknowledged: traffic.acked.length,
        leases: traffic.leases.length,
        watchStreams: watches.streams().length,
        watchEvents: watches.streams().reduce((n, s) => n + s.responses.reduce((m, r) => m + r.events.length, 0), 0),
        probeSamples: probes.samples,
      },
      crashes: cluster.crashes.map((c) => ({ member: c.member, exit: c.exit, armed: c.armed })),
      validation,
    };
  } finally {
    await cluster.close();
  }
}

type Injected = Omit<FaultRecord, 'availability' | 'firstWriteMs'>;

async function injectAll(settings: SessionSettings, ctx: FaultContext): Promise<Injected[]> {
  const faults: Injected[] = [];
  const begin = performance.now();
  for (let i = 0; i < settings.scenarios.length || performance.now() - begin < settings.durationMs; i++) {
    const scenario = settings.scenarios[i % settings.scenarios.length]!;
    await ctx.cluster.waitHealthy(healthyMs);
    const injectedAt = performance.now();
    let record: Injected;
    try {
      const outcome = await scenario.inject(ctx);
      record = { scenario: scenario.name, ...outcome, injectedAt, recoveredAt: 0 };
    } catch (err) {
      record = { scenario: scenario.name, fired: false, error: (err as Error).message, injectedAt, recoveredAt: 0 };
    }
    await ctx.cluster.waitHealthy(healthyMs);
    record.recoveredAt = performance.now();
    faults.push(record);
    settings.log(`${settings.name}: ${scenario.name}${record.member ? ` on ${record.member}` : ''}: ${record.error ?? (record.fired ? 'fired' : 'did NOT fire')}${record.detail ? ` (${record.detail})` : ''}, recovered in ${(record.recoveredAt - injectedAt).toFixed(0)} ms`);
    const recovered = record.recoveredAt;
    await waitFor('traffic after the fault', () => countSince(ctx.traffic.acked, recovered) >= settings.writesBetweenFaults, healthyMs);
    const next = injectedAt + (settings.faultIntervalMs ?? 0);
    if (performance.now() < next) await new Promise((resolve) => setTimeout(resolve, next - performance.now()));
  }
  return faults;
}

/**
 * After traffic stopped: every lease gone, every member at the same revision,
 * the full watch caught up with it. Returns every member's final state.
 */
async function settle(cluster: RobustCluster, traffic: Traffic, watches: WatchRecorder, settings: SessionSettings): Promise<MemberFinal[]> {
  const leaseGoneMs = settings.traffic.leaseTtlSeconds * 1000 + 30_000;
  const anyMember = await cluster.clientOf(cluster.live()[0]!.name);
  await waitFor('every lease to be revoked or to expire', async () => (await anyMember.lease.leases({ timeoutMs: 2000 })).leases.length === 0, leaseGoneMs, 200);
  let last = '';
  const revision = await waitFor('every member to reach the same revision', async () => {
    const revisions = await Promise.all(cluster.live().map(async (m) => (await (await cluster.clientOf(m.name)).kv.get('settle', { serializable: true, timeoutMs: 2000 })).header!.revision));
    const same = revisions.every((r) => r === revisions[0]);
    const key = revisions.join(',');
    const stable = same && key === last;
    last = key;
    return stable ? Number(revisions[0]) : undefined;
  }, 60_000, 300);
  const read = await traffic.finalRead();
  if (read !== revision) throw new Error(`the final read saw revision ${read}, the settled members ${revision}: something still writes`);
  await waitFor(`the full watch to reach revision ${revision}`, () => watches.fullWatchAt() >= revision || !watches.fullWatchComplete(), 60_000, 100);
  return Promise.all(cluster.live().map(async (m) => {
    const client = await cluster.clientOf(m.name);
    const all = await client.kv.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), serializable: true }, { timeoutMs: 30_000 });
    const hash = await client.maintenance.hashKV(BigInt(revision), { timeoutMs: 30_000 });
    const kvs = new Map<string, KeyValue>(all.kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), modRevision: Number(kv.modRevision), createRevision: Number(kv.createRevision), version: Number(kv.version) }]));
    return { name: m.name, revision: Number(all.header!.revision), kvs, hash: hash.hash, hashRevision: revision };
  }));
}

/** Acknowledged writes sent at or after `since` (acked is in acknowledgement order: scan from the end). */
function countSince(acked: readonly AckedWrite[], since: number): number {
  let n = 0;
  for (let i = acked.length - 1; i >= 0 && acked[i]!.return >= since; i--) if (acked[i]!.call >= since) n++;
  return n;
}

/** Availability and time to the first write, from the successful writes around one fault. */
function figures(fault: Injected, acked: readonly AckedWrite[]): Pick<FaultRecord, 'availability' | 'firstWriteMs'> {
  const end = Math.max(fault.recoveredAt, fault.injectedAt + 1000);
  const windows = Math.ceil((end - fault.injectedAt) / 1000);
  const served = new Set<number>();
  let first: number | undefined;
  for (const w of acked) {
    if (w.return >= fault.injectedAt && w.return < end) served.add(Math.floor((w.return - fault.injectedAt) / 1000));
    if (w.call >= fault.injectedAt && (first === undefined || w.return < first)) first = w.return;
  }
  return { availability: served.size / windows, firstWriteMs: first === undefined ? undefined : first - fault.injectedAt };
}

/**
 * Saves what a failed session recorded (etcd's robustness suite keeps the same: every
 * client's operations, every watch response, the members' final states) so that the
 * validation can be replayed and studied without running the cluster again.
 */
function dumpHistory(name: string, parts: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), `robustness-${name.replace(/\W+/g, '-')}-`));
  const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v === Infinity ? 'Infinity' : v));
  for (const [part, value] of Object.entries(parts)) writeFileSync(join(dir, `${part}.json`), json(value));
  return dir;
}
