import assert from 'node:assert/strict';
import { KeyValue, Event, Event_EventType } from '../../proto/gen/mvccpb/kv.js';
import { encodeKeyValue } from '../../proto/fast/codecs.js';
import type { Backend } from './backend.js';
import { CompactedError, FutureRevisionError } from './errors.js';
import { bytesToRevision, mainRevisionToBytes, revisionKeyString, revisionToBytes, type Revision } from './revision.js';
import { TreeIndex, type KeyRange } from './tree-index.js';
import { compactionBatchKeysMax } from '../constants.js';
import { failpoint } from '../failpoint.js';

/**
 * The multi-version key-value store (etcd's mvcc package, our design):
 *
 * - Every stored change is a KeyValue protobuf in the backend's `key` bucket,
 *   keyed by its revision (revision.ts). Deletes store a tombstone record.
 * - The TreeIndex in memory maps each key to its generations of revisions, so
 *   a read at any uncompacted revision finds the record to load per key.
 * - `currentRev` is the revision of the last applied write (1 on an empty
 *   store, as in etcd); `compactMainRev` the last compaction (-1 if none).
 * - Writes happen only in the apply loop through WriteTxn, one per request,
 *   so one request = one revision however many keys it changes.
 * - At startup the index is rebuilt by scanning the `key` bucket in revision
 *   order; an interrupted compaction is resumed.
 *
 * The store never touches the network or the clock; it is driven by the
 * applier and is deterministic given the same writes.
 */

/** Lease bookkeeping the store needs when keys are written or deleted (implemented by the lessor). */
export interface LeaseKeyTracker {
  exists(lease: bigint): boolean;
  leaseOfKey(key: string): bigint;
  attach(lease: bigint, key: string): void;
  detach(lease: bigint, key: string): void;
}

/** Observes every applied write with its events (the watchable store). */
export interface WriteObserver {
  onWrite(rev: bigint, events: Event[]): void;
  onCompact?(rev: bigint): void;
  /** The whole store was replaced (a snapshot from the leader was installed). */
  onRestore?(): void;
}

export interface RangeOptions {
  /** 0 or less: no limit. */
  limit?: number;
  /** 0 or less: the transaction's own revision. */
  rev?: bigint;
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  /** The store revision the read ran at (the response header revision). */
  rev: bigint;
}

const metaKeys = {
  scheduledCompact: Buffer.from('scheduledCompactRev'),
  finishedCompact: Buffer.from('finishedCompactRev'),
};

export class KVStore {
  index = new TreeIndex();
  currentRev = 1n;
  compactMainRev = -1n;
  private leases: LeaseKeyTracker | undefined;
  private readonly observers: WriteObserver[] = [];
  private compacting: Promise<void> = Promise.resolve();

  constructor(public backend: Backend) {
    this.restore();
  }

  /**
   * Replaces the whole store with another backend's contents (installing a
   * snapshot received from the leader). Observers stay attached and are told.
   */
  restoreFrom(backend: Backend): void {
    this.backend = backend;
    this.index = new TreeIndex();
    this.currentRev = 1n;
    this.compactMainRev = -1n;
    this.compacting = Promise.resolve();
    this.restore();
    for (const o of this.observers) o.onRestore?.();
  }

  setLeaseTracker(leases: LeaseKeyTracker): void {
    this.leases = leases;
  }

  addObserver(observer: WriteObserver): void {
    this.observers.push(observer);
  }

  get leaseTracker(): LeaseKeyTracker | undefined {
    return this.leases;
  }

  /** A read view at the current revision. */
  read(): ReadTxn {
    return new ReadTxn(this, this.currentRev);
  }

  /** A write transaction; End() it to publish the new revision. Only the applier calls this. */
  write(): WriteTxn {
    return new WriteTxn(this);
  }

  /** Shared range implementation for read and write transactions. */
  rangeAt(range: KeyRange, options: RangeOptions, curRev: bigint): RangeResult {
    let rev = options.rev ?? 0n;
    if (rev > curRev) throw new FutureRevisionError();
    if (rev <= 0n) rev = curRev;
    if (rev < this.compactMainRev) throw new CompactedError();
    if (options.countOnly) return { kvs: [], count: this.index.countRevisions(range, rev), rev: curRev };
    const hits = this.index.revisions(range, rev);
    const limit = options.limit !== undefined && options.limit > 0 && options.limit < hits.length ? options.limit : hits.length;
    const kvs: KeyValue[] = new Array(limit);
    for (let i = 0; i < limit; i++) kvs[i] = this.loadRevision(hits[i]!.hit.modified);
    return { kvs, count: hits.length, rev: curRev };
  }

