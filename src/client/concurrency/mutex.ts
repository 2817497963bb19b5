import type { Compare, ResponseHeader } from '../../proto/gen/etcdserverpb/rpc.js';
import type { Bytes } from '../keys.js';
import type { CallOptions } from '../options.js';
import { compare, op } from '../txn.js';
import { LockedError, SessionExpiredError } from './errors.js';
import { firstCreate, keyDirectory, sessionKey, waitDeletes } from './keys.js';
import type { Session } from './session.js';

/**
 * A distributed lock, etcd's recipe (clientv3/concurrency/mutex.go):
 *
 *   const mutex = new Mutex(session, 'jobs');
 *   await mutex.lock();
 *   try { ... write with mutex.header.revision as the fencing token ... }
 *   finally { await mutex.unlock(); }
 *
 * Each contender puts `<name>/<lease id in hex>` under its session's lease,
 * in a txn that only creates it if absent. The key's create revision is its
 * place in the queue: the holder is the oldest key. A waiter watches only
 * the key just ahead of it, so one release wakes one waiter.
 *
 * After waiting, the lock is granted only if our key still exists with the
 * create revision we queued with: if the session's lease expired while we
 * waited, the key went with it and someone behind us may already hold the
 * lock. etcd 3.4 granted it anyway (etcd#11456, found by Jepsen); we fail
 * with SessionExpiredError.
 *
 * A lease-based lock cannot exclude a holder that pauses past its TTL. The
 * protected resource must check a fencing token: `header.revision` at
 * acquisition (etcdctl's ETCD_LOCK_REV). It is higher than the token of
 * every earlier holder, because a holder is granted the lock only after it
 * has seen the previous holder's key deleted, at a revision above that
 * holder's token.
 */
export class Mutex {
  private readonly directory: Buffer;
  private myKey: Buffer | undefined;
  private myRevision = -1n;
  private acquired: ResponseHeader | undefined;

  constructor(
    readonly session: Session,
    name: Bytes,
  ) {
    this.directory = keyDirectory(name);
  }

  /** The ownership key (`<name>/<lease hex>`), once lock() has queued it. */
  get key(): Buffer | undefined {
    return this.myKey;
  }

  /** The create revision of the ownership key: the place in the queue. */
  get revision(): bigint {
    return this.myRevision;
  }

  /** The response header when the lock was acquired; its revision is the fencing token. */
  get header(): ResponseHeader | undefined {
    return this.acquired;
  }

  /** Waits for the lock. On failure or cancellation the queued key is removed again. */
  async lock(options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      const holder = await this.enqueue(options.signal);
      if (holder === 'me') {
        if (this.session.lost !== undefined) throw new SessionExpiredError();
        return;
      }
      await waitDeletes(this.session.client, this.directory, this.myRevision - 1n, options.signal);
      await this.confirmOwnership(options.signal);
    } catch (err) {
      await this.unlock().catch(() => undefined);
      throw err;
    }
  }

  /** Takes the lock if it is free right now; fails with LockedError otherwise (leaving no key behind). */
  async tryLock(): Promise<void> {
    let holder: 'me' | 'other';
    try {
      holder = await this.enqueue(undefined);
    } catch (err) {
      await this.unlock().catch(() => undefined);
      throw err;
    }
    if (holder === 'me') return;
    await this.unlock().catch(() => undefined);
    throw new LockedError();
  }

  /** Releases the lock (or leaves the queue): deletes the ownership key. */
  async unlock(options: CallOptions = {}): Promise<void> {
    if (this.myKey === undefined) return;
    await this.session.client.kv.delete(this.myKey, options);
    this.myKey = undefined;
    this.myRevision = -1n;
  }

  /** A txn comparison that holds while this mutex owns the lock (for guarded writes). */
  isOwner(): Compare {
    return compare.createRevision(this.myKey ?? Buffer.alloc(0), '=', this.myRevision);
  }

  /**
   * Puts our key in the queue (or finds it there, if this session already
   * queued) and learns the holder, in one txn.
   */
  private async enqueue(signal: AbortSignal | undefined): Promise<'me' | 'other'> {
    const session = this.session;
    const key = sessionKey(this.directory, session.lease);
    // Known before the txn: a wait canceled while the txn's response is still
    // in flight may already have queued the key, and unlock() must remove it.
    this.myKey = key;
    const response = await session.client.kv.txn(
      {
        compare: [compare.createRevision(key, '=', 0n)],
        success: [op.put(key, '', { lease: session.lease }), op.get(this.directory, firstCreate)],
        failure: [op.get(key), op.get(this.directory, firstCreate)],
      },
      { signal },
    );
    this.myRevision = response.succeeded
      ? response.header!.revision
      : response.responses[0]!.responseRange!.kvs[0]!.createRevision;
    const owner = response.responses[1]!.responseRange!.kvs[0];
    if (owner === undefined || owner.createRevision === this.myRevision) {
      this.acquired = response.header;
      return 'me';
    }
    return 'other';
  }

  /** After waiting: the lock is ours only if our key survived the wait unchanged. */
  private async confirmOwnership(signal: AbortSignal | undefined): Promise<void> {
    const check = await this.session.client.kv.get(this.myKey!, { signal });
    const mine = check.kvs[0];
    if (mine === undefined || mine.createRevision !== this.myRevision || this.session.lost !== undefined) {
      throw new SessionExpiredError();
    }
    this.acquired = check.header;
  }
}
