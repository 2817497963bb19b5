/**
 * The part of the log not yet persisted: entries (and possibly a snapshot)
 * that Ready hands to the application to write. `offset` is the index of
 * the first unstable entry; everything below it is in Storage.
 *
 * Worked example: Storage holds 1..5, the leader appended 6 and 7:
 * offset = 6, entries = [6, 7]. A follower then receives a snapshot at 10:
 * snapshot = {index 10}, offset = 11, entries = []. After the application
 * persists the snapshot and calls stableSnapTo(10), snapshot is cleared.
 */
import assert from 'node:assert';
import type { Entry, Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import type { RaftLogger } from './logger.js';
import { snapshotIndex, snapshotTerm } from './messages.js';

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];

  constructor(
    public offset: bigint,
    private readonly logger?: RaftLogger,
  ) {}

  /** The first index of the log if an unstable snapshot defines it. */
  maybeFirstIndex(): bigint | undefined {
    return this.snapshot !== undefined ? snapshotIndex(this.snapshot) + 1n : undefined;
  }

  /** The last index if the unstable part defines it. */
  maybeLastIndex(): bigint | undefined {
    if (this.entries.length > 0) return this.offset + BigInt(this.entries.length) - 1n;
    if (this.snapshot !== undefined) return snapshotIndex(this.snapshot);
    return undefined;
  }

  /** The term of entry `i` if the unstable part holds it. */
  maybeTerm(i: bigint): bigint | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && snapshotIndex(this.snapshot) === i) return snapshotTerm(this.snapshot);
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[Number(i - this.offset)]!.term;
  }

  /**
   * Entries up to (i, t) were persisted. If the entry at i was since replaced
   * by one of another term (a newer append truncated it), the persisted write
   * is stale and nothing becomes stable.
   */
  stableTo(i: bigint, t: bigint): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(Number(i + 1n - this.offset));
      this.offset = i + 1n;
    }
  }

  stableSnapTo(i: bigint): void {
    if (this.snapshot !== undefined && snapshotIndex(this.snapshot) === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = snapshotIndex(s) + 1n;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends `ents`, first truncating any unstable entries they overwrite. */
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    const end = this.offset + BigInt(this.entries.length);
    if (after === end) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // The whole unstable part is replaced; the application will overwrite
      // the stored entries from `after` on when it persists these.
      this.logger?.info(`replace the unstable entries from index ${after}`);
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.logger?.info(`truncate the unstable entries before index ${after}`);
      this.entries = this.slice(this.offset, after).concat(ents);
    }
  }

  slice(lo: bigint, hi: bigint): Entry[] {
    this.assertInBounds(lo, hi);
    return this.entries.slice(Number(lo - this.offset), Number(hi - this.offset));
  }

  private assertInBounds(lo: bigint, hi: bigint): void {
    assert(lo <= hi, `invalid unstable slice ${lo} > ${hi}`);
    const upper = this.offset + BigInt(this.entries.length);
    assert(lo >= this.offset && hi <= upper, `unstable slice [${lo},${hi}) out of bound [${this.offset},${upper}]`);
  }
}
