import { SampleBuffer } from './closed-loop.js';
import { endpointUrl, GrpcCallError } from './connection.js';
import { FramedConnection, type GrpcStream } from './frames-connection.js';
import { grpcFrame, ProtoReader, writeBytesField, bytesFieldLength, writeVarint, varintBytes } from './protobuf.js';
import { summarize, type LatencyStats } from './report.js';
import { encodePutFrame } from './workload.js';

/**
 * Watch latency, after etcd's `benchmark watch-latency`: `streams` Watch
 * streams spread over `conns` connections, `watchersPerStream` watchers on
 * each, all on one key (or prefix); a putter on its own connection writes
 * `putTotal` values to it, at `putRate` puts per second on schedule (open
 * loop) or as fast as `putClients` closed-loop clients go (putRate 0: the
 * fan-out throughput). Each put's value carries its number, so every event
 * a watcher reads names the put it reports; its latency is the time from
 * that put's send to the socket read that brought the event to the watcher
 * (etcd's tool measures from the put's response instead; both are in the
 * result, as event latency and put latency).
 *
 * Every (watcher, put) pair is tracked: an event seen twice is a duplicate,
 * a revision not above the watcher's previous one is out of order, and
 * whatever has not arrived once the puts are answered and the events have
 * stopped for `settleTimeoutMs` is missed. All three must be 0.
 */

export interface WatchLatencyOptions {
  endpoints: string[];
  /** Connections carrying the watch streams (streams round-robin over them); the putter has one more. */
  conns: number;
  streams: number;
  watchersPerStream: number;
  /** The watched key, or with `prefix` the watched prefix, under which puts spread over keySpaceSize keys. */
  key: Buffer;
  prefix: boolean;
  keySpaceSize: number;
  /** Value bytes per put, at least 4 (the put's number). */
  valSize: number;
  prevKv: boolean;
  putTotal: number;
  /** Puts per second, sent on schedule whether or not earlier ones returned; 0: closed loop with putClients. */
  putRate: number;
  putClients: number;
  /** The first puts are delivered and checked but left out of the figures. */
  warmupPuts: number;
  /** After the last put's answer, how long events may stop before the missing ones count as missed. */
  settleTimeoutMs: number;
}

export interface WatchLatencyResult {
  watchers: number;
  puts: number;
  /** put sent → event read, one sample per (measured put, watcher); requestsPerSec is events delivered per second. */
  events: LatencyStats;
  eventLatenciesMs: Float64Array;
  /** The measured puts' own latencies; requestsPerSec is puts per second. */
  put: LatencyStats;
  putLatenciesMs: Float64Array;
  /** Every (put, watcher) pair, warm-up included. */
  eventsExpected: number;
  eventsReceived: number;
  missed: number;
  duplicated: number;
  outOfOrder: number;
  /** Events naming no put of this run, of another type, or for a watcher that does not exist. */
  unexpected: number;
  /** Streams that ended, watchers cancelled by the server. */
  watchErrors: string[];
  setupMs: number;
}

const watchPath = '/etcdserverpb.Watch/Watch';
const putPath = '/etcdserverpb.KV/Put';
const createTimeoutMs = 30_000;
const settlePollMs = 50;
const maxTrackedPairs = 2 ** 30;

export async function runWatchLatency(options: WatchLatencyOptions): Promise<WatchLatencyResult> {
  validate(options);
  const setupStart = performance.now();
  const connections: FramedConnection[] = [];
  const streams: GrpcStream[] = [];
  try {
    // Connection 0 is the putter's; the watch streams go round-robin over the others.
    for (let i = 0; i <= options.conns; i++) connections.push(await FramedConnection.open(endpointUrl(options.endpoints[i % options.endpoints.length])));
    const putConnection = connections[0];
    const tracker = new EventTracker(options);
    await openWatchers(connections.slice(1), options, tracker, streams);
    const setupMs = performance.now() - setupStart;
    const run = new WatchRun(putConnection, options, tracker);
    run.start();
    await run.finished;
    return { ...run.result(), setupMs };
  } finally {
    for (const s of streams) s.cancel();
    await Promise.all(connections.map((c) => c.close()));
  }
}

