import { randomBytes } from 'node:crypto';
import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';
import * as Errors from '@oclif/core/errors';
import * as Flags from '@oclif/core/flags';
import type * as Interfaces from '@oclif/core/interfaces';
import { transportKinds, type TransportKind } from '../benchmark/connection.js';
import { formatSummary } from '../benchmark/report.js';
import type { BenchmarkResult } from '../benchmark/run-benchmark.js';
import type { WatchLatencyResult } from '../benchmark/watch-latency.js';
import type { Operation, WorkloadSpec } from '../benchmark/workload.js';

/**
 * `etcdts benchmark put|range|mixed|watch-latency|lease-keepalive`: etcd's
 * benchmark tool (tools/benchmark) for any etcd v3 endpoint, with its flag
 * names and its summary. Only light modules load up front; the load
 * generator and its transports are imported once the flags are known to be
 * valid.
 */

/** Parses a Go-style duration ("10s", "500ms", "1m30s", or plain seconds) into milliseconds. */
export function parseDurationMs(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (m === null) throw new RangeError(`invalid duration "${text}"`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

const operations = ['put', 'range', 'mixed', 'watch-latency', 'lease-keepalive'] as const;
type BenchmarkFlags = Interfaces.InferredFlags<typeof Benchmark.flags>;

export default class Benchmark extends Command {
  static override summary = 'Benchmarks an etcd v3 cluster: put, range, a mix, watch latency or lease keep-alives';
  static override description = `Sends requests from --clients concurrent clients sharing --conns
connections (spread over --endpoints), each client sending its next request
when the previous one returns, and prints throughput and the latency
distribution as etcd's benchmark tool does.

put: keys of --key-size bytes holding the key number as a varint (as etcd's
  benchmark writes them), values of --val-size bytes, over --key-space-size
  keys, sequential or random.
range <key> [end]: reads one key (or [key, end)), linearizable unless
  --consistency=s.
mixed: puts and single-key ranges over the put key space (--read-ratio).
watch-latency: --streams Watch streams (over --conns connections) with
  --watchers-per-stream watchers each on one key (or --prefix); a putter on
  its own connection writes --put-total values at --put-rate puts/s (0: as
  fast as --put-clients closed-loop putters go). Reports the puts' latency
  and, for every event at every watcher, the time from its put's send to its
  arrival; every watcher must see every put once and in order (missed and
  duplicated events are counted). Key and value default to 32 bytes.
lease-keepalive: grants --leases leases (default: one per client), then
  --clients LeaseKeepAlive streams each send a keep-alive as soon as the
  previous one is answered, --total in all; the leases are revoked at the end.

The load generator speaks gRPC over its own HTTP/2 framing by default
(--transport frames), the cheapest client found: on a small machine the
client competes with the server for CPU, so the summary also shows what the
client itself cost per request.`;
  static override examples = [
    '<%= config.bin %> benchmark put --clients 256 --conns 16 --total 100000 --val-size 256 --sequential-keys --key-space-size 100000',
    '<%= config.bin %> benchmark range foo --clients 16 --conns 4 --consistency s --total 50000',
    '<%= config.bin %> benchmark mixed --read-ratio 0.9 --clients 64 --duration 10s -w json',
    '<%= config.bin %> benchmark put --endpoints 10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379 --conns 3 --clients 30',
    '<%= config.bin %> benchmark watch-latency --streams 10 --watchers-per-stream 100 --conns 10 --put-total 1000 --put-rate 100',
    '<%= config.bin %> benchmark watch-latency --streams 10 --watchers-per-stream 10 --put-rate 0 --put-clients 16 --put-total 5000',
    '<%= config.bin %> benchmark lease-keepalive --clients 256 --conns 16 --leases 1000 --total 100000',
  ];

  static override args = {
    operation: Args.string({ description: operations.join(', '), required: true, options: [...operations] }),
    key: Args.string({ description: 'range: the key to read' }),
    end: Args.string({ description: 'range: the end of the range (exclusive)' }),
  };

  static override flags = {
    endpoints: Flags.string({ description: 'gRPC endpoints, comma-separated', default: '127.0.0.1:2379' }),
    conns: Flags.integer({ description: 'total number of gRPC connections', default: 1, min: 1 }),
    clients: Flags.integer({ description: 'total number of concurrent clients', default: 1, min: 1 }),
    total: Flags.integer({ description: 'total number of requests', default: 10000, min: 1 }),
    duration: Flags.string({ description: 'run for this long instead of --total requests (e.g. 10s)' }),
    warmup: Flags.string({ description: 'unmeasured warm-up time before the measured requests (e.g. 2s)', default: '0s' }),
    'key-size': Flags.integer({ description: 'put, watch-latency: key size in bytes [default: 8; watch-latency 32]', min: 1 }),
    'val-size': Flags.integer({ description: 'put, watch-latency: value size in bytes [default: 8; watch-latency 32]', min: 0 }),
    'key-space-size': Flags.integer({ description: 'put: maximum possible keys', default: 1, min: 1 }),
    'sequential-keys': Flags.boolean({ description: 'put: use sequential keys instead of random ones', default: false }),
    consistency: Flags.string({ description: 'range: linearizable (l) or serializable (s)', default: 'l', options: ['l', 's'] }),
    'read-ratio': Flags.string({ description: 'mixed: fraction of requests that are ranges', default: '0.5' }),
    streams: Flags.integer({ description: 'watch-latency: total watch streams', default: 10, min: 1 }),
    'watchers-per-stream': Flags.integer({ description: 'watch-latency: watchers per stream', default: 10, min: 1 }),
    'put-total': Flags.integer({ description: 'watch-latency: total number of puts', default: 1000, min: 2 }),
    'put-rate': Flags.integer({ description: 'watch-latency: puts per second (0: as fast as --put-clients go)', default: 100, min: 0 }),
    'put-clients': Flags.integer({ description: 'watch-latency: closed-loop putters when --put-rate is 0', default: 1, min: 1 }),
    'warmup-puts': Flags.integer({ description: 'watch-latency: leading puts checked but left out of the figures', default: 0, min: 0 }),
    key: Flags.string({ description: 'watch-latency: the key (or prefix) watched and written [default: random, --key-size bytes]' }),
    prefix: Flags.boolean({ description: 'watch-latency: watch --key as a prefix; puts spread over --key-space-size keys under it', default: false }),
    prevkv: Flags.boolean({ description: 'watch-latency: watchers ask for the previous key-value', default: false }),
    leases: Flags.integer({ description: 'lease-keepalive: leases kept alive, round-robin [default: one per client]', min: 1 }),
    'lease-ttl': Flags.integer({ description: 'lease-keepalive: TTL of the leases granted, in seconds', default: 100, min: 1 }),
    transport: Flags.string({ description: 'how the load generator speaks gRPC', default: 'frames', options: [...transportKinds] }),
    workers: Flags.integer({ description: 'generate the load from this many worker threads (0: the main thread)', default: 0, min: 0 }),
    'write-out': Flags.string({ char: 'w', description: 'output format (simple, json)', default: 'simple', options: ['simple', 'json'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Benchmark);
    const operation = args.operation as (typeof operations)[number];
    let durationMs: number | undefined;
    let warmupMs: number;
    try {
      durationMs = flags.duration === undefined ? undefined : parseDurationMs(flags.duration);
      warmupMs = parseDurationMs(flags.warmup);
    } catch (err) {
      return this.fail((err as Error).message);
    }
    const endpoints = flags.endpoints.split(',').map((e) => e.trim()).filter((e) => e !== '');
    try {
      if (operation === 'watch-latency') return await this.watchLatency(flags, endpoints);
      if (operation === 'lease-keepalive') return await this.leaseKeepAlive(flags, endpoints, durationMs, warmupMs);
      return await this.unary(operation, args, flags, endpoints, durationMs, warmupMs);
    } catch (err) {
      if (err instanceof Errors.ExitError) throw err;
      return this.fail((err as Error).message);
    }
  }

  private async unary(operation: Operation, args: { key?: string; end?: string }, flags: BenchmarkFlags, endpoints: string[], durationMs: number | undefined, warmupMs: number): Promise<void> {
    if (operation === 'range' && args.key === undefined) this.fail('range command needs arguments: <key> [end-range]');
    const workload: WorkloadSpec = {
      operation,
      keySize: flags['key-size'] ?? 8,
      valSize: flags['val-size'] ?? 8,
      keySpaceSize: flags['key-space-size'],
      sequentialKeys: flags['sequential-keys'],
      rangeKey: args.key,
      rangeEnd: args.end,
      serializable: flags.consistency === 's',
      readRatio: Number(flags['read-ratio']),
      seed: 1,
    };
    const { runBenchmark } = await import('../benchmark/run-benchmark.js');
    const result = await runBenchmark({
      endpoints,
      conns: flags.conns,
      clients: flags.clients,
      transport: flags.transport as TransportKind,
      workers: flags.workers,
      workload,
      total: durationMs === undefined ? flags.total : undefined,
      durationMs,
      warmupMs,
    });
    const { conns, clients, transport, workers } = flags;
    this.printResult(result, flags, { operation, endpoints, conns, clients, transport, workers, workload });
  }

  private printResult(result: BenchmarkResult, flags: BenchmarkFlags, context: Record<string, unknown>): void {
    if (flags['write-out'] === 'json') {
      process.stdout.write(JSON.stringify({ ...context, stats: result.stats }) + '\n');
      return;
    }
    process.stdout.write(formatSummary(result.stats, result.latenciesMs));
    process.stdout.write(`\nClient CPU:\t${result.stats.clientCpuUsPerRequest.toFixed(1)} µs per request (${flags.transport}).\n`);
  }

  private async watchLatency(flags: BenchmarkFlags, endpoints: string[]): Promise<void> {
    if (flags.transport !== 'frames') this.fail('watch-latency runs on the frames transport only');
    const keySize = flags['key-size'] ?? 32;
    // etcd's tool watches a random key; a printable one reads better in etcdctl and logs.
    const key = Buffer.from(flags.key ?? randomBytes(Math.ceil(keySize / 2)).toString('hex').slice(0, keySize));
    const { runWatchLatency } = await import('../benchmark/watch-latency.js');
    const result = await runWatchLatency({
      endpoints,
      conns: flags.conns,
      streams: flags.streams,
      watchersPerStream: flags['watchers-per-stream'],
      key,
      prefix: flags.prefix,
      keySpaceSize: flags['key-space-size'],
      valSize: flags['val-size'] ?? 32,
      prevKv: flags.prevkv,
      putTotal: flags['put-total'],
      putRate: flags['put-rate'],
      putClients: flags['put-clients'],
      warmupPuts: flags['warmup-puts'],
      settleTimeoutMs: 5000,
    });
    if (flags['write-out'] === 'json') {
      const { eventLatenciesMs: _events, putLatenciesMs: _puts, ...rest } = result;
      process.stdout.write(JSON.stringify({ operation: 'watch-latency', endpoints, key: key.toString(), ...rest }) + '\n');
    } else this.printWatchLatency(result);
    if (result.missed + result.duplicated + result.outOfOrder > 0 || result.watchErrors.length > 0) this.exit(1);
  }

  private printWatchLatency(r: WatchLatencyResult): void {
    process.stdout.write(`\nPut summary:${formatSummary(r.put, r.putLatenciesMs)}`);
    process.stdout.write(`\nWatch events summary (put sent → event received, ${r.watchers} watchers):${formatSummary(r.events, r.eventLatenciesMs)}`);
    process.stdout.write(`\nEvents:\t${r.eventsReceived} of ${r.eventsExpected} received; missed ${r.missed}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}, unexpected ${r.unexpected}.\n`);
    for (const e of r.watchErrors) process.stdout.write(`  ${e}\n`);
    process.stdout.write(`Client CPU:\t${r.events.clientCpuUsPerRequest.toFixed(2)} µs per event (frames).\n`);
  }

  private async leaseKeepAlive(flags: BenchmarkFlags, endpoints: string[], durationMs: number | undefined, warmupMs: number): Promise<void> {
    if (flags.transport !== 'frames') this.fail('lease-keepalive runs on the frames transport only');
    const { grantLeases, revokeLeases, runLeaseKeepAlive } = await import('../benchmark/lease-keepalive.js');
    const leaseIds = await grantLeases(endpoints, flags.leases ?? flags.clients, flags['lease-ttl']);
    try {
      const result = await runLeaseKeepAlive({
        endpoints,
        conns: flags.conns,
        streams: flags.clients,
        depth: 1,
        leaseIds,
        total: durationMs === undefined ? flags.total : undefined,
        durationMs,
        warmupMs,
      });
      const { conns, clients } = flags;
      this.printResult(result, flags, { operation: 'lease-keepalive', endpoints, conns, clients, leases: leaseIds.length });
    } finally {
      await revokeLeases(endpoints, leaseIds);
    }
  }

  /** One etcdctl-style error line and exit code 1. */
  private fail(message: string): never {
    process.stderr.write(`Error: ${message}\n`);
    return this.exit(1);
  }
}