  loadRevision(rev: Revision): KeyValue {
    const bytes = this.backend.get('key', revisionToBytes(rev));
    assert.ok(bytes !== undefined, `backend has no record for indexed revision ${rev.main}.${rev.sub}`);
    return KeyValue.decode(bytes);
  }

  notifyWrite(rev: bigint, events: Event[]): void {
    for (const o of this.observers) o.onWrite(rev, events);
  }

  /**
   * Compaction, part one (runs in the apply loop, deterministic): validates
   * the revision, records it as scheduled in the backend, compacts the
   * in-memory index. Part two deletes the old records from the backend in
   * batches in the background; the returned promise resolves when it is done.
   */
  compact(rev: bigint): Promise<void> {
    if (rev <= this.compactMainRev) throw new CompactedError();
    if (rev > this.currentRev) throw new FutureRevisionError();
    this.compactMainRev = rev;
    this.backend.put('meta', metaKeys.scheduledCompact, u64(rev));
    const keep = this.index.compact(rev);
    for (const o of this.observers) o.onCompact?.(rev);
    const previous = this.compacting;
    this.compacting = previous.then(() => this.deleteCompacted(rev, keep));
    return this.compacting;
  }

  /** Removes records at or below rev that the index no longer needs, a batch per backend transaction. */
  private async deleteCompacted(rev: bigint, keep: Set<string>): Promise<void> {
    // The scheduled-compaction marker must be durable before any record goes,
    // so that a crash mid-way resumes the same compaction at restart.
    await this.backend.commit();
    let start = mainRevisionToBytes(0n);
    const end = mainRevisionToBytes(rev + 1n);
    for (;;) {
      const doomed: Buffer[] = [];
      let next: Buffer | undefined;
      this.backend.scan('key', start, end, (key) => {
        if (doomed.length >= compactionBatchKeysMax) {
          next = key;
          return false;
        }
        const { rev: r } = bytesToRevision(key);
        if (!keep.has(revisionKeyString(r))) doomed.push(Buffer.from(key));
        return true;
      });
      for (const key of doomed) this.backend.delete('key', key);
      failpoint('compactBeforeCommitBatch');
      await this.backend.commit();
      failpoint('compactAfterCommitBatch');
      if (next === undefined) break;
      start = next;
    }
    failpoint('compactBeforeSetFinishedCompact');
    this.backend.put('meta', metaKeys.finishedCompact, u64(rev));
    await this.backend.commit();
    failpoint('compactAfterSetFinishedCompact');
  }

  /** Resolves when every scheduled compaction has physically finished. */
  compactionsSettled(): Promise<void> {
    return this.compacting;
  }

  /** Rebuilds the index and revisions from the backend; resumes an interrupted compaction. */
  private restore(): void {
    const scheduled = readU64(this.backend.get('meta', metaKeys.scheduledCompact));
    const finished = readU64(this.backend.get('meta', metaKeys.finishedCompact));
    let last = 0n;
    this.backend.scan('key', undefined, undefined, (key, value) => {
      const { rev, tombstone } = bytesToRevision(key);
      // Records below an unfinished compaction that survived it are dropped
      // again by compacting the rebuilt index below.
      const kv = KeyValue.decode(value);
      const keyString = kv.key.toString('latin1');
      this.index.restoreChange(keyString, rev, tombstone, kv.createRevision, kv.version);
      last = rev.main;
    });
    if (last > 0n) this.currentRev = last;
    if (finished !== undefined) this.compactMainRev = finished;
    if (scheduled !== undefined && (finished === undefined || scheduled > finished)) {
      if (scheduled > this.currentRev) this.currentRev = scheduled;
      this.compactMainRev = scheduled;
      const keep = this.index.compact(scheduled);
      this.compacting = this.deleteCompacted(scheduled, keep);
    } else if (finished !== undefined && finished > this.currentRev) {
      // Everything up to the compaction was deleted (all keys removed): the
      // revision counter must still not go back.
      this.currentRev = finished;
    }
  }

