/**
 * What the simulator needs from a member's state machine, and the two kinds
 * it can run: the model written for the tests (kv-state-machine.ts) and the
 * shipped stores (real-state-machine.ts: the MVCC store, watchable store
 * and lessor behind the server's apply path). The safety checks, the
 * linearizability check and the watch and lease checks are the same for
 * both.
 */
import type { ConfState } from '../../src/proto/gen/etcdtspb/raft.js';
import type { ApplyResult, Command, KvValue, LeaseState } from './kv-state-machine.js';
import type { MemberClock } from './sim-member.js';

/**
 * A member's state machine. It is durable together with its applied index
 * (a crash loses none of it), and deterministic: the same entries give the
 * same state, and the same fingerprint, on every member.
 */
export interface SimStateMachine {
  readonly appliedIndex: bigint;
  /** Raft's configuration as applyConfChange returned it (stored in snapshots). */
  confState: ConfState;
  /** The membership as applied from the log (etcd's cluster store), kept by the simulator. */
  voters: Set<bigint>;
  learners: Set<bigint>;
  /** Members removed from the cluster: their messages are refused. */
  removed: Set<bigint>;
  /** The store's revision (1 when empty) and last compaction (0 when never compacted). */
  readonly revision: number;
  readonly compactRev: number;
  /** The lease table and the live keys, for the final lease checks. */
  readonly leases: ReadonlyMap<number, LeaseState>;
  readonly kv: ReadonlyMap<string, KvValue>;
  /** Moves the applied index to `index` (the next one), before the entry's effect. */
  advanceTo(index: bigint): void;
  apply(cmd: Command): ApplyResult;
  /** A linearizable read's answer, once the member has applied up to the read index. */
  get(key: string): { value: string | null; modRevision: number; revision: number };
  /** A canonical rendering of the whole state, for comparing members. */
  fingerprint(): string;
  /** The whole state, for a snapshot sent to a lagging member. */
  serialize(): Buffer;
}

/** Makes and restores one kind of state machine for a run. */
export interface StateMachineKind {
  /** A new member's empty state machine; `clock` is the member's own. */
  create(clock: MemberClock): SimStateMachine;
  /** The state of a snapshot: a new object, or `current` itself after installing it in place. */
  restore(current: SimStateMachine, data: Buffer, index: bigint, confState: ConfState): SimStateMachine;
  /** The member's process starts again: what lives only in memory is rebuilt from the durable state. */
  reopen(sm: SimStateMachine): void;
  /** Checks that need every final member at once (the shipped stores compare HashKV); throws on a difference. */
  compareFinal(finals: ReadonlyArray<{ id: bigint; sm: SimStateMachine }>): void;
  /** Releases what the run holds (files, open databases). */
  close(): Promise<void>;
}
