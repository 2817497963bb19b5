import { Worker } from 'node:worker_threads';
import { runClosedLoop, type LoadOptions, type LoadResult } from './closed-loop.js';
import { openConnections, type TransportKind } from './connection.js';
import { summarize, type LatencyStats } from './report.js';
import { createWorkload, type WorkloadSpec } from './workload.js';
import type { WorkerInput, WorkerMessage } from './worker-main.js';

/**
 * One benchmark run: open the connections, drive the closed-loop clients in
 * this thread (workers = 0) or split over worker threads, and summarise.
 */

export interface BenchmarkOptions {
  endpoints: string[];
  conns: number;
  clients: number;
  transport: TransportKind;
  /** 0: generate load in the calling thread; n: in n worker threads, clients and conns split evenly. */
  workers: number;
  workload: WorkloadSpec;
  total?: number;
  durationMs?: number;
  warmupRequests?: number;
  warmupMs?: number;
}

export interface BenchmarkResult {
  stats: LatencyStats;
  /** Every successful call's latency in ms, ascending. */
  latenciesMs: Float64Array;
  /** Calls that returned, warm-up included (to charge a server's CPU time per call). */
  completedAll: number;
}

export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  if (!Number.isInteger(options.conns) || options.conns < 1) throw new RangeError('conns must be a positive integer');
  if (!Number.isInteger(options.workers) || options.workers < 0) throw new RangeError('workers must be a non-negative integer');
  const raw = options.workers === 0 ? await runInThread(options) : await runInWorkers(options);
  const stats = summarize(raw);
  return { stats, latenciesMs: raw.latenciesMs, completedAll: raw.completedAll };
}

/**
 * Combines runs of the same load against the same server (e.g. time slices
 * interleaved with another server's, so both see the same machine load) as
 * if they were one run: samples pooled, times and CPU added.
 */
export function mergeResults(results: BenchmarkResult[]): BenchmarkResult {
  if (results.length === 0) throw new RangeError('nothing to merge');
  const length = results.reduce((n, r) => n + r.latenciesMs.length, 0);
  const latenciesMs = new Float64Array(length);
  const errors: Record<string, number> = {};
  let offset = 0;
  let elapsedMs = 0;
  let cpuUs = 0;
  for (const r of results) {
    latenciesMs.set(r.latenciesMs, offset);
    offset += r.latenciesMs.length;
    elapsedMs += r.stats.elapsedMs;
    if (r.stats.count > 0) cpuUs += r.stats.clientCpuUsPerRequest * r.stats.count;
    for (const [message, count] of Object.entries(r.stats.errors)) errors[message] = (errors[message] ?? 0) + count;
  }
  const completedAll = results.reduce((n, r) => n + r.completedAll, 0);
  const stats = summarize({ latenciesMs, errors, elapsedMs, cpuUserUs: cpuUs, cpuSystemUs: 0 });
  return { stats, latenciesMs, completedAll };
}

function loadOptions(options: BenchmarkOptions): LoadOptions {
  return {
    clients: options.clients,
    total: options.total,
    durationMs: options.durationMs,
    warmupRequests: options.warmupRequests,
    warmupMs: options.warmupMs,
  };
}

async function runInThread(options: BenchmarkOptions): Promise<LoadResult> {
  const workload = createWorkload(options.workload);
  const connections = await openConnections(options.transport, options.endpoints, options.conns);
  try {
    return await runClosedLoop(connections, workload, loadOptions(options));
  } finally {
    await Promise.all(connections.map((c) => c.close()));
  }
}

/** The share of `n` that worker `w` of `workers` gets (the first ones get one more). */
function share(n: number, w: number, workers: number): number {
  return Math.floor(n / workers) + (w < n % workers ? 1 : 0);
}

function workerInputs(options: BenchmarkOptions): WorkerInput[] {
  const workers = Math.min(options.workers, options.clients);
  const inputs: WorkerInput[] = [];
  let connOffset = 0;
  for (let w = 0; w < workers; w++) {
    const clients = share(options.clients, w, workers);
    const conns = Math.max(1, Math.min(clients, share(options.conns, w, workers)));
    // Keep the global round-robin of connections over endpoints.
    const endpoints = options.endpoints.map((_, e) => options.endpoints[(connOffset + e) % options.endpoints.length]);
    connOffset += conns;
    const load: LoadOptions = {
      ...loadOptions(options),
      clients,
      total: options.total === undefined ? undefined : Math.max(1, share(options.total, w, workers)),
      warmupRequests: options.warmupRequests === undefined ? undefined : share(options.warmupRequests, w, workers),
      indexOffset: w,
      indexStride: workers,
    };
    inputs.push({ endpoints, conns, transport: options.transport, workload: options.workload, load });
  }
  return inputs;
}

interface StartedWorker {
  worker: Worker;
  result: Promise<Extract<WorkerMessage, { type: 'result' }>>;
}

async function startWorker(input: WorkerInput): Promise<StartedWorker> {
  const worker = new Worker(new URL('./worker-main.js', import.meta.url), { workerData: input });
  let ready!: () => void;
  let fail!: (err: Error) => void;
  const readiness = new Promise<void>((resolve, reject) => ((ready = resolve), (fail = reject)));
  const result = new Promise<Extract<WorkerMessage, { type: 'result' }>>((resolve, reject) => {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') ready();
      else if (message.type === 'failed') fail(new Error(message.message));
      else resolve(message);
    });
    worker.on('error', (err) => (fail(err), reject(err)));
    worker.on('exit', (code) => {
      const err = new Error(`load worker exited with code ${code}`);
      fail(err);
      reject(err);
    });
  });
  result.catch(() => {}); // observed through readiness or the final await
  await readiness;
  return { worker, result };
}

async function runInWorkers(options: BenchmarkOptions): Promise<LoadResult> {
  const started: StartedWorker[] = [];
  try {
    for (const input of workerInputs(options)) started.push(await startWorker(input));
    const cpuBefore = process.cpuUsage();
    for (const s of started) s.worker.postMessage('start');
    const results = await Promise.all(started.map((s) => s.result));
    const cpu = process.cpuUsage(cpuBefore);
    return mergeWorkerResults(results, cpu);
  } finally {
    await Promise.all(started.map((s) => s.worker.terminate()));
  }
}

/**
 * Worker threads share the process's CPU counters, so client CPU is measured
 * over the whole run here and charged to the measured calls pro rata.
 */
function mergeWorkerResults(results: Extract<WorkerMessage, { type: 'result' }>[], cpu: NodeJS.CpuUsage): LoadResult {
  const length = results.reduce((n, r) => n + r.latenciesMs.length, 0);
  const latenciesMs = new Float64Array(length);
  let offset = 0;
  const errors: Record<string, number> = {};
  let completedAll = 0;
  let measured = 0;
  for (const r of results) {
    latenciesMs.set(r.latenciesMs, offset);
    offset += r.latenciesMs.length;
    for (const [message, count] of Object.entries(r.errors)) errors[message] = (errors[message] ?? 0) + count;
    completedAll += r.completedAll;
    measured += r.latenciesMs.length + Object.values(r.errors).reduce((a, b) => a + b, 0);
  }
  const measuredShare = completedAll > 0 ? measured / completedAll : 0;
  return {
    latenciesMs,
    errors,
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    cpuUserUs: cpu.user * measuredShare,
    cpuSystemUs: cpu.system * measuredShare,
    completedAll,
  };
}