  /** Re-attaches keys to leases after the lessor has been loaded (restart). */
  reattachLeases(): void {
    const leases = this.leases;
    if (leases === undefined) return;
    this.index.forEachKeyIndex({ start: '', end: null }, (ki) => {
      const hit = ki.get(this.currentRev);
      if (hit === undefined) return;
      const kv = this.loadRevision(hit.modified);
      if (kv.lease !== 0n) leases.attach(kv.lease, ki.key);
    });
  }
}

export class ReadTxn {
  readonly firstRev: bigint;

  constructor(private readonly store: KVStore, readonly rev: bigint) {
    this.firstRev = store.compactMainRev;
  }

  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    return this.store.rangeAt(range, options, this.rev);
  }
}

/**
 * One write request's changes. Every change gets revision
 * {main: beginRev + 1, sub: n}; reads inside the transaction see the changes
 * made so far (at beginRev + 1 once anything changed), as etcd's do.
 */
export class WriteTxn {
  readonly beginRev: bigint;
  readonly events: Event[] = [];
  private ended = false;

  constructor(private readonly store: KVStore) {
    this.beginRev = store.currentRev;
  }

  get firstRev(): bigint {
    return this.store.compactMainRev;
  }

  /** The revision reads in this transaction run at. */
  get rev(): bigint {
    return this.events.length > 0 ? this.beginRev + 1n : this.beginRev;
  }

  get changed(): boolean {
    return this.events.length > 0;
  }

  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    return this.store.rangeAt(range, options, this.rev);
  }

  /** Writes key=value; returns the revision of the write. */
  put(key: Buffer, value: Buffer, lease: bigint): bigint {
    assert.ok(!this.ended, 'put on an ended write txn');
    const main = this.beginRev + 1n;
    const keyString = key.toString('latin1');
    const prev = this.store.index.get(keyString, main);
    const rev: Revision = { main, sub: this.events.length };
    const kv: KeyValue = {
      key,
      value,
      createRevision: prev === undefined ? main : prev.created.main,
      modRevision: main,
      version: (prev?.version ?? 0n) + 1n,
      lease,
    };
    this.store.backend.put('key', revisionToBytes(rev), encodeKeyValue(kv));
    this.store.index.put(keyString, rev);
    this.events.push({ type: Event_EventType.PUT, kv, prevKv: undefined });
    const leases = this.store.leaseTracker;
    if (leases !== undefined) {
      const oldLease = prev === undefined ? 0n : leases.leaseOfKey(keyString);
      if (oldLease !== 0n) leases.detach(oldLease, keyString);
      if (lease !== 0n) leases.attach(lease, keyString);
    }
    return main;
  }

  /** Deletes every live key in the range; returns how many were deleted. */
  deleteRange(range: KeyRange): number {
    assert.ok(!this.ended, 'delete on an ended write txn');
    const live = this.store.index.revisions(range, this.rev);
    for (const { key } of live) this.deleteKey(key);
    return live.length;
  }

  private deleteKey(keyString: string): void {
    const main = this.beginRev + 1n;
    const rev: Revision = { main, sub: this.events.length };
    const key = Buffer.from(keyString, 'latin1');
    const kv: KeyValue = { key, value: Buffer.alloc(0), createRevision: 0n, modRevision: main, version: 0n, lease: 0n };
    this.store.backend.put('key', revisionToBytes(rev, true), encodeKeyValue(kv));
    const deleted = this.store.index.tombstone(keyString, rev);
    assert.ok(deleted, 'tombstone of a key that was live a moment ago failed');
    this.events.push({ type: Event_EventType.DELETE, kv, prevKv: undefined });
    const leases = this.store.leaseTracker;
    if (leases !== undefined) {
      const oldLease = leases.leaseOfKey(keyString);
      if (oldLease !== 0n) leases.detach(oldLease, keyString);
    }
  }

  /** Publishes the revision (if anything changed) and notifies observers. Returns the store revision. */
  end(): bigint {
    assert.ok(!this.ended, 'write txn ended twice');
    this.ended = true;
    if (this.events.length > 0) {
      this.store.currentRev = this.beginRev + 1n;
      this.store.notifyWrite(this.store.currentRev, this.events);
    }
    return this.store.currentRev;
  }
}

export function u64(value: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(value);
  return b;
}

export function readU64(bytes: Buffer | undefined): bigint | undefined {
  if (bytes === undefined || bytes.length !== 8) return undefined;
  return bytes.readBigUInt64BE(0);
}
