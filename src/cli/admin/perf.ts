import { randomBytes } from 'node:crypto';
import type { Client } from '../../client/client.js';
import type { ClientOptions } from '../../client/options.js';
import { CliError, ExitCode } from '../errors.js';
import { goQuote } from '../go/quote.js';
import { goFloat6 } from './go-format.js';

/**
 * `check perf` and `check datascale`: etcdctl's workloads (check.go), its
 * load levels and its PASS/FAIL lines, word for word. The load generator
 * is ours: a fixed number of concurrent workers sharing a few connections
 * (gRPC multiplexes; etcdctl opens one connection per worker), paced by a
 * token bucket for `perf` and unpaced for `datascale`.
 */
export interface PerfLoad {
  /** Writes per second. */
  limit: number;
  clients: number;
  durationSec: number;
}

export const perfLoads: Record<string, PerfLoad> = {
  s: { limit: 150, clients: 50, durationSec: 60 },
  m: { limit: 1000, clients: 200, durationSec: 60 },
  l: { limit: 8000, clients: 500, durationSec: 60 },
  xl: { limit: 15000, clients: 1000, durationSec: 60 },
};

export interface DatascaleLoad {
  /** Keys written. */
  limit: number;
  kvSize: number;
  clients: number;
}

export const datascaleLoads: Record<string, DatascaleLoad> = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
};

const loadAliases: Record<string, string> = { s: 's', small: 's', m: 'm', medium: 'm', l: 'l', large: 'l', xl: 'xl', xLarge: 'xl' };

/** The load level for --load, or etcdctl's "unknown load option" (exit 4). */
export function loadModel(name: string): string {
  const model = loadAliases[name];
  if (model === undefined) throw new CliError(`unknown load option ${name}`, ExitCode.badFeature);
  return model;
}

/** Refuses to run over existing keys (etcdctl's check, exit 3): the check deletes its prefix afterwards. */
export async function requireEmptyPrefix(client: Client, prefix: string, timeoutMs: number): Promise<void> {
  const { kvs } = await client.kv.get(prefix, { prefix: true, limit: 1n, timeoutMs });
  if (kvs.length > 0) {
    throw new CliError(`prefix ${goQuote(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`, ExitCode.invalidInput);
  }
}

/**
 * etcdctl's key: `prefix` followed by `keyBytes` bytes, zero but for a
 * varint of a random 63-bit number at the start (binary.PutVarint), so keys
 * are distinct and long.
 */
export function randomKey(prefix: string, keyBytes: number): Buffer {
  const key = Buffer.alloc(keyBytes);
  let zigzag = (randomBytes(8).readBigUInt64BE() >> 1n) << 1n;
  let i = 0;
  while (zigzag >= 0x80n && i < keyBytes) {
    key[i++] = Number(zigzag & 0x7fn) | 0x80;
    zigzag >>= 7n;
  }
  if (i < keyBytes) key[i] = Number(zigzag);
  return Buffer.concat([Buffer.from(prefix), key]);
}

export interface Stats {
  /** Latencies of successful requests, seconds. */
  latencies: number[];
  errors: Map<string, number>;
  totalSec: number;
  rps: number;
  slowest: number;
  stddev: number;
}

export function summarize(latencies: number[], errors: Map<string, number>, totalSec: number): Stats {
  const n = latencies.length;
  const average = n === 0 ? 0 : latencies.reduce((a, b) => a + b, 0) / n;
  const variance = n === 0 ? NaN : latencies.reduce((sum, l) => sum + (l - average) ** 2, 0) / n;
  let slowest = 0;
  for (const l of latencies) if (l > slowest) slowest = l;
  return { latencies, errors, totalSec, rps: n / totalSec, slowest, stddev: Math.sqrt(variance) };
}

export interface LoadRun {
  /** Number of concurrent workers. */
  workers: number;
  /** Requests to send (unbounded when undefined). */
  count?: number;
  /** Stop issuing at this time (Date.now() milliseconds). */
  until?: number;
  /** Requests per second; unpaced when undefined. */
  ratePerSec?: number;
  send: (client: Client) => Promise<unknown>;
  onResult?: () => void;
}

/** Runs a load over `clients` and measures it (the whole run's duration, as etcd's report does). */
export async function runLoad(clients: readonly Client[], run: LoadRun): Promise<Stats> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const started = performance.now();
  let issued = 0;
  const pace = run.ratePerSec === undefined ? undefined : 1000 / run.ratePerSec;
  const timeLeft = (): boolean => run.until === undefined || Date.now() < run.until;
  const more = (): boolean => (run.count === undefined || issued < run.count) && timeLeft();
  const worker = async (index: number): Promise<void> => {
    const client = clients[index % clients.length]!;
    while (more()) {
      const slot = issued++;
      if (pace !== undefined) {
        // A token bucket with a burst of one: request n goes out n/rate seconds after the start.
        const wait = started + slot * pace - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!timeLeft()) break;
      }
      const t0 = performance.now();
      try {
        await run.send(client);
        latencies.push((performance.now() - t0) / 1000);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        errors.set(message, (errors.get(message) ?? 0) + 1);
      }
      run.onResult?.();
    }
  };
  await Promise.all(Array.from({ length: run.workers }, (_, i) => worker(i)));
  return summarize(latencies, errors, (performance.now() - started) / 1000);
}

