import assert from 'node:assert/strict';
import { Event_EventType, KeyValue, type Event } from '../../proto/gen/mvccpb/kv.js';
import type { WatchResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { KVStore, WriteObserver } from './kvstore.js';
import { bytesToRevision, mainRevisionToBytes } from './revision.js';
import type { KeyRange } from './tree-index.js';
import { WatchGroup, rangeContains, rangeKey, type RangedWatcher } from './watch-group.js';
import { checkWatchLimits, watchLimitsDefault, type WatchLimits } from './watch-limits.js';
import { OperatingError } from '../operating-error.js';

/**
 * The watchable store: etcd's watch guarantees (ordered, unique, reliable,
 * atomic, resumable, bookmarkable) on top of the KVStore, with memory bounded
 * per stream however slowly a client reads.
 *
 * Every watcher is in exactly one state:
 *
 * - synced: every event in its range up to the store's current revision is
 *   already in its stream's send queue. New events reach it in onWrite, which
 *   the KVStore calls synchronously at the end of every applied write.
 * - unsynced: it still needs the history from `minRev` on. A catch-up round
 *   (scheduled, never inside the apply loop) reads a bounded batch of
 *   revisions from the backend, queues the events, and moves it to synced
 *   once it reaches the current revision.
 * - compacted / canceled: finished; nothing more is sent for it.
 *
 * A slow client: when a stream's queue holds more than streamQueueBytesMax,
 * onWrite does not queue further events for that stream's synced watchers;
 * each watcher that would have received some becomes unsynced at exactly the
 * revision it missed ("victim"). It catches up from the backend once its
 * client has drained the queue, so no event is dropped, repeated or
 * reordered, the apply loop never waits, and the server holds at most about
 * one queue's worth of responses per stream: live events stop at the cap,
 * and a catch-up batch only fills a stream up to it (always whole
 * revisions, so the overshoot is at most one revision).
 *
 * Worked example: a watcher on "a" is synced; revisions 5 and 6 write "a"
 * while its stream queue is full. At 5 it becomes unsynced with minRev 5; at
 * 6 nothing happens for it (it is not synced). Its client reads, the queue
 * drains, the next round reads revisions 5..6 from the backend and queues
 * both events in one response; minRev becomes 7 = current + 1: synced again.
 *
 * Everything runs on the one JS thread, so a catch-up round and a write never
 * interleave: a round reads up to the current revision and the next write
 * notifies synced watchers of the revision after it.
 */

/** The watch id of responses that belong to no watcher (stream progress, failed creates). */
export const invalidWatchId = -1n;

/** The watch range is empty (key >= range_end); etcd's cancel reason. */
export class WatcherRangeEmptyError extends OperatingError {
  constructor() {
    super('mvcc: watcher range is empty');
  }
}

/** A client-chosen watch id is already in use on the stream; etcd's cancel reason. */
export class WatcherDuplicateIdError extends OperatingError {
  constructor() {
    super('mvcc: duplicate watch ID provided on the WatchStream');
  }
}

export interface WatchCreateOptions {
  /** 0: the stream picks the next free id (from 0 up); otherwise the client's choice. */
  watchId?: bigint;
  key: Buffer;
  /** Wire encoding: empty = the single key, "\0" = every key >= key, else [key, rangeEnd). */
  rangeEnd?: Buffer;
  /** Inclusive; 0 = from the next revision. */
  startRevision?: bigint;
  prevKv?: boolean;
  noPut?: boolean;
  noDelete?: boolean;
  progressNotify?: boolean;
  fragment?: boolean;
}

export type WatcherState = 'synced' | 'unsynced' | 'compacted' | 'canceled';

export class Watcher implements RangedWatcher {
  state: WatcherState = 'unsynced';
  /**
   * The lowest revision whose events this watcher may still need. For a
   * synced watcher only its lower bound matters (a future start revision);
   * for an unsynced one it is where the next catch-up starts.
   */
  minRev: bigint;
  /** No events were queued since the last progress tick (etcd elides the next notification then). */
  idleSinceTick = true;

  constructor(
    readonly stream: WatchStream,
    readonly id: bigint,
    readonly range: KeyRange,
    /** As requested: 0 means "from now". Kept to skip progress notifications below it (#20221). */
    readonly startRev: bigint,
    readonly options: Readonly<Required<Pick<WatchCreateOptions, 'prevKv' | 'noPut' | 'noDelete' | 'progressNotify' | 'fragment'>>>,
  ) {
    this.minRev = startRev;
  }

  /** False for an event its NOPUT / NODELETE filter drops. */
  wants(e: Event): boolean {
    if (e.type === Event_EventType.PUT) return !this.options.noPut;
    return !this.options.noDelete;
  }
}

/** A response waiting in a stream's send queue. */
export interface QueuedResponse {
  /** Only header.revision is set; the API layer fills cluster, member and term. */
  response: WatchResponse;
  /** The watcher asked for large responses to be split into fragments. */
  fragment: boolean;
  /** Approximate encoded size, for the queue's memory bound. */
  bytes: number;
}

/**
 * What a queued response costs in memory beyond its keys and values: the JS
 * objects of the response and its header (with their bigints) and, per
 * KeyValue, the object, two Buffer objects and three bigints. Measured
 * roughly on Node 20; the queue cap is only honest if these are counted.
 */
const controlResponseBytes = 300;
const eventOverheadBytes = 360;

function kvBytes(kv: KeyValue | undefined): number {
  return kv === undefined ? 0 : kv.key.length + kv.value.length + eventOverheadBytes;
}

function eventsBytes(events: readonly Event[]): number {
  let n = controlResponseBytes;
  for (const e of events) n += kvBytes(e.kv) + kvBytes(e.prevKv);
  return n;
}

function newResponse(revision: bigint, fields: Partial<WatchResponse>): WatchResponse {
  return {
    header: { clusterId: 0n, memberId: 0n, revision, raftTerm: 0n },
    watchId: 0n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: '',
    fragment: false,
    events: [],
    ...fields,
  };
}

/**
 * Decodes a watch range from the wire (etcd v3rpc): an empty key means "\0",
 * the smallest key; an empty range_end the single key; "\0" every key >= key.
 * Undefined when the range is empty (key >= range_end).
 */
export function watchRangeOf(key: Buffer, rangeEnd: Buffer | undefined): KeyRange | undefined {
  const start = key.length === 0 ? '\u0000' : key.toString('latin1');
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  const end = rangeEnd.toString('latin1');
  return start < end ? { start, end } : undefined;
}

/**
 * One client stream: its watchers and its send queue. The API layer takes
 * responses with take() while the transport accepts them; onReadable tells
 * it that the queue became non-empty.
 */
export class WatchStream {
  readonly watchers = new Map<bigint, Watcher>();
  /** Set by the consumer; called (in a microtask) when responses are waiting. */
  onReadable: (() => void) | undefined;
  closed = false;
  /** A stream-wide progress request is waiting for every watcher to be synced. */
  progressRequested = false;
  unsyncedCount = 0;
  private queue: Array<QueuedResponse | undefined> = [];
  private head = 0;
  private bytes = 0;
  private nextId = 0n;
  private readableScheduled = false;

  constructor(private readonly owner: WatchableStore) {}

  /** Creates a watcher and queues its create response; returns its id, or -1 when refused. */
  watch(options: WatchCreateOptions): bigint {
    return this.owner.createWatcher(this, options);
  }

  /** Refuses a watch before it exists (no permission, bad token): created and canceled at once, with the reason. */
  refuse(cancelReason: string): void {
    this.enqueue(newResponse(this.owner.currentRev, { watchId: invalidWatchId, created: true, canceled: true, cancelReason }), false);
  }

  /** Cancels a watcher and queues the cancel response; false (and no response) if the id is unknown. */
  cancel(id: bigint): boolean {
    const w = this.watchers.get(id);
    if (w === undefined || this.closed) return false;
    this.owner.cancelWatcher(w);
    this.enqueue(newResponse(this.owner.currentRev, { watchId: id, canceled: true }), false);
    this.owner.maybeSendStreamProgress(this);
    return true;
  }

  /**
   * A WatchProgressRequest: answered with the store revision once every
   * watcher of the stream is synced (so every event up to it is already
   * queued ahead of the answer), now or later.
   */
  requestProgress(): void {
    this.progressRequested = true;
    this.owner.maybeSendStreamProgress(this);
  }

  /** The periodic progress notification for watchers that asked for it. */
  progressTick(): void {
    this.owner.progressTick(this);
  }

  /** The next response to send, or undefined when the queue is empty. */
  take(): QueuedResponse | undefined {
    if (this.head >= this.queue.length) return undefined;
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const couldCatchUp = this.canCatchUp;
    this.bytes -= item.bytes;
    if (!couldCatchUp && this.canCatchUp && this.unsyncedCount > 0) this.owner.scheduleSync();
    return item;
  }

  get pendingResponses(): number {
    return this.queue.length - this.head;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** Live events for this stream's watchers are held back (watchers become unsynced). */
  get full(): boolean {
    return this.bytes >= this.owner.limits.streamQueueBytesMax;
  }

  /** The stream has room for a catch-up batch. */
  get canCatchUp(): boolean {
    return this.bytes < this.owner.limits.streamCatchUpBelowBytes;
  }

  /** Frees every watcher and the queue. */
  close(): void {
    if (this.closed) return;
    this.owner.closeStream(this);
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
  }

  enqueue(response: WatchResponse, fragment: boolean, bytes = controlResponseBytes): void {
    if (this.closed) return;
    this.queue.push({ response, fragment, bytes });
    this.bytes += bytes;
    if (this.onReadable !== undefined && !this.readableScheduled) {
      this.readableScheduled = true;
      queueMicrotask(() => {
        this.readableScheduled = false;
        if (!this.closed) this.onReadable?.();
      });
    }
  }

  /** Picks the id for a watcher: the client's, or the next free one from 0 up (etcd's rule). */
  allocateId(requested: bigint): bigint | undefined {
    if (requested !== 0n) return this.watchers.has(requested) ? undefined : requested;
    while (this.watchers.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }
}

export interface WatchableStoreOptions {
  limits?: Partial<WatchLimits>;
  /** How catch-up rounds are scheduled; setImmediate lets network and apply work run in between. */
  schedule?: (fn: () => void) => void;
}

export class WatchableStore implements WriteObserver {
  readonly limits: WatchLimits;
  /** Counters for metrics and tests. */
  readonly stats = { victims: 0, catchUpRounds: 0, catchUpMsMax: 0, eventsQueued: 0, compactedWatchers: 0 };
  private readonly synced = new WatchGroup<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly streams = new Set<WatchStream>();
  /** Streams with a progress request waiting for their watchers to sync. */
  private readonly progressWaiting = new Set<WatchStream>();
  private readonly schedule: (fn: () => void) => void;
  private syncScheduled = false;

  constructor(readonly store: KVStore, options: WatchableStoreOptions = {}) {
    this.limits = { ...watchLimitsDefault, ...options.limits };
    checkWatchLimits(this.limits);
    this.schedule = options.schedule ?? ((fn) => void setImmediate(fn));
    store.addObserver(this);
  }

  get currentRev(): bigint {
    return this.store.currentRev;
  }

  get syncedCount(): number {
    return this.synced.size;
  }

  get unsyncedCount(): number {
    return this.unsynced.size;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** The bytes waiting in the fullest stream queue (for metrics and tests). */
  largestQueueBytes(): number {
    let max = 0;
    for (const s of this.streams) max = Math.max(max, s.pendingBytes);
    return max;
  }

  newStream(): WatchStream {
    const s = new WatchStream(this);
    this.streams.add(s);
    return s;
  }

  // ---- watcher lifecycle (called through WatchStream) ----

  createWatcher(stream: WatchStream, o: WatchCreateOptions): bigint {
    assert.ok(!stream.closed, 'watch on a closed stream');
    const wsrev = this.store.currentRev;
    const range = watchRangeOf(o.key, o.rangeEnd);
    const id = range === undefined ? undefined : stream.allocateId(o.watchId ?? 0n);
    if (range === undefined || id === undefined) {
      const reason = range === undefined ? new WatcherRangeEmptyError().message : new WatcherDuplicateIdError().message;
      stream.enqueue(newResponse(wsrev, { watchId: invalidWatchId, created: true, canceled: true, cancelReason: reason }), false);
      return invalidWatchId;
    }
    const startRev = o.startRevision !== undefined && o.startRevision > 0n ? o.startRevision : 0n;
    const w = new Watcher(stream, id, range, startRev, {
      prevKv: o.prevKv ?? false, noPut: o.noPut ?? false, noDelete: o.noDelete ?? false,
      progressNotify: o.progressNotify ?? false, fragment: o.fragment ?? false,
    });
    stream.watchers.set(id, w);
    // The create response goes first in the queue: no event of this watcher can precede it.
    stream.enqueue(newResponse(wsrev, { watchId: id, created: true }), false);
    if (startRev === 0n || startRev > wsrev) {
      w.minRev = startRev > wsrev + 1n ? startRev : wsrev + 1n;
      w.state = 'synced';
      this.synced.add(w);
    } else {
      w.state = 'unsynced';
      this.unsynced.add(w);
      stream.unsyncedCount++;
      if (startRev < this.store.compactMainRev) this.compactWatcher(w, this.store.compactMainRev);
      else this.scheduleSync();
    }
    return id;
  }

  cancelWatcher(w: Watcher): void {
    if (w.state === 'synced') this.synced.delete(w);
    if (w.state === 'unsynced') this.leaveUnsynced(w);
    w.state = 'canceled';
    w.stream.watchers.delete(w.id);
  }

  closeStream(stream: WatchStream): void {
    for (const w of [...stream.watchers.values()]) this.cancelWatcher(w);
    this.streams.delete(stream);
    this.progressWaiting.delete(stream);
  }

  private leaveUnsynced(w: Watcher): void {
    assert.ok(this.unsynced.delete(w), 'unsynced watcher missing from the unsynced set');
    w.stream.unsyncedCount--;
  }

  private markSynced(w: Watcher): void {
    assert.ok(w.minRev > this.store.currentRev, `watcher ${w.id} marked synced at ${w.minRev} <= current ${this.store.currentRev}`);
    this.leaveUnsynced(w);
    w.state = 'synced';
    this.synced.add(w);
  }

  /** A synced watcher whose stream is full misses `rev`: it catches up from there later. */
  private makeVictim(w: Watcher, rev: bigint): void {
    this.synced.delete(w);
    w.state = 'unsynced';
    w.minRev = rev;
    this.unsynced.add(w);
    w.stream.unsyncedCount++;
    this.stats.victims++;
    this.scheduleSync();
  }

  /**
   * The history the watcher needs is gone: etcd answers with compact_revision
   * set and canceled (header revision 0, no reason). The watcher keeps its id
   * on the stream until the client cancels it or closes the stream, as in etcd.
   */
  private compactWatcher(w: Watcher, compactRev: bigint): void {
    this.leaveUnsynced(w);
    w.state = 'compacted';
    this.stats.compactedWatchers++;
    w.stream.enqueue(newResponse(0n, { watchId: w.id, compactRevision: compactRev, canceled: true }), false);
    this.maybeSendStreamProgress(w.stream);
  }

  // ---- the write path (inside the apply loop: bounded work, never waits) ----

  onWrite(rev: bigint, events: Event[]): void {
    if (this.synced.size > 0) this.notifySynced(rev, events);
    if (this.progressWaiting.size > 0) for (const s of [...this.progressWaiting]) this.maybeSendStreamProgress(s);
  }

  private notifySynced(rev: bigint, events: Event[]): void {
    const matched = new Map<Watcher, Event[]>();
    for (const ev of events) {
      const key = ev.kv!.key.toString('latin1');
      this.synced.forEachWatching(key, (w) => {
        // A watcher with a future start revision sees nothing below it (#20221).
        if (rev < w.minRev) return;
        const list = matched.get(w);
        if (list === undefined) matched.set(w, [ev]);
        else list.push(ev);
      });
    }
    const withPrev = new Map<Event, Event>();
    for (const [w, evs] of matched) {
      const out = this.filter(w, evs);
      if (out.length === 0) continue;
      if (w.stream.full) {
        this.makeVictim(w, rev);
        continue;
      }
      this.queueEvents(w, rev, this.addPrevKvs(w, out, withPrev));
      w.minRev = rev + 1n;
    }
  }

  /**
   * A snapshot from the leader replaced the store. Synced watchers now lag
   * behind the new history: they go back to unsynced at the revision they
   * expect next and catch up from the new backend (or are told their start
   * was compacted away), so no event between the two states is lost.
   */
  onRestore(): void {
    const current = this.store.currentRev;
    for (const w of [...this.synced.values()]) {
      if (w.minRev > current) continue;
      this.synced.delete(w);
      w.state = 'unsynced';
      this.unsynced.add(w);
      w.stream.unsyncedCount++;
    }
    this.scheduleSync();
  }

  onCompact(rev: bigint): void {
    for (const w of this.unsynced) if (w.minRev < rev) this.compactWatcher(w, rev);
  }

  /** The events the watcher's NOPUT / NODELETE filters let through. */
  private filter(w: Watcher, evs: Event[]): Event[] {
    return w.options.noPut || w.options.noDelete ? evs.filter((e) => w.wants(e)) : evs;
  }

  /** Adds prev_kv when the watcher asked for it, computed once per event for all such watchers. */
  private addPrevKvs(w: Watcher, evs: Event[], withPrev: Map<Event, Event>): Event[] {
    if (!w.options.prevKv) return evs;
    return evs.map((e) => {
      let p = withPrev.get(e);
      if (p === undefined) withPrev.set(e, (p = { type: e.type, kv: e.kv, prevKv: this.prevKvOf(e) }));
      return p;
    });
  }

  /**
   * The key's value just before the event, as etcd's watch server reads it
   * (a range at mod_revision - 1). Left unset for a creation and when that
   * revision is compacted.
   */
  private prevKvOf(e: Event): KeyValue | undefined {
    const kv = e.kv!;
    if (e.type === Event_EventType.PUT && kv.createRevision === kv.modRevision) return undefined;
    const at = kv.modRevision - 1n;
    if (at < 1n || at < this.store.compactMainRev) return undefined;
    const hit = this.store.index.get(kv.key.toString('latin1'), at);
    return hit === undefined ? undefined : this.store.loadRevision(hit.modified);
  }

  private queueEvents(w: Watcher, headerRev: bigint, events: Event[]): void {
    w.stream.enqueue(newResponse(headerRev, { watchId: w.id, events }), w.options.fragment, eventsBytes(events));
    w.idleSinceTick = false;
    this.stats.eventsQueued += events.length;
  }

  // ---- catch-up from the backend (scheduled, one bounded batch per round) ----

  scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    this.schedule(() => this.runSync());
  }

  /** One round: pick runnable unsynced watchers, read one batch of history, queue it. */
  runSync(): void {
    this.syncScheduled = false;
    const chosen = this.chooseUnsynced();
    if (chosen.length > 0) {
      const started = performance.now();
      const curRev = this.store.currentRev;
      const batch = this.readHistory(chosen, curRev);
      this.deliverCatchUp(chosen, batch, curRev);
      this.stats.catchUpRounds++;
      this.stats.catchUpMsMax = Math.max(this.stats.catchUpMsMax, performance.now() - started);
    }
    for (const w of this.unsynced) {
      if (w.stream.canCatchUp) {
        this.scheduleSync();
        break;
      }
    }
  }

  private chooseUnsynced(): Watcher[] {
    const compactRev = this.store.compactMainRev;
    const chosen: Watcher[] = [];
    for (const w of this.unsynced) {
      if (w.minRev < compactRev) {
        this.compactWatcher(w, compactRev);
        continue;
      }
      if (!w.stream.canCatchUp) continue;
      assert.ok(w.minRev <= this.store.currentRev, `unsynced watcher ${w.id} is ahead of the store`);
      chosen.push(w);
      if (chosen.length >= this.limits.syncWatchersMax) break;
    }
    return chosen;
  }

  /**
   * Reads stored changes from the lowest minRev of the chosen watchers on, at
   * most catchUpRevisionsMax revisions, about catchUpBytesMax bytes or
   * catchUpRecordsMax records, always
   * ending on a revision boundary so that no revision is split (atomic).
   * Returns each watcher's events and the last revision the batch covers.
   *
   * The batch is read once; each watcher's events are then picked from it,
   * once per distinct (range, minRev): the watchers of a fan-out (a thousand
   * on one prefix, all fallen behind at the same revision) share one list of
   * the same Event objects, which the encoder then encodes once. Matching
   * every record against every watcher was most of a busy member's time.
   */
  private readHistory(chosen: Watcher[], curRev: bigint): { events: Map<Watcher, Event[]>; coveredTo: bigint } {
    let from = chosen[0]!.minRev;
    const group = new WatchGroup<Watcher>();
    for (const w of chosen) {
      if (w.minRev < from) from = w.minRev;
      group.add(w);
    }
    const read: Array<{ key: string; rev: bigint; event: Event }> = [];
    let revs = 0;
    let bytes = 0;
    let records = 0;
    let last = from - 1n;
    let truncated = false;
    const { catchUpRevisionsMax, catchUpBytesMax, catchUpRecordsMax } = this.limits;
    this.store.backend.scan('key', mainRevisionToBytes(from), mainRevisionToBytes(curRev + 1n), (k, v) => {
      const { rev, tombstone } = bytesToRevision(k);
      if (rev.main !== last) {
        if (revs >= catchUpRevisionsMax || bytes >= catchUpBytesMax || records >= catchUpRecordsMax) {
          truncated = true;
          return false;
        }
        revs++;
        last = rev.main;
      }
      bytes += v.length;
      records++;
      const kv = KeyValue.decode(v);
      const key = kv.key.toString('latin1');
      if (!group.watches(key)) return true;
      // A tombstone record carries the key; its mod_revision is the delete's revision.
      const event: Event = tombstone ? { type: Event_EventType.DELETE, kv: { ...kv, modRevision: rev.main }, prevKv: undefined }
        : { type: Event_EventType.PUT, kv, prevKv: undefined };
      read.push({ key, rev: rev.main, event });
      return true;
    });
    const events = new Map<Watcher, Event[]>();
    const shared = new Map<string, Event[]>();
    for (const w of chosen) {
      const id = `${w.minRev}@${rangeKey(w.range)}`;
      let list = shared.get(id);
      if (list === undefined) {
        list = [];
        for (const r of read) if (r.rev >= w.minRev && rangeContains(w.range, r.key)) list.push(r.event);
        shared.set(id, list);
      }
      if (list.length > 0) events.set(w, list);
    }
    return { events, coveredTo: truncated ? last : curRev };
  }

  private deliverCatchUp(chosen: Watcher[], batch: { events: Map<Watcher, Event[]>; coveredTo: bigint }, curRev: bigint): void {
    const withPrev = new Map<Event, Event>();
    const touched = new Set<WatchStream>();
    for (const w of chosen) {
      assert.equal(w.state, 'unsynced');
      // The batch ended before this watcher's history starts, or an earlier
      // watcher of its stream filled the queue this round: next round.
      if (w.minRev > batch.coveredTo || !w.stream.canCatchUp) continue;
      const { events, resumeAt } = this.fitToRoom(w, this.filter(w, batch.events.get(w) ?? []), withPrev);
      // etcd stamps catch-up responses with the store revision they were read at.
      if (events.length > 0) this.queueEvents(w, curRev, events);
      w.minRev = resumeAt ?? batch.coveredTo + 1n;
      if (w.minRev > curRev) {
        this.markSynced(w);
        touched.add(w.stream);
      }
    }
    for (const s of touched) this.maybeSendStreamProgress(s);
  }

  /**
   * The leading revisions of `events` that fit in the stream's room below
   * streamQueueBytesMax (at least one whole revision), with prev_kv added;
   * resumeAt is the first revision left out, if any.
   */
  private fitToRoom(w: Watcher, events: Event[], withPrev: Map<Event, Event>): { events: Event[]; resumeAt?: bigint } {
    const room = this.limits.streamQueueBytesMax - w.stream.pendingBytes;
    let bytes = controlResponseBytes;
    for (let i = 0; i < events.length; i++) {
      const rev = events[i]!.kv!.modRevision;
      if (i > 0 && bytes > room && rev !== events[i - 1]!.kv!.modRevision) {
        return { events: this.addPrevKvs(w, events.slice(0, i), withPrev), resumeAt: rev };
      }
      const e = this.addPrevKvs(w, [events[i]!], withPrev)[0]!;
      bytes += kvBytes(e.kv) + kvBytes(e.prevKv);
    }
    return { events: this.addPrevKvs(w, events, withPrev) };
  }

  // ---- progress notifications ----

  /**
   * Answers a stream's pending progress request if no watcher of it lags:
   * all synced, and none waiting for a future start revision (a notification
   * below it would make a client resume too early, #20221). Otherwise the
   * request stays pending and is answered when that changes (#15220: never
   * answer ahead of events still to be delivered).
   */
  maybeSendStreamProgress(s: WatchStream): void {
    if (!s.progressRequested || s.closed) {
      this.progressWaiting.delete(s);
      return;
    }
    const rev = this.store.currentRev;
    for (const w of s.watchers.values()) {
      if (w.state === 'unsynced' || (w.state === 'synced' && w.startRev > rev)) {
        this.progressWaiting.add(s);
        return;
      }
    }
    s.progressRequested = false;
    this.progressWaiting.delete(s);
    s.enqueue(newResponse(rev, { watchId: invalidWatchId }), false);
  }

  /**
   * etcd's periodic notification: each watcher that asked for it and got no
   * events since the last tick gets an empty response at the store revision,
   * if it is synced (all its events are queued ahead), not waiting for a
   * future start revision, and its stream is not backed up anyway.
   */
  progressTick(s: WatchStream): void {
    const rev = this.store.currentRev;
    for (const w of s.watchers.values()) {
      if (!w.options.progressNotify) continue;
      if (w.idleSinceTick && w.state === 'synced' && w.startRev <= rev && !s.full) {
        s.enqueue(newResponse(rev, { watchId: w.id }), false);
      }
      w.idleSinceTick = true;
    }
  }
}

const perStore = new WeakMap<KVStore, WatchableStore>();

/**
 * The one watchable store of a KVStore (one per member), created on first
 * use. The member may create it eagerly with the same call.
 */
export function watchableStoreFor(store: KVStore, options?: WatchableStoreOptions): WatchableStore {
  let ws = perStore.get(store);
  if (ws === undefined) perStore.set(store, (ws = new WatchableStore(store, options)));
  return ws;
}
