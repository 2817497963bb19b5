/**
 * Operating errors of the Raft core: conditions a correct caller meets in
 * normal operation (no leader, a compacted index) and must handle. Bugs are
 * assertion failures instead, and are never caught.
 */

export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A proposal was not appended to the log: there is no leader, leadership is
 * being transferred, the node was removed, or the uncommitted tail is full.
 * The caller may retry later; nothing was written.
 */
export class ProposalDroppedError extends RaftError {
  constructor(readonly reason: string) {
    super(`raft proposal dropped: ${reason}`);
  }
}

/** A configuration change proposed while an earlier one may still be unapplied here. */
export class ConfChangePendingError extends ProposalDroppedError {
  constructor(readonly pendingIndex: bigint, readonly applied: bigint) {
    super(`a configuration change is pending (index ${pendingIndex}, applied ${applied})`);
  }
}

/** The requested index is below the first index of the log: compacted away. */
export class CompactedError extends RaftError {
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** The requested index is beyond the last index the storage holds. */
export class UnavailableError extends RaftError {
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** A snapshot older than (or as old as) the one already stored. */
export class SnapshotOutOfDateError extends RaftError {
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/**
 * Storage cannot produce a snapshot right now (it is being made); the leader
 * tries again on a later heartbeat.
 */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** A local-only message type (MsgHup, MsgBeat, ...) arrived through step(). */
export class StepLocalMessageError extends RaftError {
  constructor() {
    super('raft: cannot step raft local message');
  }
}
