import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Event } from '../../proto/gen/mvccpb/kv.js';
import {
  WatchCreateRequest_FilterType, WatchResponse, WatchService as GeneratedWatchService, type WatchRequest, type WatchServer,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { encodeWatchResponse } from '../../proto/fast/watch-response.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { grpcOverheadBytes } from '../constants.js';
import { failpoint } from '../failpoint.js';
import type { WatchStream, WatchableStore } from '../mvcc/watchable-store.js';
import { watchProgressNotifyIntervalMsMin } from '../mvcc/watch-limits.js';
import { OperatingError } from '../operating-error.js';
import { goStatusText, toServiceError } from './grpc-errors.js';

/**
 * The etcdserverpb.Watch service: one bidirectional stream per call, any
 * number of watchers on it. Requests go straight to the stream's
 * WatchStream in the watchable store, which queues every response (create,
 * events, cancel, progress) in one FIFO; this adapter only moves responses
 * from that queue to gRPC while gRPC accepts them (write() returning false
 * means wait for 'drain'), so what a client does not read stays in the
 * store's bounded queue, never in an unbounded transport buffer.
 */
export interface WatchServiceOptions {
  /** Period of progress notifications for watchers that asked for them (etcd: 10 min + up to 10% jitter). */
  progressNotifyIntervalMs: number;
  /** Responses at least this large are split when the watcher asked for fragments (etcd: max request bytes + gRPC overhead). */
  fragmentBytesMax: number;
}

type WatchCall = ServerDuplexStream<WatchRequest, WatchResponse>;

/**
 * The service definition the listener registers: the generated one, but
 * responses go through encodeWatchResponse, which encodes each event once
 * for all the watchers it fans out to.
 */
export const WatchService: typeof GeneratedWatchService = {
  watch: { ...GeneratedWatchService.watch, responseSerialize: encodeWatchResponse },
};

export function watchService(server: EtcdServer, options: Partial<WatchServiceOptions> = {}): WatchServer {
  const watchable = server.watchable;
  const resolved: WatchServiceOptions = {
    progressNotifyIntervalMs: Math.max(watchProgressNotifyIntervalMsMin, options.progressNotifyIntervalMs ?? progressIntervalOf(server)),
    fragmentBytesMax: options.fragmentBytesMax ?? server.config.maxRequestBytes + grpcOverheadBytes,
  };
  return {
    watch: (call: WatchCall) => new WatchStreamServer(server, watchable, call, resolved).start(),
  };
}

/** The member's progress notify interval (--experimental-watch-progress-notify-interval). */
function progressIntervalOf(server: EtcdServer): number {
  return server.config.watchProgressNotifyIntervalMs;
}


class WatchStreamServer {
  private readonly stream: WatchStream;
  private writable = true;
  private readPaused = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Requests are handled one after another: a create waits for its permission check, and later requests wait for it. */
  private requests: Promise<void> = Promise.resolve();

  constructor(
    private readonly server: EtcdServer,
    watchable: WatchableStore,
    private readonly call: WatchCall,
    private readonly options: WatchServiceOptions,
  ) {
    this.stream = watchable.newStream();
  }

  start(): void {
    this.stream.onReadable = () => this.pump();
    this.call.on('data', (req: WatchRequest) => {
      this.requests = this.requests.then(() => this.onRequest(req)).catch((err: unknown) => {
        this.call.destroy(Object.assign(new Error((err as Error).message), toServiceError(err)));
      });
    });
    this.call.on('drain', () => {
      this.writable = true;
      this.pump();
    });
    // A client half-close ends nothing: etcd keeps the stream (and its
    // watchers) until the call itself is cancelled or fails.
    this.call.on('end', () => undefined);
    for (const event of ['cancelled', 'error', 'close'] as const) this.call.on(event, () => this.close());
    // etcd adds up to 10% jitter so that streams created together do not notify together.
    const interval = this.options.progressNotifyIntervalMs;
    this.timer = setInterval(() => this.stream.progressTick(), interval + Math.floor(Math.random() * (interval / 10)));
    this.timer.unref();
  }

  private async onRequest(req: WatchRequest): Promise<void> {
    if (this.closed) return;
    const create = req.createRequest;
    if (create !== undefined) {
      const refusal = await this.permissionToWatch(create.key, create.rangeEnd);
      if (this.closed) return;
      if (refusal !== undefined) this.stream.refuse(refusal);
      else this.stream.watch({
        watchId: create.watchId,
        key: create.key,
        rangeEnd: create.rangeEnd,
        startRevision: create.startRevision,
        prevKv: create.prevKv,
        noPut: create.filters.includes(WatchCreateRequest_FilterType.NOPUT),
        noDelete: create.filters.includes(WatchCreateRequest_FilterType.NODELETE),
        progressNotify: create.progressNotify,
        fragment: create.fragment,
      });
    } else if (req.cancelRequest !== undefined) {
      this.stream.cancel(req.cancelRequest.watchId);
    } else if (req.progressRequest !== undefined) {
      this.stream.requestProgress();
    }
    // An empty request changes nothing; etcd ignores it too.
    this.throttleRequests();
  }

  /**
   * Read permission over everything the watcher would see, checked when it
   * is created, for the token the stream carries (looked at again each time:
   * it may have expired). A from-key watch needs read up to the end of the
   * keyspace (3.4.23 checked only its first key, GHSA-xg4h-6gfc-h4m8).
   * Returns etcd's cancel reason, or undefined when the watch may go ahead.
   */
  private async permissionToWatch(key: Buffer, rangeEnd: Buffer): Promise<string | undefined> {
    try {
      const ai = await this.server.authRequests.authInfo(this.call);
      // An empty key is the smallest key, "\0", as the watchable store reads it.
      this.server.auth.checkRead(ai, key.length === 0 ? Buffer.from([0]) : key, rangeEnd);
      return undefined;
    } catch (err) {
      if (!(err instanceof OperatingError)) throw err;
      return goStatusText(err);
    }
  }

  /** Moves queued responses to gRPC until it pushes back. */
  private pump(): void {
    while (this.writable && !this.closed) {
      const item = this.stream.take();
      if (item === undefined) break;
      const response = item.response;
      const revision = response.header!.revision;
      response.header = this.server.fillHeader(response.header);
      // etcd sends a compaction cancellation with header revision 0; fillHeader would set the current one.
      if (revision === 0n) response.header.revision = 0n;
      const parts = item.fragment ? fragmentResponse(response, this.options.fragmentBytesMax) : [response];
      failpoint('beforeSendWatchResponse');
      for (const part of parts) if (!this.call.write(part)) this.writable = false;
    }
    this.throttleRequests();
  }

  /**
   * While the client leaves a full queue unread, stop reading its requests
   * too: each create, cancel or progress request queues a response, and
   * those must stay bounded as well.
   */
  private throttleRequests(): void {
    if (this.closed) return;
    const full = this.stream.full;
    if (full && !this.readPaused) this.call.pause();
    else if (!full && this.readPaused) this.call.resume();
    this.readPaused = full;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.stream.close();
  }
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/**
 * etcd's sendFragments: a response of at least maxBytes with two or more
 * events is split into consecutive responses, each filled with events until
 * the next would reach maxBytes (always at least one event), every part but
 * the last marked fragment=true. Smaller responses go out whole.
 */
export function fragmentResponse(response: WatchResponse, maxBytes: number): WatchResponse[] {
  if (response.events.length < 2 || WatchResponse.encode(response).finish().length < maxBytes) return [response];
  const base = WatchResponse.encode({ ...response, events: [], fragment: true }).finish().length;
  const sizes = response.events.map((e) => {
    const n = Event.encode(e).finish().length;
    return 1 + varintBytes(n) + n;
  });
  const parts: WatchResponse[] = [];
  let i = 0;
  while (i < sizes.length) {
    const first = i;
    let size = base;
    while (i < sizes.length && (i === first || size + sizes[i]! < maxBytes)) size += sizes[i++]!;
    parts.push({ ...response, events: response.events.slice(first, i), fragment: i < sizes.length });
  }
  return parts;
}
