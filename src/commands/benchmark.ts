import { Args, Command, Flags } from '@oclif/core';
import { transportKinds, type TransportKind } from '../benchmark/connection.js';
import { formatSummary } from '../benchmark/report.js';
import type { BenchmarkResult } from '../benchmark/run-benchmark.js';
import type { Operation, WorkloadSpec } from '../benchmark/workload.js';

/**
 * `etcdts benchmark put|range|mixed`: etcd's benchmark tool (tools/benchmark)
 * for any etcd v3 endpoint, with its flag names and its summary. Only light
 * modules load up front; the load generator and its transports are imported
 * once the flags are known to be valid.
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

export default class Benchmark extends Command {
  static override summary = 'Benchmarks an etcd v3 cluster: put, range or a mix, from closed-loop gRPC clients';
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

The load generator speaks gRPC over its own HTTP/2 framing by default
(--transport frames), the cheapest client found: on a small machine the
client competes with the server for CPU, so the summary also shows what the
client itself cost per request.`;
  static override examples = [
    '<%= config.bin %> benchmark put --clients 256 --conns 16 --total 100000 --val-size 256 --sequential-keys --key-space-size 100000',
    '<%= config.bin %> benchmark range foo --clients 16 --conns 4 --consistency s --total 50000',
    '<%= config.bin %> benchmark mixed --read-ratio 0.9 --clients 64 --duration 10s -w json',
    '<%= config.bin %> benchmark put --endpoints 10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379 --conns 3 --clients 30',
  ];

  static override args = {
    operation: Args.string({ description: 'put, range or mixed', required: true, options: ['put', 'range', 'mixed'] }),
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
    'key-size': Flags.integer({ description: 'put: key size in bytes', default: 8, min: 1 }),
    'val-size': Flags.integer({ description: 'put: value size in bytes', default: 8, min: 0 }),
    'key-space-size': Flags.integer({ description: 'put: maximum possible keys', default: 1, min: 1 }),
    'sequential-keys': Flags.boolean({ description: 'put: use sequential keys instead of random ones', default: false }),
    consistency: Flags.string({ description: 'range: linearizable (l) or serializable (s)', default: 'l', options: ['l', 's'] }),
    'read-ratio': Flags.string({ description: 'mixed: fraction of requests that are ranges', default: '0.5' }),
    transport: Flags.string({ description: 'how the load generator speaks gRPC', default: 'frames', options: [...transportKinds] }),
    workers: Flags.integer({ description: 'generate the load from this many worker threads (0: the main thread)', default: 0, min: 0 }),
    'write-out': Flags.string({ char: 'w', description: 'output format (simple, json)', default: 'simple', options: ['simple', 'json'] }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Benchmark);
    const operation = args.operation as Operation;
    if (operation === 'range' && args.key === undefined) this.fail('range command needs arguments: <key> [end-range]');
    const readRatio = Number(flags['read-ratio']);
    const workload: WorkloadSpec = {
      operation,
      keySize: flags['key-size'],
      valSize: flags['val-size'],
      keySpaceSize: flags['key-space-size'],
      sequentialKeys: flags['sequential-keys'],
      rangeKey: args.key,
      rangeEnd: args.end,
      serializable: flags.consistency === 's',
      readRatio,
      seed: 1,
    };
    let durationMs: number | undefined;
    let warmupMs: number;
    try {
      durationMs = flags.duration === undefined ? undefined : parseDurationMs(flags.duration);
      warmupMs = parseDurationMs(flags.warmup);
    } catch (err) {
      return this.fail((err as Error).message);
    }
    const { runBenchmark } = await import('../benchmark/run-benchmark.js');
    let result: BenchmarkResult;
    try {
      result = await runBenchmark({
        endpoints: flags.endpoints.split(',').map((e) => e.trim()).filter((e) => e !== ''),
        conns: flags.conns,
        clients: flags.clients,
        transport: flags.transport as TransportKind,
        workers: flags.workers,
        workload,
        total: durationMs === undefined ? flags.total : undefined,
        durationMs,
        warmupMs,
      });
    } catch (err) {
      return this.fail((err as Error).message);
    }
    if (flags['write-out'] === 'json') {
      const { endpoints, conns, clients, transport, workers } = flags;
      process.stdout.write(JSON.stringify({ operation, endpoints: endpoints.split(','), conns, clients, transport, workers, workload, stats: result.stats }) + '\n');
    } else {
      process.stdout.write(formatSummary(result.stats, result.latenciesMs));
      process.stdout.write(`\nClient CPU:\t${result.stats.clientCpuUsPerRequest.toFixed(1)} µs per request (${flags.transport}).\n`);
    }
  }

  /** One etcdctl-style error line and exit code 1. */
  private fail(message: string): never {
    process.stderr.write(`Error: ${message}\n`);
    return this.exit(1);
  }
}
