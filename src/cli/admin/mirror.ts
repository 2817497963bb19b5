import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Client } from '../../client/client.js';
import { CompactedError, EtcdClientError, fromGrpcStatus, isUnavailable, type GrpcStatusLike } from '../../client/errors.js';
import { fromKeyEnd, prefixEnd } from '../../client/keys.js';
import { op } from '../../client/txn.js';
import { Event_EventType, type Event } from '../../proto/gen/mvccpb/kv.js';
import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import { WatchRequest, type RequestOp, type WatchResponse } from '../../proto/gen/etcdserverpb/rpc.js';

/**
 * make-mirror: copies the keys under a prefix from a source cluster to a
 * destination cluster (any etcd v3 API), then follows the source's changes.
 * The same algorithm as etcdctl's (clientv3/mirror): read the whole prefix
 * at one revision R in pages, then watch from R+1 and replay each source
 * revision's events as one destination txn, in order, so the destination
 * passes through the same states as the source. Leases and revisions are
 * not copied (the destination has its own history).
 */
export const mirrorPageKeys = 1000n;
/** Base keys go out in txns of at most this many puts and about this many bytes (well under etcd's limits). */
const baseBatchOps = 64;
const baseBatchBytes = 512 * 1024;
const watchRetryMs = 500;

export interface MirrorOptions {
  prefix: Buffer;
  destPrefix: Buffer;
  signal?: AbortSignal;
  /** Called once the base copy is done, with the revision it was read at. */
  onBaseDone?: (revision: bigint) => void;
}

export class Mirror {
  /** Keys put and deleted at the destination so far (what etcdctl prints every 30 s). */
  total = 0;

  constructor(
    private readonly source: Client,
    private readonly dest: Client,
    private readonly options: MirrorOptions,
  ) {}

  /** Runs until the source's watch ends, the signal aborts, or an error (compaction included) stops it. */
  async run(): Promise<void> {
    const revision = await this.syncBase();
    this.options.onBaseDone?.(revision);
    await this.syncUpdates(revision + 1n);
  }

  /** The destination key of a source key: the source prefix swapped for the destination prefix. */
  destKey(key: Uint8Array): Buffer {
    return Buffer.concat([this.options.destPrefix, Buffer.from(key).subarray(this.options.prefix.length)]);
  }

  private range(): { key: Buffer; rangeEnd: Buffer } {
    const { prefix } = this.options;
    // An empty prefix mirrors everything: from "\0" to the end of the key space, as etcdctl does.
    if (prefix.length === 0) return { key: Buffer.from([0]), rangeEnd: fromKeyEnd };
    return { key: prefix, rangeEnd: prefixEnd(prefix) };
  }

  private async syncBase(): Promise<bigint> {
    // etcdctl learns the current revision from a read of an arbitrary key.
    const revision = (await this.source.kv.get('foo', { signal: this.options.signal })).header?.revision ?? 0n;
    let { key } = this.range();
    const { rangeEnd } = this.range();
    for (;;) {
      const page = await this.source.kv.range({ key, rangeEnd, revision, limit: mirrorPageKeys }, { signal: this.options.signal });
      await this.putAll(page.kvs);
      if (!page.more || page.kvs.length === 0) return revision;
      key = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  private async putAll(kvs: readonly KeyValue[]): Promise<void> {
    let batch: RequestOp[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await this.dest.kv.txn({ success: batch }, { signal: this.options.signal });
      this.total += batch.length;
      batch = [];
      bytes = 0;
    };
    for (const kv of kvs) {
      const size = kv.key.length + kv.value.length;
      if (batch.length >= baseBatchOps || (batch.length > 0 && bytes + size > baseBatchBytes)) await flush();
      batch.push(op.put(this.destKey(kv.key), kv.value));
      bytes += size;
    }
    await flush();
  }

  /** Follows the source from `from`, reopening the watch where it stopped if the stream breaks. */
  private async syncUpdates(from: bigint): Promise<void> {
    let next = from;
    for (;;) {
      try {
        const ended = await this.watchOnce(next, (rev) => {
          next = rev + 1n;
        });
        if (ended) return;
      } catch (err) {
        if (this.options.signal?.aborted === true || !isUnavailable(err)) throw err;
      }
      await sleep(watchRetryMs, this.options.signal);
      // A unary read rotates the client to an endpoint that answers before the watch is reopened.
      await this.source.kv.get('foo', { serializable: true, signal: this.options.signal }).catch(() => undefined);
    }
  }

  /**
   * One watch stream from `start`. Resolves true when the server ends the
   * watch (etcdctl then stops too), false when the stream broke and may be
   * reopened; `applied` is told each source revision once it is replayed.
   */
  private watchOnce(start: bigint, applied: (revision: bigint) => void): Promise<boolean> {
    const stream: ClientDuplexStream<WatchRequest, WatchResponse> = this.source.raw.watch.watch(this.source.raw.metadata());
    const { key, rangeEnd } = this.range();
    const onAbort = (): void => stream.cancel();
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    let queue = Promise.resolve();
    return new Promise<boolean>((resolve, reject) => {
      const fail = (err: unknown): void => {
        stream.cancel();
        reject(err);
      };
      stream.on('data', (response: WatchResponse) => {
        if (response.compactRevision !== 0n) return fail(new CompactedError());
        if (response.canceled) return fail(new MirrorWatchError(response.cancelReason));
        if (response.events.length === 0) return;
        // One response at a time: the destination's pace bounds what is held in memory.
        stream.pause();
        queue = queue.then(() => this.replay(response.events, applied)).then(() => void stream.resume(), fail);
      });
      stream.on('error', (err: Error) => {
        void queue.then(() => reject(isGrpcStatus(err) ? fromGrpcStatus(err) : err));
      });
      stream.on('end', () => {
        void queue.then(() => resolve(true));
      });
      stream.write(WatchRequest.fromPartial({ createRequest: { key, rangeEnd, startRevision: start } }));
    }).finally(() => this.options.signal?.removeEventListener('abort', onAbort));
  }

  /** Replays events in order, one destination txn per source revision (etcdctl's grouping). */
  private async replay(events: readonly Event[], applied: (revision: bigint) => void): Promise<void> {
    for (const batch of revisionBatches(events)) {
      const ops = batch.map((event) =>
        event.type === Event_EventType.DELETE ? op.delete(this.destKey(event.kv!.key)) : op.put(this.destKey(event.kv!.key), event.kv!.value),
      );
      await this.dest.kv.txn({ success: ops }, { signal: this.options.signal });
      this.total += ops.length;
      applied(batch[0]!.kv!.modRevision);
    }
  }
}

/** Consecutive events of the same revision (one source txn) together, in order; events without a key-value are dropped. */
export function revisionBatches(events: readonly Event[]): Event[][] {
  const batches: Event[][] = [];
  for (const event of events) {
    if (event.kv === undefined) continue;
    const last = batches[batches.length - 1];
    if (last !== undefined && last[0]!.kv!.modRevision === event.kv.modRevision) last.push(event);
    else batches.push([event]);
  }
  return batches;
}

/** The source cancelled the watch (for example, permission denied). */
export class MirrorWatchError extends Error {
  constructor(reason: string) {
    super(reason === '' ? 'watch canceled by the source' : reason);
    this.name = 'MirrorWatchError';
  }
}

function isGrpcStatus(err: unknown): err is GrpcStatusLike & Error {
  return err instanceof Error && !(err instanceof EtcdClientError) && typeof (err as Partial<GrpcStatusLike>).code === 'number';
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
