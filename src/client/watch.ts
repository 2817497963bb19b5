import * as grpc from '@grpc/grpc-js';
import {
  WatchClient,
  WatchCreateRequest,
  WatchCreateRequest_FilterType,
  WatchRequest,
  type WatchResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { Endpoint } from './endpoints.js';
import {
  CanceledError,
  ClientClosedError,
  CompactedError,
  EtcdClientError,
  FutureRevisionError,
  GrpcCode,
  fromGrpcStatus,
  type GrpcStatusLike,
} from './errors.js';
import { rangeOf, type RangeOptions } from './kv.js';
import type { Bytes } from './keys.js';
import { StreamConnector } from './stream-connector.js';

/**
 * Watches, many per client on one shared bidirectional stream, as clientv3
 * does it:
 *
 *   const watcher = client.watch('config/', { prefix: true, startRevision: 42n });
 *   for await (const response of watcher) for (const event of response.events) ...
 *
 * The server numbers watchers in the order it receives create requests, so
 * creates go out one at a time: the next is sent when the previous one's
 * `created` response has come back.
 *
 * Resuming: every watcher remembers the revision after the last one it
 * delivered (the last event's mod_revision + 1, or a progress notification's
 * revision + 1). When the stream breaks, the client opens a new one, on
 * another endpoint when there are several, and re-creates every watcher from
 * that revision, so the consumer sees no gap and no duplicate (etcd's
 * "resumable" guarantee). If that revision has been compacted meanwhile, the
 * watcher fails with WatchCompactedError: the history it needs is gone.
 *
 * Back-pressure: each watcher buffers at most `watcherQueueMax` responses;
 * when one is full the client stops reading the shared stream until it has
 * room, so a consumer that does not read holds the server back instead of
 * growing this process's memory (the server buffers and catches up from its
 * backend). All watchers of the client share that stream, so one stalled
 * consumer delays the others; give a slow consumer its own Client.
 */
export interface WatchOptions extends RangeOptions {
  /** First revision to deliver events from; 0 or absent means "changes after now". */
  startRevision?: bigint;
  /** Events carry the key-value before the change. */
  prevKv?: boolean;
  /** Ask the server for periodic progress notifications (responses without events). */
  progressNotify?: boolean;
  /** Event types the server leaves out. */
  filters?: { noPut?: boolean; noDelete?: boolean };
  /** Let the server split huge revisions into fragments (the client joins them again). */
  fragment?: boolean;
  /** Cancels the watcher (iteration ends). */
  signal?: AbortSignal;
}

/** What the watch manager needs from the client: endpoints for streams, and auth metadata. */
export interface StreamHost {
  /** A connected endpoint for a long-lived stream; waits until there is one, or the signal aborts. */
  streamEndpoint(signal?: AbortSignal): Promise<Endpoint>;
  /** A stream on `endpoint` failed: the next pick should prefer another endpoint. */
  streamFailed(endpoint: Endpoint): void;
  metadata(): grpc.Metadata;
}

/** A watcher failed because the revisions it needs were compacted. */
export class WatchCompactedError extends CompactedError {
  constructor(
    /** The oldest revision the server still has (the watcher cannot start before it). */
    readonly compactRevision: bigint,
    /** The server's cancel response, for printing. */
    readonly response: WatchResponse,
  ) {
    super();
    this.name = 'WatchCompactedError';
  }
}

/** The server canceled a watcher for a stated reason (permission denied, a bad request, ...). */
export class WatchCanceledByServerError extends EtcdClientError {
  constructor(
    /** The typed error for the reason (its message is the server's text). */
    readonly reason: EtcdClientError,
    readonly response: WatchResponse,
  ) {
    super(reason.message, reason.code);
    this.name = 'WatchCanceledByServerError';
  }
}

/** How many responses one watcher buffers before the shared stream stops reading. */
export const watcherQueueMax = 1024;
/** Back-off between attempts to re-open a broken stream. */
const reconnectBackoffMinMs = 50;
const reconnectBackoffMaxMs = 2000;

/**
 * Stream errors after which retrying cannot help: the request itself is
 * wrong or not allowed. Everything else (UNAVAILABLE, INTERNAL, a stream
 * the server ended, a member without a leader) is a reason to reconnect,
 * preferably elsewhere.
 */
const haltCodes = new Set<number>([
  GrpcCode.INVALID_ARGUMENT,
  GrpcCode.PERMISSION_DENIED,
  GrpcCode.UNAUTHENTICATED,
  GrpcCode.UNIMPLEMENTED,
  GrpcCode.FAILED_PRECONDITION,
  GrpcCode.RESOURCE_EXHAUSTED,
]);

type Settle = { resolve: (r: WatchResponse | undefined) => void; reject: (e: Error) => void };

/** One watch: iterate it for responses; cancel() or the signal ends it. */
export class Watcher implements AsyncIterable<WatchResponse> {
  /** The server's id on the current stream; -1 until created (and again while resuming). */
  id = -1n;
  /** The revision to resume from: everything before it has been delivered. 0 until known. */
  nextRevision: bigint;
  /** Whether the server has acknowledged this watcher at least once. */
  createdOnce = false;
  /** Resolves with the first `created` response (the watch is in place from then on). */
  readonly created: Promise<WatchResponse>;
  private resolveCreated!: (r: WatchResponse) => void;
  private rejectCreated!: (e: Error) => void;
  private readonly queue: WatchResponse[] = [];
  private waiter: Settle | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(
    private readonly manager: WatchManager,
    readonly request: WatchCreateRequest,
  ) {
    this.nextRevision = request.startRevision;
    this.created = new Promise((resolve, reject) => {
      this.resolveCreated = resolve;
      this.rejectCreated = reject;
    });
    // Nobody has to await `created`; a failure is reported through next() too.
    this.created.catch(() => undefined);
  }

  get done(): boolean {
    return this.ended;
  }

  /** The next response, or undefined once the watcher is canceled; rejects when the watch failed. */
  next(): Promise<WatchResponse | undefined> {
    const response = this.queue.shift();
    if (response !== undefined) {
      this.manager.maybeResumeReading();
      return Promise.resolve(response);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    try {
      for (;;) {
        const response = await this.next();
        if (response === undefined) return;
        yield response;
      }
    } finally {
      this.cancel();
    }
  }

  /** Stops the watcher (and tells the server); iteration ends after what is already buffered. */
  cancel(): void {
    if (this.ended) return;
    this.finish(undefined);
    this.manager.release(this);
  }

  /** The request to (re)create this watcher with, starting where delivery stopped. */
  createRequest(): WatchRequest {
    return { createRequest: { ...this.request, startRevision: this.nextRevision } };
  }

  get queueFull(): boolean {
    return this.queue.length >= watcherQueueMax;
  }

  onCreated(response: WatchResponse): void {
    this.id = response.watchId;
    // A watch "from now" resumes after the revision it was created at, not at it:
    // the changes at that revision happened before the watch existed.
    if (this.nextRevision === 0n) this.nextRevision = (response.header?.revision ?? 0n) + 1n;
    if (!this.createdOnce) {
      this.createdOnce = true;
      this.resolveCreated(response);
    }
  }

  deliver(response: WatchResponse): void {
    if (this.ended) return;
    const events = response.events;
    if (events.length > 0) {
      this.nextRevision = events[events.length - 1]!.kv!.modRevision + 1n;
    } else {
      // A progress notification at R: every event up to R has been delivered.
      const revision = response.header?.revision ?? 0n;
      if (revision + 1n > this.nextRevision) this.nextRevision = revision + 1n;
    }
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(response);
    } else {
      this.queue.push(response);
    }
  }

  /** Ends the watcher: with an error the consumer sees after the buffered responses, else quietly. */
  finish(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (!this.createdOnce) this.rejectCreated(error ?? new CanceledError());
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter === undefined) return;
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve(undefined);
  }
}

