/**
 * One simulated server process: its durable disk and state machine, its
 * Raft node while it runs, and its own clock.
 */
import type { StateType } from '../../src/server/raft/raft.js';
import type { RawNode } from '../../src/server/raft/rawnode.js';
import type { MemoryStorage } from '../../src/server/raft/storage.js';
import type { ApplyResult } from './kv-state-machine.js';
import { SimDisk } from './sim-disk.js';
import type { SimStateMachine } from './state-machine.js';

export type CrashPoint = 'beforeSave' | 'afterSave' | 'afterSend' | 'afterApply';

/** Someone waiting for a proposal made on a member to be applied there. */
export interface ProposalWaiter {
  applied(result: ApplyResult): void;
  /** The member crashed or left before applying it: the outcome is unknown. */
  lost(): void;
}

/** A ReadIndex request: `index` once leadership was confirmed; `ready` runs once applied up to it. */
export interface PendingRead {
  ready(): void;
  /** The member crashed or left: the read never completes. */
  lost(): void;
  index?: bigint;
}

/**
 * A member's local clock: it runs at `rate` (1 +/- the seed's skew bound)
 * from `offset`, so members disagree on how long anything took, as real
 * machines do. Raft ticks and lease expiry both use it. Real (simulation)
 * time stays the reference the checks measure in.
 */
export class MemberClock {
  constructor(
    readonly rate: number,
    readonly offset: number,
  ) {}

  local(now: number): number {
    return this.offset + this.rate * now;
  }

  /** True when a tick boundary of `tickUnits` local units falls in (now - 1, now]. */
  ticksAt(now: number, tickUnits: number): boolean {
    return Math.floor(this.local(now) / tickUnits) > Math.floor(this.local(now - 1) / tickUnits);
  }
}

export class Member {
  readonly disk = new SimDisk();
  /** Durable with its applied index (like the server's backend). */
  sm: SimStateMachine;
  rn: RawNode | undefined;
  storage: MemoryStorage | undefined;
  /** Role and leader as the server last learned them from a Ready (etcd's isLeader(), Leader()). */
  lastRaftState: StateType = 'follower';
  lastLead = 0n;
  /** Removed from the cluster and shut down for good. */
  removed = false;
  /** Applied its own removal in the Ready being handled. */
  selfRemoved = false;
  armedCrash: CrashPoint | undefined;
  /** A new leader doomed to crash at this time (the simulator's leader-kill fault). */
  killAt: number | undefined;
  restartAt: number | undefined;
  lastSnapshotIndex = 0n;
  /** In-memory commit index this incarnation (never decreases). */
  commitSeen = 0n;
  /** Durable commit index (never decreases, across crashes too). */
  durableCommitSeen = 0n;
  /** Proposals made here, by request id; settled when applied here. */
  proposals = new Map<string, ProposalWaiter>();
  /** ReadIndex requests made here, by context. */
  reads = new Map<string, PendingRead>();
  /** Counts process starts: messages addressed to an older incarnation are dropped. */
  incarnation = 0;
  /** Until then the member's Ready loop is stuck (a slow fsync): Raft runs, nothing is persisted, sent or applied. */
  stalledUntil = 0;

  constructor(
    readonly id: bigint,
    readonly clock: MemberClock,
    sm: SimStateMachine,
  ) {
    this.sm = sm;
  }

  get alive(): boolean {
    return this.rn !== undefined;
  }

  /** Raft's own view: this node is the leader right now. */
  get isLeader(): boolean {
    return this.rn?.raft.state === 'leader';
  }

  /** The server's view, which only changes when a Ready is handled (etcd's isLeader()). */
  get serverIsLeader(): boolean {
    return this.alive && this.lastRaftState === 'leader';
  }
}
