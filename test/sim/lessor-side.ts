/**
 * The member side of leases in the simulation: what one member's server
 * does with its lessor (become primary, stop being primary, revoke what
 * expired, renew a keep-alive). Two kinds: a model of etcd's lessor
 * (model-lessor.ts, where the watch/lease mutations live) and the shipped
 * lessor driven the way EtcdServer drives it (real-lessor.ts).
 */
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { StateType } from '../../src/server/raft/raft.js';
import type { ApplyResult, Command } from './kv-state-machine.js';
import type { SimHost } from './sim-layer.js';
import type { Member } from './sim-member.js';

export type RenewResult = 'ok' | 'not found' | 'expired' | 'not primary' | 'no leader';

/** The leader's decisions that etcd confirms with a ReadIndex round first (ensureLeadership). */
export type Decision = 'renew' | 'forwarded renew' | 'revoke';

/** What a member's lessor side gets from the lease layer. */
export interface LessorHost {
  readonly host: SimHost;
  /**
   * etcd's ensureLeadership: a ReadIndex round, the apply up to its index,
   * then Raft's status must still name `m` leader in the same term. A read
   * that Raft drops calls neither callback.
   */
  confirmLeadership(m: Member, what: Decision, then: () => void, otherwise: () => void): void;
  /** The side currently running for `m` (a restarted member has a new one). */
  sideOf(m: Member): LessorSide | undefined;
  /** A number unique in the run, for request ids. */
  nextSeq(): number;
  /** Counts a revoke proposed because a lease expired. */
  expiryProposed(): void;
}

export interface LessorSide {
  /** The member's Raft role changed, as its server learned from a Ready. */
  onRole(state: StateType): void;
  /** The member applied a normal entry (`cmd` absent for an empty one). */
  onApplied(e: Entry, cmd?: Command, result?: ApplyResult): void;
  /** Once per unit while the member runs: the primary's expiry loop. */
  step(): void;
  /** A keep-alive this member renews (leadership already confirmed, unless a mutation skips that). */
  renew(lease: number, reply: (r: RenewResult) => void): void;
}