/** The request for a watch of `key` with the given options. */
export function watchCreateRequest(key: Bytes, options: WatchOptions = {}): WatchCreateRequest {
  const [start, end] = rangeOf(key, options);
  const filters: WatchCreateRequest_FilterType[] = [];
  if (options.filters?.noPut === true) filters.push(WatchCreateRequest_FilterType.NOPUT);
  if (options.filters?.noDelete === true) filters.push(WatchCreateRequest_FilterType.NODELETE);
  return WatchCreateRequest.fromPartial({
    key: start,
    rangeEnd: end,
    startRevision: options.startRevision !== undefined && options.startRevision > 0n ? options.startRevision : 0n,
    progressNotify: options.progressNotify ?? false,
    filters,
    prevKv: options.prevKv ?? false,
    fragment: options.fragment ?? false,
  });
}

type WatchCall = grpc.ClientDuplexStream<WatchRequest, WatchResponse>;

/**
 * The watchers of one client and their shared stream. State, in the order a
 * watcher goes through it: `pending` (waiting for its create to be sent and
 * acknowledged; only the head has a create in flight), then `active` (by
 * server id). A broken stream moves every active watcher back to pending.
 */
export class WatchManager {
  private readonly pending: Watcher[] = [];
  private readonly active = new Map<bigint, Watcher>();
  /** Watchers canceled while their create was in flight: cancel them on the server once it answers. */
  private readonly abandoned = new Set<Watcher>();
  /** Server ids already asked to cancel (an unknown id gets one cancel, not one per response). */
  private readonly cancelSent = new Set<bigint>();
  private call: WatchCall | undefined;
  private endpoint: Endpoint | undefined;
  private headSent = false;
  private paused = false;
  private fragments: WatchResponse | undefined;
  private backoffMs = reconnectBackoffMinMs;
  private readonly connector: StreamConnector;
  private closed = false;

