import type { Entry } from '../../proto/gen/etcdtspb/raft.js';

/**
 * What the member needs from consensus. The Raft driver (WAL + peers)
 * implements it; so does SoloDriver for a single member without a log.
 *
 * Contract:
 * - propose() hands data to consensus; it may throw a typed error (no leader,
 *   too many requests). It never waits.
 * - The apply callback receives committed entries in log order, exactly once
 *   per index, and applies them synchronously.
 * - When `entriesDurableBeforeApply` is true the entries were fsynced (on a
 *   quorum) before the callback ran, so results may be acknowledged as soon
 *   as they are applied; otherwise acknowledgement must wait until the
 *   backend has committed the batch durably.
 * - readIndex() resolves with an index such that, once the member has applied
 *   up to it, a read sees every write acknowledged before readIndex() was called.
 */
export interface ConsensusDriver {
  readonly entriesDurableBeforeApply: boolean;
  start(apply: (entries: Entry[]) => void): Promise<void>;
  propose(data: Uint8Array): void;
  readIndex(): Promise<bigint>;
  readonly term: bigint;
  readonly leaderId: bigint;
  readonly committedIndex: bigint;
  stop(): Promise<void>;
}
