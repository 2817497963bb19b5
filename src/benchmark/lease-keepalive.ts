import { runClosedLoop, type LoadResult } from './closed-loop.js';
import { endpointUrl, GrpcCallError, type CallDone, type Caller } from './connection.js';
import { FramedConnection, type GrpcStream, type StreamHandler } from './frames-connection.js';
import { encodeVarint64, ProtoReader } from './protobuf.js';
import { summarize } from './report.js';
import type { BenchmarkResult } from './run-benchmark.js';
import { encodeLeaseGrantFrame, encodeLeaseKeepAliveFrame, encodeLeaseRevokeFrame } from './workload.js';

/**
 * Lease keep-alive throughput, after etcd's `benchmark lease-keepalive`:
 * leases granted beforehand (grantLeases), then `streams` LeaseKeepAlive
 * streams spread over `conns` connections, each with `depth` keep-alives in
 * flight, sending the next as soon as one is answered (the closed loop of
 * closed-loop.ts, one "client" per in-flight slot). Request i keeps lease
 * i mod n alive. etcd's tool opens a new stream per keep-alive
 * (KeepAliveOnce); here streams live for the whole run, as a client's
 * keep-alive loop does, so what is measured is the renewal itself.
 *
 * Every response is checked: it must name the lease its request named
 * (responses on a stream come in request order) and carry a TTL above 0
 * (0 means the lease was not found).
 */

export interface LeaseKeepAliveOptions {
  endpoints: string[];
  conns: number;
  streams: number;
  /** Keep-alives in flight per stream. */
  depth: number;
  leaseIds: bigint[];
  total?: number;
  durationMs?: number;
  warmupRequests?: number;
  warmupMs?: number;
}

const keepAlivePath = '/etcdserverpb.Lease/LeaseKeepAlive';
const grantPath = '/etcdserverpb.Lease/LeaseGrant';
const revokePath = '/etcdserverpb.Lease/LeaseRevoke';
const setupConcurrency = 32;

/** The keep-alive requests of a run: request i renews lease i mod n. */
export class KeepAliveRequests {
  private readonly frames: Buffer[];
  /** The varint bytes of each lease id, as the response's ID field must carry them. */
  private readonly idBytes: Buffer[];

  constructor(leaseIds: bigint[]) {
    if (leaseIds.length === 0) throw new RangeError('no leases to keep alive');
    this.frames = leaseIds.map((id) => encodeLeaseKeepAliveFrame(id));
    this.idBytes = leaseIds.map((id) => encodeVarint64(id));
  }

  frameOf(i: number): Buffer {
    return this.frames[i % this.frames.length];
  }

  idBytesOf(i: number): Buffer {
    return this.idBytes[i % this.idBytes.length];
  }
}

/**
 * One LeaseKeepAlive stream as a closed-loop caller: requests written as
 * they come, answers matched to them in order.
 */
class KeepAliveStream implements Caller<KeepAliveRequests>, StreamHandler {
  private readonly stream: GrpcStream;
  private readonly pending: CallDone[] = [];
  private readonly expectedIds: Buffer[] = [];
  private readonly reader = new ProtoReader();
  private failure: Error | undefined;

  constructor(connection: FramedConnection) {
    this.stream = connection.openStream(keepAlivePath, this);
  }

  call(requests: KeepAliveRequests, i: number, done: CallDone): void {
    if (this.failure !== undefined) {
      process.nextTick(done, this.failure);
      return;
    }
    this.pending.push(done);
    this.expectedIds.push(requests.idBytesOf(i));
    this.stream.write(requests.frameOf(i));
  }

  /** LeaseKeepAliveResponse { header = 1, ID = 2, TTL = 3 }. */
  readonly onMessage = (buf: Buffer, start: number, end: number): void => {
    const done = this.pending.shift();
    const want = this.expectedIds.shift();
    if (done === undefined || want === undefined) throw new Error('LeaseKeepAlive: a response without a request');
    const r = this.reader.reset(buf, start, end);
    let idMatches = false;
    let ttl = 0;
    for (let tag = r.tag(); tag !== -1; tag = r.tag()) {
      if (tag === 0x10) {
        const from = r.pos;
        r.varint();
        idMatches = want.compare(buf, from, r.pos) === 0;
      } else if (tag === 0x18) ttl = r.int64();
      else r.skip(tag);
    }
    if (!idMatches) done(new Error('keep-alive answered for another lease'));
    else if (ttl <= 0) done(new Error('keep-alive answered TTL 0: lease not found'));
    else done(null);
  };