/** etcdctl's verdict lines for `check perf`; the boolean says PASS. */
export function perfVerdict(stats: Stats, load: PerfLoad): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  if (stats.errors.size !== 0) {
    lines.push('FAIL: too many errors');
    for (const [message, count] of stats.errors) lines.push(`FAIL: ERROR(${message}) -> ${count}`);
    ok = false;
  }
  const writes = Math.trunc(stats.rps) + 1;
  if (stats.rps / load.limit <= 0.9) {
    lines.push(`FAIL: Throughput too low: ${writes} writes/s`);
    ok = false;
  } else {
    lines.push(`PASS: Throughput is ${writes} writes/s`);
  }
  if (stats.slowest > 0.5) {
    lines.push(`Slowest request took too long: ${goFloat6(stats.slowest)}s`);
    ok = false;
  } else {
    lines.push(`PASS: Slowest request took ${goFloat6(stats.slowest)}s`);
  }
  if (stats.stddev > 0.1) {
    lines.push(`Stddev too high: ${goFloat6(stats.stddev)}s`);
    ok = false;
  } else {
    lines.push(`PASS: Stddev is ${goFloat6(stats.stddev)}s`);
  }
  lines.push(ok ? 'PASS' : 'FAIL');
  return { lines, ok };
}

/** Latency percentiles for the summary etcdctl does not print (stderr only). */
export function percentileLine(latencies: readonly number[]): string {
  if (latencies.length === 0) return 'no successful requests';
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number): string => `${(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 1000).toFixed(1)}ms`;
  return `latency p50 ${at(50)}, p90 ${at(90)}, p99 ${at(99)}, max ${at(100)} over ${latencies.length} requests`;
}

/** process_resident_memory_bytes from an endpoint's /metrics, 0 when it cannot be read (etcdctl's endpointMemoryMetrics). */
export async function residentMemoryBytes(endpoint: string, report: (line: string) => void): Promise<number> {
  const base = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  const url = `${base}/metrics`;
  let text: string;
  try {
    text = await (await fetch(url)).text();
  } catch (err) {
    report(`fetch error: ${(err as Error).message}`);
    return 0;
  }
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes'));
  if (line === undefined) {
    report('could not find: process_resident_memory_bytes');
    return 0;
  }
  const value = Number.parseFloat(line.slice('process_resident_memory_bytes'.length).trim());
  if (Number.isNaN(value)) {
    report(`parse error: ${line}`);
    return 0;
  }
  return value;
}

export interface CleanUp {
  prefix: string;
  autoCompact: boolean;
  autoDefrag: boolean;
  /** The endpoints to defragment. */
  endpoints: readonly string[];
  out: (line: string) => void;
}

/**
 * What etcdctl does after a check: delete the check's keys, then optionally
 * compact at that revision (physically) and defragment every endpoint, with
 * its progress lines. Failures end the command (exit 1), as in etcdctl.
 */
export async function cleanUpAfterCheck(client: Client, c: CleanUp): Promise<void> {
  const deleted = await client.kv.delete(c.prefix, { prefix: true, timeoutMs: 30_000 });
  if (c.autoCompact) {
    const revision = deleted.header?.revision ?? 0n;
    c.out(`Compacting with revision ${revision}`);
    await client.kv.compact(revision, { physical: true, timeoutMs: 30_000 });
    c.out(`Compacted with revision ${revision}`);
  }
  if (c.autoDefrag) {
    for (const endpoint of c.endpoints) {
      c.out(`Defragmenting ${goQuote(endpoint)}`);
      await client.maintenance.defragment({ endpoint, timeoutMs: 30_000 });
      c.out(`Defragmented ${goQuote(endpoint)}`);
    }
  }
}

/** Opens `count` connections (at most `connectionsMax`) to the same endpoints; gRPC multiplexes the workers over them. */
export async function openClients(options: ClientOptions, workers: number): Promise<Client[]> {
  const { Client } = await import('../../client/client.js');
  const count = Math.max(1, Math.min(workers, connectionsMax));
  const clients: Client[] = [];
  try {
    for (let i = 0; i < count; i++) clients.push(await Client.connect(options));
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }
  return clients;
}

const connectionsMax = 8;
