/**
 * Majority quorums over a set of voters: which log index a majority has
 * acknowledged, and whether a set of votes has won an election.
 */
import { maxUint64, sortedIds } from '../messages.js';

export enum VoteResult {
  /** Not decided yet: the missing votes could still swing it either way. */
  VotePending = 1,
  /** Too many rejections: even the missing votes cannot reach a majority. */
  VoteLost = 2,
  /** A majority granted. */
  VoteWon = 3,
}

/** Answers the index a voter has acknowledged, or undefined if it is unknown. */
export type AckedIndexer = (id: bigint) => bigint | undefined;

export class MajorityConfig {
  constructor(readonly ids: ReadonlySet<bigint> = new Set()) {}

  get size(): number {
    return this.ids.size;
  }

  has(id: bigint): boolean {
    return this.ids.has(id);
  }

  sorted(): bigint[] {
    return sortedIds(this.ids);
  }

  /**
   * The largest index that a majority of voters has acknowledged. Voters
   * with an unknown index count as having acknowledged 0.
   *
   * Worked example: voters {1,2,3,4,5} acked [5, 5, 4, 2, 0]. Sorted
   * descending the third value (the quorum size is 3) is 4: voters 1, 2
   * and 3 have index 4 or more, so 4 is committed. An empty configuration
   * commits everything (the largest uint64), which makes it neutral.
   */
  committedIndex(acked: AckedIndexer): bigint {
    const n = this.ids.size;
    if (n === 0) return maxUint64;
    const indexes: bigint[] = [];
    for (const id of this.ids) indexes.push(acked(id) ?? 0n);
    indexes.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    return indexes[quorumSize(n) - 1]!;
  }

  /** The election outcome for these votes (true = granted, absent = not yet answered). */
  voteResult(votes: ReadonlyMap<bigint, boolean>): VoteResult {
    const n = this.ids.size;
    if (n === 0) return VoteResult.VoteWon;
    let yes = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = quorumSize(n);
    if (yes >= q) return VoteResult.VoteWon;
    if (yes + missing >= q) return VoteResult.VotePending;
    return VoteResult.VoteLost;
  }
}

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
