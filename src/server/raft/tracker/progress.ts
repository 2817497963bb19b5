/**
 * What the leader knows about one follower's log, and how it replicates to it.
 *
 * States (etcd raft's design, Raft thesis §3.5 with flow control):
 * - probe: the leader does not know where the follower's log ends. It sends
 *   at most one MsgApp per heartbeat interval and moves `next` back on each
 *   rejection until the logs match.
 * - replicate: the logs match up to `match`; the leader streams entries
 *   optimistically (advancing `next` on send) within the inflights window.
 * - snapshot: the follower needs entries the leader has compacted away; a
 *   snapshot is in flight and nothing else is sent until it is reported.
 *
 * Invariant: match < next.
 */
import assert from 'node:assert';
import { maxBig, minBig } from '../messages.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0n;
  /** Index of the next entry to send. */
  next: bigint;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight while in snapshot state, else 0. */
  pendingSnapshot = 0n;
  /**
   * True when the follower was heard from since the last check-quorum round.
   * Starts true so that a just-added member does not count against quorum.
   */
  recentActive = true;
  /** In probe state: a probe was sent and the leader waits for its answer. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: bigint, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0n;
    this.state = state;
    this.inflights.reset();
  }

  /** A new term starts: nothing is known about the follower beyond `match`. */
  resetForTerm(match: bigint, next: bigint): void {
    this.resetState('probe');
    this.match = match;
    this.next = next;
    this.recentActive = false;
  }

  becomeProbe(): void {
    // After a snapshot the follower has at least the snapshot's entries,
    // so probing resumes right after it.
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = maxBig(this.match + 1n, pending + 1n);
    } else {
      this.resetState('probe');
      this.next = this.match + 1n;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1n;
  }

  becomeSnapshot(snapshotIndex: bigint): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * Records an acknowledgement of index `n`. Returns false when it is stale
   * (the follower already acknowledged as much).
   */
  maybeUpdate(n: bigint): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = maxBig(this.next, n + 1n);
    return updated;
  }

  /** In replicate state the leader assumes the MsgApp will land. */
  optimisticUpdate(n: bigint): void {
    this.next = n + 1n;
  }

  /**
   * Handles a rejected MsgApp at index `rejected`, with the follower's last
   * index as the hint. Returns false when the rejection is stale (it answers
   * an older probe, or an index already known to match).
   */
  maybeDecrTo(rejected: bigint, hint: bigint): boolean {
    // Entries up to match are known to be on the follower: a rejection at
    // or below it is stale (a delayed or duplicated answer).
    if (rejected <= this.match) return false;
    if (this.state === 'replicate') {
      this.next = this.match + 1n;
      return true;
    }
    // In probe state only the answer to the latest probe (sent at next-1) counts.
    if (this.next - 1n !== rejected) return false;
    // The hint may be stale too (a duplicate of an older answer): never
    // probe below what is known to match.
    this.next = maxBig(minBig(rejected, hint + 1n), this.match + 1n);
    this.probeSent = false;
    return true;
  }

  /** True when the leader must not send this follower more entries now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  assertInvariants(): void {
    assert(this.match < this.next, `progress match ${this.match} must be below next ${this.next}`);
  }

  toString(): string {
    let s = `${this.state} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0n) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    if (this.inflights.count > 0) s += ` inflight=${this.inflights.count}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }
}
