import type { CallDone, Caller } from './connection.js';

/**
 * Closed-loop load: `clients` independent clients, each sending its next
 * request as soon as the previous one returns, client c on connection
 * c % conns (etcd's benchmark shares conns among clients the same way).
 *
 * Warm-up and measurement are one continuous run, so the measured window
 * starts with every client already busy: requests issued before the warm-up
 * ends are not recorded; the window opens when request number
 * `warmupRequests` is issued after `warmupMs` have passed, and closes after
 * `total` measured requests (or `durationMs`) have been issued and have all
 * returned. Latencies of successful calls are kept one by one (milliseconds
 * in a Float64Array) so that percentiles are exact.
 */

export interface LoadOptions {
  clients: number;
  /** Measured requests to issue; exactly one of total and durationMs. */
  total?: number;
  durationMs?: number;
  warmupRequests?: number;
  warmupMs?: number;
  /** Request i of the workload is the (offset + i * stride)-th, so that worker threads do not repeat keys. */
  indexOffset?: number;
  indexStride?: number;
}

export interface LoadResult {
  /** Latencies of the successful measured calls in ms; length == successes. */
  latenciesMs: Float64Array;
  /** Failed measured calls, by error message. */
  errors: Record<string, number>;
  /** From the start of the measured window to the return of its last call. */
  elapsedMs: number;
  /** CPU time of this process (every thread) during the measured window. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Calls that returned, warm-up included. */
  completedAll: number;
}

const initialSamples = 1 << 16;

/** A growable array of latencies (ms), handed over as one Float64Array at the end. */
export class SampleBuffer {
  private samples: Float64Array;
  length = 0;

  constructor(capacity: number) {
    this.samples = new Float64Array(Math.max(1, capacity));
  }

  push(value: number): void {
    if (this.length === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.length++] = value;
  }

  take(): Float64Array {
    return this.samples.subarray(0, this.length);
  }
}

export function runClosedLoop<W>(connections: Caller<W>[], workload: W, options: LoadOptions): Promise<LoadResult> {
  validate(connections, options);
  return new Promise((resolve) => new LoadRun(connections, workload, options, resolve).start());
}

function validate<W>(connections: Caller<W>[], options: LoadOptions): void {
  if (connections.length === 0) throw new RangeError('no connections');
  if (!Number.isInteger(options.clients) || options.clients < 1) throw new RangeError('clients must be a positive integer');
  if ((options.total === undefined) === (options.durationMs === undefined)) throw new RangeError('give exactly one of total and durationMs');
  if (options.total !== undefined && !(Number.isInteger(options.total) && options.total >= 1)) throw new RangeError('total must be a positive integer');
  if (options.durationMs !== undefined && !(options.durationMs > 0)) throw new RangeError('duration must be positive');
}

class LoadRun<W> {
  private nextIndex = 0;
  private measuring = false;
  private measuredFrom = 0;
  private windowStartMs = 0;
  private deadlineMs = Infinity;
  private lastDoneMs = 0;
  private active = 0;
  private completedAll = 0;
  private cpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private readonly startedMs: Float64Array;
  private readonly measured: Uint8Array;
  private readonly dones: CallDone[];
  private readonly samples: SampleBuffer;
  private readonly errors: Record<string, number> = {};
  private readonly runStartMs = performance.now();
  private readonly offset: number;
  private readonly stride: number;

  constructor(
    private readonly connections: Caller<W>[],
    private readonly workload: W,
    private readonly options: LoadOptions,
    private readonly resolve: (result: LoadResult) => void,
  ) {
    const clients = options.clients;
    this.startedMs = new Float64Array(clients);
    this.measured = new Uint8Array(clients);
    this.samples = new SampleBuffer(options.total ?? initialSamples);
    this.offset = options.indexOffset ?? 0;
    this.stride = options.indexStride ?? 1;
    // One completion callback per client, made once: nothing is allocated per request here.
    this.dones = Array.from({ length: clients }, (_, c) => (err: Error | null) => this.completed(c, err));
  }

  start(): void {
    for (let c = 0; c < this.options.clients; c++) {
      this.active++;
      this.issue(c);
    }
  }

  private issue(c: number): void {
    const now = performance.now();
    if (!this.measuring) this.maybeOpenWindow(now);
    if (this.measuring && this.windowFull(now)) {
      if (--this.active === 0) this.finish();
      return;
    }
    const i = this.nextIndex++;
    this.measured[c] = this.measuring ? 1 : 0;
    this.startedMs[c] = now;
    this.connections[c % this.connections.length].call(this.workload, this.offset + i * this.stride, this.dones[c]);
  }

  private maybeOpenWindow(now: number): void {
    if (this.nextIndex < (this.options.warmupRequests ?? 0)) return;
    if (now - this.runStartMs < (this.options.warmupMs ?? 0)) return;
    this.measuring = true;
    this.measuredFrom = this.nextIndex;
    this.windowStartMs = now;
    this.lastDoneMs = now;
    if (this.options.durationMs !== undefined) this.deadlineMs = now + this.options.durationMs;
    this.cpuAtStart = process.cpuUsage();
  }

  private windowFull(now: number): boolean {
    if (this.options.total !== undefined) return this.nextIndex - this.measuredFrom >= this.options.total;
    return now >= this.deadlineMs;
  }

  private completed(c: number, err: Error | null): void {
    this.completedAll++;
    if (this.measured[c] === 1) {
      const now = performance.now();
      this.lastDoneMs = now;
      if (err === null) this.samples.push(now - this.startedMs[c]);
      else this.errors[err.message] = (this.errors[err.message] ?? 0) + 1;
    }
    this.issue(c);
  }

  private finish(): void {
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.resolve({
      latenciesMs: this.samples.take(),
      errors: this.errors,
      elapsedMs: this.lastDoneMs - this.windowStartMs,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      completedAll: this.completedAll,
    });
  }
}