  onEnd(err: Error | null): void {
    this.failure = err ?? new GrpcCallError(14, 'keep-alive stream ended by the server');
    for (const done of this.pending.splice(0)) done(this.failure);
    this.expectedIds.length = 0;
  }

  close(): void {
    this.stream.cancel();
  }
}

export async function runLeaseKeepAlive(options: LeaseKeepAliveOptions): Promise<BenchmarkResult> {
  if (!Number.isInteger(options.conns) || options.conns < 1) throw new RangeError('conns must be a positive integer');
  if (!Number.isInteger(options.streams) || options.streams < 1) throw new RangeError('streams must be a positive integer');
  if (!Number.isInteger(options.depth) || options.depth < 1) throw new RangeError('depth must be a positive integer');
  const requests = new KeepAliveRequests(options.leaseIds);
  const connections = await openFramed(options.endpoints, options.conns);
  const streams: KeepAliveStream[] = [];
  let raw: LoadResult;
  try {
    for (let s = 0; s < options.streams; s++) streams.push(new KeepAliveStream(connections[s % connections.length]));
    raw = await runClosedLoop(streams, requests, {
      clients: options.streams * options.depth,
      total: options.total,
      durationMs: options.durationMs,
      warmupRequests: options.warmupRequests,
      warmupMs: options.warmupMs,
    });
  } finally {
    for (const s of streams) s.close();
    await Promise.all(connections.map((c) => c.close()));
  }
  return { stats: summarize(raw), latenciesMs: raw.latenciesMs, completedAll: raw.completedAll };
}

async function openFramed(endpoints: string[], conns: number): Promise<FramedConnection[]> {
  if (endpoints.length === 0) throw new RangeError('no endpoints');
  const opened: FramedConnection[] = [];
  try {
    for (let i = 0; i < conns; i++) opened.push(await FramedConnection.open(endpointUrl(endpoints[i % endpoints.length])));
  } catch (err) {
    await Promise.all(opened.map((c) => c.close()));
    throw err;
  }
  return opened;
}

/** Runs `count` unary calls, at most setupConcurrency at a time, in index order; resolves to their responses. */
async function unaryBatch(endpoint: string, count: number, path: string, frameOf: (i: number) => Buffer): Promise<Buffer[]> {
  const connection = await FramedConnection.open(endpointUrl(endpoint));
  const responses: Buffer[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      responses[i] = await connection.unary(path, frameOf(i));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(setupConcurrency, count) }, worker));
  } finally {
    await connection.close();
  }
  return responses;
}

/** Grants `count` leases of `ttlSeconds` with server-chosen ids, through the first endpoint; resolves to their ids. */
export async function grantLeases(endpoints: string[], count: number, ttlSeconds: number): Promise<bigint[]> {
  const frame = encodeLeaseGrantFrame(BigInt(ttlSeconds), 0n);
  const responses = await unaryBatch(endpoints[0], count, grantPath, () => frame);
  return responses.map(decodeLeaseGrantResponse);
}

/** LeaseGrantResponse { header = 1, ID = 2, TTL = 3, error = 4 }: the id, or a throw with the error. */
export function decodeLeaseGrantResponse(message: Buffer): bigint {
  const r = new ProtoReader().reset(message, 0, message.length);
  let id = 0n;
  let error = '';
  for (let tag = r.tag(); tag !== -1; tag = r.tag()) {
    if (tag === 0x10) id = r.varint64();
    else if (tag === 0x22) {
      r.delimited();
      error = message.toString('utf8', r.fieldStart, r.fieldEnd);
    } else r.skip(tag);
  }
  if (error !== '' || id === 0n) throw new Error(`lease grant failed${error ? `: ${error}` : ''}`);
  return id;
}

export async function revokeLeases(endpoints: string[], ids: bigint[]): Promise<void> {
  await unaryBatch(endpoints[0], ids.length, revokePath, (i) => encodeLeaseRevokeFrame(ids[i]));
}
