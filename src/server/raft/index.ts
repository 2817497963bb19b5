/**
 * The pure Raft core: a RawNode-level library after etcd's raft design.
 * See rawnode.ts for the Ready handling contract.
 */
export { RawNode, type Ready, type Status, type BasicStatus, type ProgressStatus, type Peer } from './rawnode.js';
export type { RaftConfig, ReadState, SoftState, StateType } from './raft.js';
export { MemoryStorage, type Storage, type InitialState } from './storage.js';
export { SeededPrng, type Prng } from './prng.js';
export type { RaftLogger } from './logger.js';
export {
  RaftError,
  ConfChangePendingError,
  ProposalDroppedError,
  CompactedError,
  UnavailableError,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  StepLocalMessageError,
} from './errors.js';
export {
  describeData,
  describeEntry,
  describeEntries,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeConfState,
} from './describe.js';
export { isEmptySnapshot, isEmptyHardState, newMessage, newEntry, none, snapshotIndex, snapshotTerm } from './messages.js';