function validate(o: WatchLatencyOptions): void {
  const positive = (n: number, name: string): void => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`);
  };
  positive(o.conns, 'conns');
  positive(o.streams, 'streams');
  positive(o.watchersPerStream, 'watchers per stream');
  positive(o.putTotal, 'put total');
  positive(o.putClients, 'put clients');
  positive(o.keySpaceSize, 'key space size');
  if (o.endpoints.length === 0) throw new RangeError('no endpoints');
  if (o.key.length === 0) throw new RangeError('the watched key must not be empty');
  if (!Number.isInteger(o.valSize) || o.valSize < 4) throw new RangeError('value size must be at least 4 bytes (the put number)');
  if (!(o.putRate >= 0)) throw new RangeError('put rate must be 0 (as fast as possible) or positive');
  if (!Number.isInteger(o.warmupPuts) || o.warmupPuts < 0 || o.warmupPuts >= o.putTotal) throw new RangeError('warm-up puts must be fewer than the put total');
  if (o.streams * o.watchersPerStream * o.putTotal > maxTrackedPairs) throw new RangeError('watchers × puts too large to track every event');
}

/** The end of the range holding every key with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every byte 0xff: to the end of the keyspace
}

/** WatchRequest { create_request = 1: WatchCreateRequest { key = 1, range_end = 2, prev_kv = 6, watch_id = 7 } }. */
export function encodeWatchCreateFrame(key: Buffer, rangeEnd: Buffer, prevKv: boolean, watchId: number): Buffer {
  const inner = bytesFieldLength(key.length) + (rangeEnd.length > 0 ? bytesFieldLength(rangeEnd.length) : 0)
    + (prevKv ? 2 : 0) + (watchId > 0 ? 1 + varintBytes(watchId) : 0);
  const message = Buffer.alloc(1 + varintBytes(inner) + inner);
  message[0] = 0x0a;
  let o = writeVarint(message, 1, inner);
  o = writeBytesField(message, o, 0x0a, key);
  if (rangeEnd.length > 0) o = writeBytesField(message, o, 0x12, rangeEnd);
  if (prevKv) {
    message[o++] = 0x30;
    message[o++] = 1;
  }
  if (watchId > 0) {
    message[o++] = 0x38;
    o = writeVarint(message, o, watchId);
  }
  if (o !== message.length) throw new Error('watch create frame length mismatch');
  return grpcFrame(message);
}

/** Opens every stream, creates its watchers (client-chosen ids 1..n), and waits until all are created. */
async function openWatchers(connections: FramedConnection[], o: WatchLatencyOptions, tracker: EventTracker, streams: GrpcStream[]): Promise<void> {
  const rangeEnd = o.prefix ? prefixRangeEnd(o.key) : Buffer.alloc(0);
  const creates = Buffer.concat(Array.from({ length: o.watchersPerStream }, (_, j) => encodeWatchCreateFrame(o.key, rangeEnd, o.prevKv, j + 1)));
  let timer: NodeJS.Timeout | undefined;
  const created = new Promise<void>((resolve, reject) => {
    let pending = o.streams;
    tracker.onSetupError = reject;
    for (let s = 0; s < o.streams; s++) {
      const connection = connections[s % connections.length];
      const decoder = new WatchStreamDecoder(tracker, connection, s * o.watchersPerStream, o.watchersPerStream, () => {
        if (--pending === 0) resolve();
      });
      const stream = connection.openStream(watchPath, decoder);
      streams.push(stream);
      stream.write(creates);
    }
    timer = setTimeout(() => reject(new Error(`watchers not all created within ${createTimeoutMs} ms`)), createTimeoutMs);
  });
  try {
    await created;
  } finally {
    clearTimeout(timer);
    tracker.onSetupError = undefined;
  }
}

/** Every (watcher, put) pair: seen or not, in order or not, and the latency of the measured ones. */
class EventTracker {
  readonly watchers: number;
  readonly puts: number;
  readonly sendMs: Float64Array;
  readonly samples: SampleBuffer;
  received = 0;
  duplicated = 0;
  outOfOrder = 0;
  unexpected = 0;
  lastEventMs = 0;
  readonly watchErrors: string[] = [];
  onSetupError: ((err: Error) => void) | undefined;
  onAllReceived: () => void = () => {};
  private readonly seen: Uint8Array;
  private readonly lastRevision: Float64Array;
  private readonly warmupPuts: number;

  constructor(o: WatchLatencyOptions) {
    this.watchers = o.streams * o.watchersPerStream;
    this.puts = o.putTotal;
    this.warmupPuts = o.warmupPuts;
    this.sendMs = new Float64Array(o.putTotal).fill(NaN);
    this.seen = new Uint8Array(this.watchers * o.putTotal);
    this.lastRevision = new Float64Array(this.watchers);
    this.samples = new SampleBuffer(this.watchers * (o.putTotal - o.warmupPuts));
  }

  get expected(): number {
    return this.watchers * this.puts;
  }

  onEvent(watcher: number, revision: number, put: number, nowMs: number): void {
    if (put < 0 || put >= this.puts || Number.isNaN(this.sendMs[put])) {
      this.unexpected++;
      return;
    }
    const slot = watcher * this.puts + put;
    if (this.seen[slot] !== 0) {
      this.duplicated++;
      return;
    }
    this.seen[slot] = 1;
    if (revision <= this.lastRevision[watcher]) this.outOfOrder++;
    this.lastRevision[watcher] = revision;
    if (put >= this.warmupPuts) {
      this.samples.push(nowMs - this.sendMs[put]);
      this.lastEventMs = nowMs;
    }
    if (++this.received === this.expected) this.onAllReceived();
  }

  watchError(message: string): void {
    this.watchErrors.push(message);
    this.onSetupError?.(new Error(message));
  }
}

/**
 * Decodes one Watch stream's responses by hand: created and cancelled
 * notices, and per event the revision and the put number in the value.
 */
class WatchStreamDecoder {
  private readonly response = new ProtoReader();
  private readonly event = new ProtoReader();
  private readonly kv = new ProtoReader();
  private created = 0;

  constructor(
    private readonly tracker: EventTracker,
    private readonly connection: FramedConnection,
    private readonly firstWatcher: number,
    private readonly watchers: number,
    private readonly onCreated: () => void,
  ) {}

  readonly onMessage = (buf: Buffer, start: number, end: number): void => {
    const r = this.response.reset(buf, start, end);
    let watchId = 0;
    let created = false;
    let canceled = false;
    let hasEvents = false;
    let reason = '';
    for (let tag = r.tag(); tag !== -1; tag = r.tag()) {
      if (tag === 0x10) watchId = r.varint();
      else if (tag === 0x18) created = r.varint() !== 0;
      else if (tag === 0x20) canceled = r.varint() !== 0;
      else if (tag === 0x32) {
        r.delimited();
        reason = buf.toString('utf8', r.fieldStart, r.fieldEnd);
      } else {
        if (tag === 0x5a) hasEvents = true;
        r.skip(tag);
      }
    }
    if (canceled) this.tracker.watchError(`watch ${watchId} cancelled by the server${reason ? `: ${reason}` : ''}`);
    if (created && ++this.created === this.watchers) this.onCreated();
    if (hasEvents) this.onEvents(watchId, buf, start, end);
  };

  onEnd(err: Error | null): void {
    this.tracker.watchError(`watch stream ended: ${err === null ? 'by the server, without error' : err.message}`);
  }

  private onEvents(watchId: number, buf: Buffer, start: number, end: number): void {
    if (watchId < 1 || watchId > this.watchers) {
      this.tracker.unexpected++;
      return;
    }
    const watcher = this.firstWatcher + watchId - 1;
    const now = this.connection.receivedAtMs;
    const r = this.response.reset(buf, start, end);
    for (let tag = r.tag(); tag !== -1; tag = r.tag()) {
      if (tag !== 0x5a) {
        r.skip(tag);
        continue;
      }
      r.delimited();
      this.onEvent(watcher, buf, r.fieldStart, r.fieldEnd, now);
    }
  }

  /** Event { type = 1, kv = 2 { mod_revision = 3, value = 5 }, prev_kv = 3 }. */
  private onEvent(watcher: number, buf: Buffer, start: number, end: number, now: number): void {
    const e = this.event.reset(buf, start, end);
    let type = 0;
    let revision = -1;
    let put = -1;
    for (let tag = e.tag(); tag !== -1; tag = e.tag()) {
      if (tag === 0x08) type = e.varint();
      else if (tag === 0x12) {
        e.delimited();
        const kv = this.kv.reset(buf, e.fieldStart, e.fieldEnd);
        for (let t = kv.tag(); t !== -1; t = kv.tag()) {
          if (t === 0x18) revision = kv.varint();
          else if (t === 0x2a) {
            kv.delimited();
            if (kv.fieldEnd - kv.fieldStart >= 4) put = buf.readUInt32BE(kv.fieldStart);
          } else kv.skip(t);
        }
      } else e.skip(tag);
    }
    if (type !== 0 || revision < 0) this.tracker.unexpected++;
    else this.tracker.onEvent(watcher, revision, put, now);
  }
}

/** The putter and the end of the run: all puts answered, and every event in (or the settle time over). */
class WatchRun {
  readonly finished: Promise<void>;
  private resolve!: () => void;
  private next = 0;
  private acked = 0;
  private windowStartMs = 0;
  private lastAckMs = 0;
  private cpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private cpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  private readonly putSamples: SampleBuffer;
  private readonly putErrors: Record<string, number> = {};
  private readonly value: Buffer;
  private startMs = 0;
  private done = false;
  private settleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly connection: FramedConnection, private readonly o: WatchLatencyOptions, private readonly tracker: EventTracker) {
    this.finished = new Promise((resolve) => (this.resolve = resolve));
    this.putSamples = new SampleBuffer(o.putTotal);
    this.value = Buffer.alloc(o.valSize, 0x76);
    tracker.onAllReceived = () => this.maybeFinish();
  }

  start(): void {
    this.startMs = performance.now();
    if (this.o.putRate > 0) this.tick();
    else for (let c = 0; c < Math.min(this.o.putClients, this.o.putTotal); c++) this.sendPut();
  }

  /** Open loop: sends every put whose time has come, then sleeps until the next one's. */
  private readonly tick = (): void => {
    const due = Math.min(this.o.putTotal, Math.floor(((performance.now() - this.startMs) * this.o.putRate) / 1000) + 1);
    while (this.next < due) this.sendPut();
    if (this.next < this.o.putTotal) {
      const wait = this.startMs + (this.next * 1000) / this.o.putRate - performance.now();
      setTimeout(this.tick, Math.max(0, wait));
    }
  };

  private putFrame(i: number): Buffer {
    this.value.writeUInt32BE(i, 0);
    const key = this.o.prefix ? Buffer.concat([this.o.key, Buffer.from(String(i % this.o.keySpaceSize))]) : this.o.key;
    return encodePutFrame(key, this.value);
  }

  private sendPut(): void {
    const i = this.next++;
    const frame = this.putFrame(i);
    const now = performance.now();
    if (i === this.o.warmupPuts) {
      this.windowStartMs = now;
      this.cpuAtStart = process.cpuUsage();
    }
    this.tracker.sendMs[i] = now;
    this.connection.send(putPath, frame, (err) => this.onPutDone(i, err));
  }

  private onPutDone(i: number, err: Error | null): void {
    const now = performance.now();
    this.acked++;
    if (err !== null) {
      const message = err instanceof GrpcCallError ? `${err.message} (code ${err.code})` : err.message;
      this.putErrors[message] = (this.putErrors[message] ?? 0) + 1;
    } else if (i >= this.o.warmupPuts) {
      this.putSamples.push(now - this.tracker.sendMs[i]);
      this.lastAckMs = now;
    }
    if (this.o.putRate === 0 && this.next < this.o.putTotal) this.sendPut();
    if (this.acked === this.o.putTotal) this.afterLastAck();
  }

  /** Waits for the stragglers: done when all are in, or when none has come for settleTimeoutMs. */
  private afterLastAck(): void {
    if (this.maybeFinish()) return;
    let received = this.tracker.received;
    let quietSinceMs = performance.now();
    this.settleTimer = setInterval(() => {
      const now = performance.now();
      if (this.tracker.received !== received) {
        received = this.tracker.received;
        quietSinceMs = now;
      } else if (now - quietSinceMs >= this.o.settleTimeoutMs) this.finish();
    }, settlePollMs);
  }

  private maybeFinish(): boolean {
    if (this.acked === this.o.putTotal && this.tracker.received === this.tracker.expected) this.finish();
    return this.done;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.cpu = process.cpuUsage(this.cpuAtStart);
    clearInterval(this.settleTimer);
    this.resolve();
  }

  result(): Omit<WatchLatencyResult, 'setupMs'> {
    const t = this.tracker;
    const eventLatenciesMs = t.samples.take();
    const putLatenciesMs = this.putSamples.take();
    const events = summarize({
      latenciesMs: eventLatenciesMs, errors: {}, elapsedMs: t.lastEventMs - this.windowStartMs,
      cpuUserUs: this.cpu.user, cpuSystemUs: this.cpu.system,
    });
    const put = summarize({ latenciesMs: putLatenciesMs, errors: this.putErrors, elapsedMs: this.lastAckMs - this.windowStartMs, cpuUserUs: 0, cpuSystemUs: 0 });
    return {
      watchers: t.watchers, puts: t.puts, events, eventLatenciesMs, put, putLatenciesMs,
      eventsExpected: t.expected, eventsReceived: t.received, missed: t.expected - t.received,
      duplicated: t.duplicated, outOfOrder: t.outOfOrder, unexpected: t.unexpected, watchErrors: [...t.watchErrors],
    };
  }
}

/**
 * Pools runs of the same scenario against the same server (interleaved
 * time slices) as if they were one: samples pooled, times, CPU and counts added.
 */
export function mergeWatchResults(results: WatchLatencyResult[]): WatchLatencyResult {
  if (results.length === 0) throw new RangeError('nothing to merge');
  const pool = (pick: (r: WatchLatencyResult) => Float64Array): Float64Array => {
    const out = new Float64Array(results.reduce((n, r) => n + pick(r).length, 0));
    let offset = 0;
    for (const r of results) {
      out.set(pick(r), offset);
      offset += pick(r).length;
    }
    return out;
  };
  const sum = (pick: (r: WatchLatencyResult) => number): number => results.reduce((n, r) => n + pick(r), 0);
  const eventLatenciesMs = pool((r) => r.eventLatenciesMs);
  const putLatenciesMs = pool((r) => r.putLatenciesMs);
  const putErrors: Record<string, number> = {};
  for (const r of results) for (const [m, n] of Object.entries(r.put.errors)) putErrors[m] = (putErrors[m] ?? 0) + n;
  const cpuUs = sum((r) => (r.events.count > 0 ? r.events.clientCpuUsPerRequest * r.events.count : 0));
  return {
    watchers: results[0].watchers,
    puts: sum((r) => r.puts),
    events: summarize({ latenciesMs: eventLatenciesMs, errors: {}, elapsedMs: sum((r) => r.events.elapsedMs), cpuUserUs: cpuUs, cpuSystemUs: 0 }),
    eventLatenciesMs,
    put: summarize({ latenciesMs: putLatenciesMs, errors: putErrors, elapsedMs: sum((r) => r.put.elapsedMs), cpuUserUs: 0, cpuSystemUs: 0 }),
    putLatenciesMs,
    eventsExpected: sum((r) => r.eventsExpected),
    eventsReceived: sum((r) => r.eventsReceived),
    missed: sum((r) => r.missed),
    duplicated: sum((r) => r.duplicated),
    outOfOrder: sum((r) => r.outOfOrder),
    unexpected: sum((r) => r.unexpected),
    watchErrors: results.flatMap((r) => r.watchErrors),
    setupMs: sum((r) => r.setupMs),
  };
}
