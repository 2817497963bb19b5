/**
 * The Raft log as the core sees it: persisted entries in Storage followed by
 * the unstable tail, plus the commit and apply cursors.
 *
 * Invariants: firstIndex()-1 <= applied <= committed <= lastIndex().
 * Committed entries are never truncated.
 */
import assert from 'node:assert';
import type { Entry, Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { CompactedError, UnavailableError } from './errors.js';
import type { RaftLogger } from './logger.js';
import { limitSize, maxBig, minBig, snapshotIndex, snapshotTerm } from './messages.js';
import { Unstable } from './raft-log-unstable.js';
import type { Storage } from './storage.js';

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: bigint;
  /** Highest index the application has applied (reported through advance()). */
  applied: bigint;

  constructor(
    readonly storage: Storage,
    /** Bound on the bytes of committed entries handed out in one Ready. */
    private readonly maxApplyBytes: number,
    private readonly logger?: RaftLogger,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1n, logger);
    this.committed = first - 1n;
    this.applied = first - 1n;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  /**
   * Follower append (AppendEntries receiver, Raft paper Figure 2): if our log
   * has an entry at `index` with `logTerm`, append `ents` after it, dropping
   * any conflicting suffix, and advance commit. Returns the index of the last
   * new entry, or undefined when the consistency check fails.
   */
  maybeAppend(index: bigint, logTerm: bigint, committed: bigint, ents: Entry[]): bigint | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + BigInt(ents.length);
    const ci = this.findConflict(ents);
    if (ci !== 0n) {
      assert(ci > this.committed, `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(Number(ci - (index + 1n))));
    }
    this.commitTo(minBig(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): bigint {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1n;
    assert(after >= this.committed, `after(${after}) is out of range [committed(${this.committed})]`);
    assert(after <= this.lastIndex(), `append after ${after} leaves a gap past last index ${this.lastIndex()}`);
    for (let k = 1; k < ents.length; k++) {
      assert(ents[k]!.index === ents[k - 1]!.index + 1n, 'appended entries are not contiguous');
      assert(ents[k]!.term >= ents[k - 1]!.term, 'appended entries have decreasing terms');
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry in `ents` that is missing from our log or
   * disagrees with it on the term; 0 if all of them are already present.
   */
  findConflict(ents: Entry[]): bigint {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger?.info(
            `found conflict at index ${e.index} [existing term: ${this.termOrZero(e.index)}, conflicting term: ${e.term}]`,
          );
        }
        return e.index;
      }
    }
    return 0n;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet handed to the application. */
  nextCommittedEntries(): Entry[] {
    const off = maxBig(this.applied + 1n, this.firstIndex());
    if (this.committed + 1n <= off) return [];
    return this.slice(off, this.committed + 1n, this.maxApplyBytes);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed + 1n > maxBig(this.applied + 1n, this.firstIndex());
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): bigint {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): bigint {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(toCommit: bigint): void {
    // Commit never decreases; a lower value (an old heartbeat) is ignored.
    if (this.committed < toCommit) {
      assert(
        toCommit <= this.lastIndex(),
        `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
      );
      this.committed = toCommit;
    }
  }

  appliedTo(i: bigint): void {
    if (i === 0n) return;
    assert(
      i <= this.committed && i >= this.applied,
      `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
  }

  stableTo(i: bigint, t: bigint): void {
    this.unstable.stableTo(i, t);
  }

  /**
   * The last index the application has reported durable: everything before
   * the unstable tail. A pending unstable snapshot counts, because it holds
   * only entries a quorum committed already.
   */
  lastStableIndex(): bigint {
    const beforeTail = this.unstable.offset - 1n;
    const last = this.lastIndex();
    return beforeTail < last ? beforeTail : last;
  }

  stableSnapTo(i: bigint): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): bigint {
    return this.term(this.lastIndex());
  }

  /**
   * The term of entry i. Indexes outside [firstIndex()-1, lastIndex()] have
   * term 0 (no such entry); a compacted index throws CompactedError.
   */
  term(i: bigint): bigint {
    const dummy = this.firstIndex() - 1n;
    if (i < dummy || i > this.lastIndex()) return 0n;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  /** term(i), with a compacted index read as term 0 (matches nothing). */
  termOrZero(i: bigint): bigint {
    try {
      return this.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return 0n;
      throw err;
    }
  }

  /** Entries from i to the end, at most maxBytes. Throws CompactedError. */
  entries(i: bigint, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1n, maxBytes);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Infinity);
  }

  /**
   * Election restriction (Raft paper §5.4.1): a candidate whose last entry is
   * (lastIndex, lastTerm) is at least as up to date as this log.
   */
  isUpToDate(lastIndex: bigint, lastTerm: bigint): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  matchTerm(i: bigint, term: bigint): boolean {
    try {
      return this.term(i) === term;
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return false;
      throw err;
    }
  }

  /**
   * Leader commit (Raft paper §5.4.2): advance to `maxIndex` only if that
   * entry is from the leader's current term. Entries of older terms become
   * committed indirectly, with the first entry of the current term.
   */
  maybeCommit(maxIndex: bigint, term: bigint): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.logger?.info(`log [${this.toString()}] starts to restore snapshot [index: ${snapshotIndex(s)}, term: ${snapshotTerm(s)}]`);
    this.committed = snapshotIndex(s);
    this.unstable.restore(s);
  }

  /** Entries [lo, hi), read from storage and the unstable tail. Throws CompactedError. */
  slice(lo: bigint, hi: bigint, maxBytes: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const storedHi = minBig(hi, offset);
      const stored = this.storage.entries(lo, storedHi, maxBytes);
      // Storage stopped early because of the size limit: that is the answer.
      if (BigInt(stored.length) < storedHi - lo) return stored;
      ents = stored;
    }
    if (hi > offset) {
      const tail = this.unstable.slice(maxBig(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(tail) : tail;
    }
    return limitSize(ents, maxBytes);
  }

  private checkOutOfBounds(lo: bigint, hi: bigint): void {
    assert(lo <= hi, `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError();
    assert(hi <= this.lastIndex() + 1n, `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }
}
