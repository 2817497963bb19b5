/**
 * The persisted part of the Raft log, as the core reads it. The application
 * owns the durable copy (a WAL plus snapshot files in the server); it keeps a
 * Storage in step with what it persisted from each Ready, and the core only
 * ever reads from it.
 */
import assert from 'node:assert';
import type { ConfState, Entry, HardState, Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors.js';
import { emptyHardState, emptySnapshot, limitSize, newEntry, snapshotConfState, snapshotIndex, snapshotTerm } from './messages.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  /**
   * The persisted hard state, and the configuration as of the applied index
   * the RawNode is created with (RaftConfig.applied): the latest snapshot's
   * when applied is unset, else the one the application stored with its
   * state machine.
   */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), at most `maxBytes` of them but always at least one.
   * Throws CompactedError if lo is below firstIndex().
   */
  entries(lo: bigint, hi: bigint, maxBytes: number): Entry[];
  /**
   * The term of entry i, for i in [firstIndex()-1, lastIndex()]: the term of
   * the entry just before the first is kept (from the snapshot) so that the
   * log-matching check works at the boundary. Throws CompactedError below
   * that and UnavailableError above lastIndex().
   */
  term(i: bigint): bigint;
  firstIndex(): bigint;
  lastIndex(): bigint;
  /** The latest snapshot. May throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

/**
 * A Storage held in memory: the server keeps one beside its WAL (filled from
 * the WAL at startup, then updated after each persisted Ready), and tests use
 * it alone.
 *
 * `ents[0]` is a dummy entry carrying the index and term of the last
 * compacted (or snapshotted) entry, so term() works at the boundary.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  private ents: Entry[] = [newEntry({})];
  /** The configuration at the application's applied index, if it differs from the snapshot's. */
  private appliedConfState: ConfState | undefined;

  /**
   * An empty storage. With `confState`, the log starts empty at index 1
   * with that configuration already in place (as if a snapshot at index 0
   * held it): tests use this to start a cluster without bootstrap entries.
   */
  constructor(options: { confState?: ConfState } = {}) {
    if (options.confState !== undefined) {
      this.snap = { ...this.snap, metadata: { index: 0n, term: 0n, confState: options.confState } };
    }
  }

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: this.appliedConfState ?? snapshotConfState(this.snap) };
  }

  /**
   * On restart, before creating the RawNode with `applied` past the latest
   * snapshot: the configuration as of `applied` (what applyConfChange
   * returned last, stored with the state machine). Without it, changes
   * applied after the snapshot would be missing from Raft's configuration,
   * since Raft does not hand those entries out again.
   */
  setConfState(cs: ConfState): void {
    this.appliedConfState = cs;
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private get offset(): bigint {
    return this.ents[0]!.index;
  }

  entries(lo: bigint, hi: bigint, maxBytes: number): Entry[] {
    const offset = this.offset;
    if (lo <= offset) throw new CompactedError();
    assert(hi <= this.lastIndex() + 1n, `entries hi ${hi} is out of bound, last index ${this.lastIndex()}`);
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(Number(lo - offset), Number(hi - offset)), maxBytes);
  }

  term(i: bigint): bigint {
    const offset = this.offset;
    if (i < offset) throw new CompactedError();
    if (i - offset >= BigInt(this.ents.length)) throw new UnavailableError();
    return this.ents[Number(i - offset)]!.term;
  }

  lastIndex(): bigint {
    return this.offset + BigInt(this.ents.length) - 1n;
  }

  firstIndex(): bigint {
    return this.offset + 1n;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower catching up, or startup). */
  applySnapshot(s: Snapshot): void {
    if (snapshotIndex(this.snap) >= snapshotIndex(s)) throw new SnapshotOutOfDateError();
    this.snap = s;
    this.appliedConfState = undefined;
    this.ents = [newEntry({ index: snapshotIndex(s), term: snapshotTerm(s) })];
  }

  /**
   * Records a snapshot of the application's state as of applied index `i`,
   * so that compact(i) can drop the entries it covers and lagging followers
   * can be sent it.
   */
  createSnapshot(i: bigint, cs: ConfState | undefined, data: Buffer): Snapshot {
    if (i <= snapshotIndex(this.snap)) throw new SnapshotOutOfDateError();
    assert(i <= this.lastIndex(), `snapshot ${i} is out of bound, last index ${this.lastIndex()}`);
    const term = this.ents[Number(i - this.offset)]!.term;
    this.snap = { data, metadata: { index: i, term, confState: cs ?? snapshotConfState(this.snap) } };
    return this.snap;
  }

  /**
   * Discards entries before `compactIndex`; the entry at compactIndex stays as
   * the new boundary. The application must not compact past its applied index.
   */
  compact(compactIndex: bigint): void {
    const offset = this.offset;
    if (compactIndex <= offset) throw new CompactedError();
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} is out of bound, last index ${this.lastIndex()}`);
    const i = Number(compactIndex - offset);
    const boundary = newEntry({ index: this.ents[i]!.index, term: this.ents[i]!.term });
    this.ents = [boundary, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends persisted entries, replacing any stored entries from the first new
   * index on (a follower's log being repaired). Entries at or below the
   * compaction boundary are ignored.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    for (let k = 1; k < entries.length; k++) {
      assert(entries[k]!.index === entries[k - 1]!.index + 1n, 'appended entries are not contiguous');
    }
    const first = this.firstIndex();
    const last = entries[0]!.index + BigInt(entries.length) - 1n;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(Number(first - entries[0]!.index));
    const at = Number(entries[0]!.index - this.offset);
    assert(at <= this.ents.length, `missing log entry: last ${this.lastIndex()}, append at ${entries[0]!.index}`);
    // In place: entries() hands out copies, so nobody holds a view of ents.
    this.ents.length = at;
    for (const e of entries) this.ents.push(e);
  }
}