  constructor(private readonly host: StreamHost) {
    this.connector = new StreamConnector(host, (endpoint) => this.openOn(endpoint), () => this.ensureStream());
  }

  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    if (this.closed) throw new ClientClosedError();
    const watcher = new Watcher(this, watchCreateRequest(key, options));
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        watcher.finish(undefined);
        return watcher;
      }
      options.signal.addEventListener('abort', () => watcher.cancel(), { once: true });
    }
    this.pending.push(watcher);
    this.ensureStream();
    this.sendHead();
    return watcher;
  }

  /** Asks for a progress notification for every watcher on the stream (etcd's RequestProgress). */
  requestProgress(): void {
    this.write({ progressRequest: {} });
  }

  /** A watcher ended on the client's side: forget it and tell the server. */
  release(watcher: Watcher): void {
    const index = this.pending.indexOf(watcher);
    if (index === 0 && this.headSent) {
      this.abandoned.add(watcher);
    } else if (index >= 0) {
      this.pending.splice(index, 1);
    } else if (this.active.get(watcher.id) === watcher) {
      this.active.delete(watcher.id);
      this.sendCancel(watcher.id);
    }
    this.maybeResumeReading();
    this.maybeCloseStream();
  }

  /** Ends every watcher and the stream (the client is closing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new ClientClosedError();
    for (const w of [...this.pending, ...this.active.values()]) w.finish(error);
    this.pending.length = 0;
    this.active.clear();
    this.dropStream();
  }

  /** Resumes reading the stream once no watcher's buffer is full. */
  maybeResumeReading(): void {
    if (!this.paused || this.anyQueueFull()) return;
    this.paused = false;
    this.call?.resume();
  }

  private anyQueueFull(): boolean {
    for (const w of this.active.values()) if (w.queueFull) return true;
    return false;
  }

  private ensureStream(): void {
    if (this.call !== undefined || this.closed) return;
    this.connector.connect();
  }

  private openOn(endpoint: Endpoint): void {
    if (this.pending.length === 0 && this.active.size === 0) return;
    const metadata = this.host.metadata();
    // etcdctl's WithRequireLeader: a member cut off from its leader ends the
    // stream instead of serving a watch that can never see new writes, and
    // we reconnect elsewhere.
    metadata.set('hasleader', 'true');
    const call = endpoint.service(WatchClient).watch(metadata);
    this.call = call;
    this.endpoint = endpoint;
    this.headSent = false;
    this.fragments = undefined;
    this.cancelSent.clear();
    call.on('data', (response: WatchResponse) => {
      if (this.call === call) this.onResponse(response);
    });
    call.on('error', (err: GrpcStatusLike) => {
      if (this.call === call) this.onStreamBroken(err);
    });
    call.on('end', () => {
      if (this.call === call) this.onStreamBroken({ code: GrpcCode.UNAVAILABLE, details: 'watch stream ended by the server' });
    });
    this.sendHead();
  }

  private sendHead(): void {
    if (this.call === undefined || this.headSent) return;
    const head = this.pending[0];
    if (head === undefined) return;
    this.headSent = true;
    this.write(head.createRequest());
  }

  private onResponse(response: WatchResponse): void {
    this.backoffMs = reconnectBackoffMinMs;
    // Fragments of one revision's events arrive as several responses; join them (clientv3 does the same).
    if (this.fragments !== undefined && !response.created && !response.canceled && this.fragments.watchId === response.watchId) {
      this.fragments.events.push(...response.events);
      this.fragments.fragment = response.fragment;
    } else {
      this.fragments = { ...response, events: [...response.events] };
    }
    if (this.fragments.fragment && !response.created && !response.canceled) return;
    const whole = this.fragments;
    this.fragments = undefined;
    if (whole.created) this.onCreatedResponse(whole);
    else if (whole.canceled) this.onCanceledResponse(whole);
    else this.dispatch(whole);
  }

  private onCreatedResponse(response: WatchResponse): void {
    const head = this.pending.shift();
    this.headSent = false;
    if (head === undefined) {
      this.sendCancel(response.watchId);
    } else if (this.abandoned.delete(head)) {
      if (!response.canceled) this.sendCancel(response.watchId);
    } else if (response.canceled) {
      // The server refused the watch (permission denied, a bad revision...).
      head.finish(new WatchCanceledByServerError(cancelReasonError(response), response));
    } else {
      head.onCreated(response);
      this.active.set(response.watchId, head);
    }
    this.sendHead();
    this.maybeCloseStream();
  }

  private onCanceledResponse(response: WatchResponse): void {
    const watcher = this.active.get(response.watchId);
    if (watcher === undefined) return;
    this.active.delete(response.watchId);
    if (response.compactRevision !== 0n) {
      watcher.finish(new WatchCompactedError(response.compactRevision, response));
    } else {
      watcher.finish(new WatchCanceledByServerError(cancelReasonError(response), response));
    }
    this.maybeCloseStream();
  }

  private dispatch(response: WatchResponse): void {
    if (response.watchId === -1n) {
      // A progress notification requested for the whole stream: every watcher is at least this far.
      for (const w of this.active.values()) w.deliver(response);
    } else {
      const watcher = this.active.get(response.watchId);
      if (watcher === undefined) {
        this.sendCancel(response.watchId);
        return;
      }
      watcher.deliver(response);
    }
    if (!this.paused && this.anyQueueFull()) {
      this.paused = true;
      this.call?.pause();
    }
  }

  private onStreamBroken(err: GrpcStatusLike): void {
    const endpoint = this.endpoint;
    this.dropStream();
    if (this.closed) return;
    if (haltCodes.has(err.code)) {
      const error = fromGrpcStatus(err);
      for (const w of [...this.pending, ...this.active.values()]) w.finish(error);
      this.pending.length = 0;
      this.active.clear();
      this.abandoned.clear();
      return;
    }
    if (endpoint !== undefined) this.host.streamFailed(endpoint);
    // Every active watcher goes back to the queue and is re-created from its next revision.
    for (const w of this.abandoned) this.pending.splice(this.pending.indexOf(w), 1);
    this.abandoned.clear();
    for (const w of this.active.values()) {
      w.id = -1n;
      this.pending.push(w);
    }
    this.active.clear();
    if (this.pending.length === 0) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, reconnectBackoffMaxMs);
    this.connector.retryAfter(delay);
  }

  private sendCancel(id: bigint): void {
    if (this.cancelSent.has(id)) return;
    this.cancelSent.add(id);
    this.write({ cancelRequest: { watchId: id } });
  }

  private write(request: WatchRequest): void {
    const call = this.call;
    if (call === undefined) return;
    try {
      call.write(WatchRequest.fromPartial(request));
    } catch {
      // The stream is failing; its error handler re-creates what is needed.
    }
  }

  /** With no watcher left, the stream goes away (a new watch opens a new one). */
  private maybeCloseStream(): void {
    if (this.pending.length > 0 || this.active.size > 0) return;
    this.dropStream();
  }

  private dropStream(): void {
    const call = this.call;
    this.call = undefined;
    this.endpoint = undefined;
    this.headSent = false;
    this.paused = false;
    this.connector.reset();
    if (call !== undefined) {
      call.end();
      call.cancel();
    }
  }
}

/** The typed error for a watcher the server canceled: its reason, or etcd's default (a future revision). */
function cancelReasonError(response: WatchResponse): EtcdClientError {
  if (response.cancelReason === '') return new FutureRevisionError();
  return fromGrpcStatus({ code: GrpcCode.FAILED_PRECONDITION, details: response.cancelReason });
}
