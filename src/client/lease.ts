import type * as grpc from '@grpc/grpc-js';
import {
  LeaseClient,
  LeaseGrantRequest,
  LeaseLeasesRequest,
  LeaseRevokeRequest,
  LeaseService,
  LeaseTimeToLiveRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { Endpoint } from './endpoints.js';
import {
  CanceledError,
  DeadlineExceededError,
  GrpcCode,
  LeaseNotFoundError,
  fromGrpcStatus,
  type GrpcStatusLike,
} from './errors.js';
import type { UnaryInvoker } from './invoker.js';
import type { CallOptions } from './options.js';
import { StreamConnector } from './stream-connector.js';
import type { StreamHost } from './watch.js';

/**
 * The Lease service: grant, revoke, time-to-live, list, and keep-alives.
 *
 *   const { ID } = await client.lease.grant(10);
 *   await client.kv.put('service/me', 'addr', { lease: ID });
 *   const keepAlive = client.lease.keepAlive(ID);
 *   const end = await keepAlive.done;    // { reason: 'expired' } when the lease is gone
 *
 * Keep-alives of all leases share one stream per client, like clientv3's.
 * A lease is renewed every TTL/3; when no renewal is confirmed the request
 * is repeated every `keepAliveRetryMs`. A keep-alive ends as *lost* when
 * the server answers TTL <= 0 (the lease expired or was revoked), or when
 * its deadline passes without a confirmed renewal. The deadline is measured
 * from when the confirmed request was *sent* plus the TTL the server
 * granted: the server renewed the lease after that moment, so the lease
 * cannot have expired before the deadline (clientv3 measures from the
 * response, which can be late by a network delay). A holder that stops at
 * the deadline therefore never acts on a lease the cluster has already
 * expired, whatever the network did in between.
 */
export type KeepAliveEnd =
  /** The server said the lease is gone (expired or revoked). */
  | { reason: 'expired' }
  /** No renewal was confirmed before the lease could have expired: it must be treated as lost. */
  | { reason: 'deadline' }
  /** close() was called, or the client closed. */
  | { reason: 'closed' };

export interface KeepAliveOptions {
  /**
   * Until the first renewal is confirmed: the time (epoch ms) until which
   * the lease is known to live, e.g. the grant's send time plus its TTL.
   * Default: now + 5 s, clientv3's assumption when it knows nothing.
   */
  initialDeadline?: number;
}

/** Repeat an unconfirmed renewal this often. */
export const keepAliveRetryMs = 500;
/** clientv3's first deadline when the TTL is not known yet. */
const defaultInitialTtlMs = 5000;
/** Responses one keep-alive handle buffers for its consumer; older ones are dropped (only the latest TTL matters). */
const keepAliveQueueMax = 16;
const reconnectBackoffMs = 500;

/** One consumer's view of a lease's keep-alive. */
export class LeaseKeepAlive implements AsyncIterable<LeaseKeepAliveResponse> {
  /** Resolves once, when the keep-alive ends. */
  readonly done: Promise<KeepAliveEnd>;
  private resolveDone!: (end: KeepAliveEnd) => void;
  private readonly queue: LeaseKeepAliveResponse[] = [];
  private waiter: ((r: LeaseKeepAliveResponse | undefined) => void) | undefined;
  private end: KeepAliveEnd | undefined;

  constructor(
    readonly id: bigint,
    private readonly manager: KeepAliveManager,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** How the keep-alive ended, once it has. */
  get ended(): KeepAliveEnd | undefined {
    return this.end;
  }

  /** The next renewal response, or undefined when the keep-alive has ended (see `done` for why). */
  next(): Promise<LeaseKeepAliveResponse | undefined> {
    const response = this.queue.shift();
    if (response !== undefined) return Promise.resolve(response);
    if (this.end !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<LeaseKeepAliveResponse> {
    for (;;) {
      const response = await this.next();
      if (response === undefined) return;
      yield response;
    }
  }

  /** Stops renewing for this consumer (the lease lives on until its TTL runs out). */
  close(): void {
    this.manager.detach(this);
    this.finish({ reason: 'closed' });
  }

  push(response: LeaseKeepAliveResponse): void {
    if (this.end !== undefined) return;
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(response);
      return;
    }
    if (this.queue.length >= keepAliveQueueMax) this.queue.shift();
    this.queue.push(response);
  }

  finish(end: KeepAliveEnd): void {
    if (this.end !== undefined) return;
    this.end = end;
    this.resolveDone(end);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined);
  }
}

export class Lease {
  private readonly keepAlives: KeepAliveManager;

  constructor(private readonly client: UnaryInvoker & StreamHost) {
    this.keepAlives = new KeepAliveManager(client);
  }

  /** Grants a lease of `ttl` seconds; `id` picks the id (0 or absent: the server picks). */
  grant(ttl: bigint | number, options: CallOptions & { id?: bigint } = {}): Promise<LeaseGrantResponse> {
    const request = LeaseGrantRequest.fromPartial({ TTL: BigInt(ttl), ID: options.id ?? 0n });
    return this.client.unary(LeaseService.leaseGrant, request, { ...options, retry: 'nonRepeatable' });
  }

  /** Revokes a lease, deleting its keys in one revision. */
  revoke(id: bigint, options: CallOptions = {}): Promise<LeaseRevokeResponse> {
    return this.client.unary(LeaseService.leaseRevoke, LeaseRevokeRequest.fromPartial({ ID: id }), { ...options, retry: 'repeatable' });
  }

  /** Remaining and granted TTL (TTL -1 for a lease that does not exist), with the attached keys if asked. */
  timeToLive(id: bigint, options: CallOptions & { keys?: boolean } = {}): Promise<LeaseTimeToLiveResponse> {
    const request = LeaseTimeToLiveRequest.fromPartial({ ID: id, keys: options.keys ?? false });
    return this.client.unary(LeaseService.leaseTimeToLive, request, { ...options, retry: 'repeatable' });
  }

  leases(options: CallOptions = {}): Promise<LeaseLeasesResponse> {
    return this.client.unary(LeaseService.leaseLeases, LeaseLeasesRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  /**
   * Renews a lease once, on a stream of its own. Fails with
   * LeaseNotFoundError when the lease does not exist (the server answers
   * TTL 0), as clientv3's KeepAliveOnce does.
   */
  keepAliveOnce(id: bigint, options: CallOptions = {}): Promise<LeaseKeepAliveResponse> {
    return keepAliveOnce(this.client, id, options);
  }

  /** Keeps a lease alive in the background until close(), or until it is lost (see `done`). */
  keepAlive(id: bigint, options: KeepAliveOptions = {}): LeaseKeepAlive {
    return this.keepAlives.attach(id, options);
  }

  /** Ends every keep-alive (the client is closing). */
  close(): void {
    this.keepAlives.close();
  }
}

async function keepAliveOnce(host: StreamHost, id: bigint, options: CallOptions): Promise<LeaseKeepAliveResponse> {
  const deadline = options.timeoutMs === undefined || options.timeoutMs <= 0 ? undefined : Date.now() + options.timeoutMs;
  const signal = deadline === undefined ? options.signal : anySignal(options.signal, AbortSignal.timeout(deadline - Date.now()));
  let endpoint: Endpoint;
  try {
    endpoint = await host.streamEndpoint(signal);
  } catch (err) {
    throw deadline !== undefined && Date.now() >= deadline ? new DeadlineExceededError() : err;
  }
  const call = endpoint.service(LeaseClient).leaseKeepAlive(host.metadata(), deadline === undefined ? {} : { deadline });
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
      call.cancel();
    };
    call.on('data', (response: LeaseKeepAliveResponse) => {
      settle(() => (response.TTL <= 0n ? reject(new LeaseNotFoundError()) : resolve(response)));
    });
    call.on('error', (err: GrpcStatusLike) => settle(() => reject(fromGrpcStatus(err))));
    call.on('end', () => settle(() => reject(new CanceledError())));
    call.write({ ID: id });
  });
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a === undefined ? b : AbortSignal.any([a, b]);
}

/** Renewal state of one lease, shared by every consumer keeping it alive. */
interface KeepAliveEntry {
  id: bigint;
  handles: Set<LeaseKeepAlive>;
  /** When the next renewal request is due (epoch ms). */
  nextSendAt: number;
  /** Until when the lease is known to live (epoch ms). */
  deadline: number;
  /** Send times of the requests on the current stream not answered yet, oldest first. */
  inFlight: number[];
}

type KeepAliveCall = grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;

/**
 * The shared keep-alive stream and the one timer that drives it: the timer
 * fires at the earliest "renewal due" or "deadline" time of all leases.
 */
class KeepAliveManager {
  private readonly entries = new Map<bigint, KeepAliveEntry>();
  private call: KeepAliveCall | undefined;
  private endpoint: Endpoint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly connector: StreamConnector;
  private closed = false;

  constructor(private readonly host: StreamHost) {
    this.connector = new StreamConnector(host, (endpoint) => this.openOn(endpoint), () => this.ensureStream());
  }

  attach(id: bigint, options: KeepAliveOptions): LeaseKeepAlive {
    const handle = new LeaseKeepAlive(id, this);
    if (this.closed) {
      handle.finish({ reason: 'closed' });
      return handle;
    }
    let entry = this.entries.get(id);
    if (entry === undefined) {
      const now = Date.now();
      entry = { id, handles: new Set(), nextSendAt: now, deadline: options.initialDeadline ?? now + defaultInitialTtlMs, inFlight: [] };
      this.entries.set(id, entry);
    }
    entry.handles.add(handle);
    this.ensureStream();
    this.tick();
    return handle;
  }

  detach(handle: LeaseKeepAlive): void {
    const entry = this.entries.get(handle.id);
    if (entry === undefined) return;
    entry.handles.delete(handle);
    if (entry.handles.size === 0) this.entries.delete(handle.id);
    this.maybeIdle();
  }

  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) this.end(entry, { reason: 'closed' });
    this.maybeIdle();
  }

  private end(entry: KeepAliveEntry, end: KeepAliveEnd): void {
    this.entries.delete(entry.id);
    for (const handle of entry.handles) handle.finish(end);
  }

  /** Sends what is due, ends what is past its deadline, and sets the timer for the next thing to do. */
  private tick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    let wake = Infinity;
    for (const entry of [...this.entries.values()]) {
      if (now >= entry.deadline) {
        this.end(entry, { reason: 'deadline' });
        continue;
      }
      if (now >= entry.nextSendAt && this.call !== undefined) {
        entry.inFlight.push(now);
        entry.nextSendAt = now + keepAliveRetryMs;
        this.write({ ID: entry.id });
      }
      wake = Math.min(wake, entry.deadline, this.call === undefined ? entry.deadline : entry.nextSendAt);
    }
    if (wake !== Infinity) this.timer = setTimeout(() => this.tick(), Math.max(0, wake - Date.now()));
    this.maybeIdle();
  }

  private onResponse(response: LeaseKeepAliveResponse): void {
    const entry = this.entries.get(response.ID);
    if (entry === undefined) return;
    const sentAt = entry.inFlight.shift() ?? Date.now();
    if (response.TTL <= 0n) {
      this.end(entry, { reason: 'expired' });
      this.maybeIdle();
      return;
    }
    const ttlMs = Number(response.TTL) * 1000;
    entry.deadline = Math.max(entry.deadline, sentAt + ttlMs);
    entry.nextSendAt = Date.now() + ttlMs / 3;
    for (const handle of entry.handles) handle.push(response);
    this.tick();
  }

  private ensureStream(): void {
    if (this.call !== undefined || this.closed) return;
    this.connector.connect();
  }

  private openOn(endpoint: Endpoint): void {
    if (this.entries.size === 0) return;
    const call = endpoint.service(LeaseClient).leaseKeepAlive(this.host.metadata());
    this.call = call;
    this.endpoint = endpoint;
    call.on('data', (response: LeaseKeepAliveResponse) => {
      if (this.call === call) this.onResponse(response);
    });
    call.on('error', (err: GrpcStatusLike) => {
      if (this.call === call) this.onStreamBroken(err);
    });
    call.on('end', () => {
      if (this.call === call) this.onStreamBroken({ code: GrpcCode.UNAVAILABLE, details: 'keep-alive stream ended by the server' });
    });
    // Renew everything right away on a new stream: the old one may have lost requests.
    for (const entry of this.entries.values()) entry.nextSendAt = Math.min(entry.nextSendAt, Date.now());
    this.tick();
  }

  /**
   * Whatever broke the stream, renewals go on on a new one (after a pause,
   * on another endpoint when there are several) until a lease's deadline
   * says it is lost: a keep-alive never gives up early on a live lease.
   */
  private onStreamBroken(_err: GrpcStatusLike): void {
    const endpoint = this.endpoint;
    this.dropStream();
    for (const entry of this.entries.values()) entry.inFlight.length = 0;
    if (endpoint !== undefined) this.host.streamFailed(endpoint);
    if (this.entries.size === 0 || this.closed) return;
    this.connector.retryAfter(reconnectBackoffMs);
  }

  private write(request: LeaseKeepAliveRequest): void {
    try {
      this.call?.write(request);
    } catch {
      // The stream is failing; the error handler reconnects.
    }
  }

  /** With no lease to keep alive, the stream and timers go away, so they never hold the process open. */
  private maybeIdle(): void {
    if (this.entries.size > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dropStream();
  }

  private dropStream(): void {
    const call = this.call;
    this.call = undefined;
    this.endpoint = undefined;
    this.connector.reset();
    if (call !== undefined) {
      call.end();
      call.cancel();
    }
  }
}
