import type { Entry } from '../../proto/gen/etcdtspb/raft.js';

/**
 * What the member needs from consensus (implemented by RaftNode).
 *
 * Contract:
 * - propose() hands data to consensus; it may throw a typed error (no leader,
 *   leader changed). It never waits.
 * - Committed entries reach the state machine in log order, exactly once
 *   per index, applied synchronously.
 * - When `entriesDurableBeforeApply` is true the entries were fsynced (on a
 *   quorum, and in this member's WAL) before they were applied, so results
 *   may be acknowledged as soon as they are applied.
 * - readIndex() resolves with an index such that, once the member has applied
 *   up to it, a read sees every write acknowledged before readIndex() was called.
 */
export interface ConsensusDriver {
  readonly entriesDurableBeforeApply: boolean;
  propose(data: Uint8Array): void;
  readIndex(): Promise<bigint>;
  readonly term: bigint;
  readonly leaderId: bigint;
  readonly committedIndex: bigint;
  stop(): Promise<void>;
}

export type { Entry };
