/**
 * What the simulated cluster offers the layers built on it (watches,
 * leases), what it asks of them, and the ground truth it records for their
 * checks. A layer sees members and time only through `SimHost`, and the
 * cluster calls it only through `SimLayer`, so every random choice still
 * comes from the one seeded PRNG and a seed replays exactly.
 */
import assert from 'node:assert/strict';
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { Prng } from '../../src/server/raft/prng.js';
import type { StateType } from '../../src/server/raft/raft.js';
import type { ApplyResult, Command, SimEvent } from './kv-state-machine.js';
import type { Mutation } from './mutations.js';
import type { Member, PendingRead, ProposalWaiter } from './sim-member.js';

/** Simulated time units per Raft tick (the heartbeat interval). */
export const tickUnits = 10;
/** Election timeout in ticks (etcd's default is 10 heartbeats). */
export const electionTick = 10;

export interface SimHost {
  readonly now: number;
  readonly prng: Prng;
  readonly members: ReadonlyMap<bigint, Member>;
  /** The faults have ended; clients finish what they do and stop starting new work. */
  readonly healing: boolean;
  readonly mutation: Mutation | undefined;
  readonly truth: Truth;
  /** Every member clock runs at a rate within 1 +/- skew of real time. */
  readonly skew: number;
  record(event: string): void;
  count(what: string): void;
  leader(): Member | undefined;
  aliveMembers(): Member[];
  /** Proposes `cmd` on `m`; false when Raft refused it at once (no leader to forward to). */
  propose(m: Member, cmd: Command, waiter?: ProposalWaiter): boolean;
  /** A ReadIndex on `m` (confirms leadership when `m` leads); `read.ready` once applied up to it. */
  readIndex(m: Member, read: PendingRead): void;
  /** A message from member `from` to member `to` would get through a partition now. */
  peerLinkUp(from: bigint, to: bigint): boolean;
  /** A peer message's delay, or undefined when the network loses it. */
  peerDelay(): number | undefined;
  /** A client connection's delay (clients are never partitioned from members). */
  clientDelay(): number;
}

export interface SimLayer {
  /** Once per time unit, after the members ticked. */
  step(): void;
  /** The member's process started (first start or restart). */
  onStart(m: Member): void;
  /** The member's process stopped: crash, or removal from the cluster. */
  onStop(m: Member): void;
  /** The member replaced its state with a snapshot; `revisionBefore` is the revision it had. */
  onRestore(m: Member, revisionBefore: number): void;
  /** The member applied a normal entry; `cmd` and `result` are absent for an empty one. */
  onApplied(m: Member, e: Entry, cmd?: Command, result?: ApplyResult): void;
  /** The member's Raft role changed (from a Ready's soft state). */
  onRole(m: Member, state: StateType): void;
  /** While healing: why the layer's clients are not yet done and caught up; undefined once they are. */
  unsettled(): string | undefined;
}

export interface AppliedRequest {
  cmd: Command;
  result: ApplyResult;
  index: bigint;
  /** When the proposal was first made, and when the first member applied it. */
  proposedAt: number;
  appliedAt: number;
}

/**
 * What really happened, recorded at the first apply of every entry (all
 * members apply the same entries, which the safety checker verifies): the
 * events of every revision, and each request's result. The checks compare
 * what clients saw against it.
 */
export class Truth {
  readonly revisions = new Map<number, SimEvent[]>();
  /** When each revision was first applied. */
  readonly revisionAppliedAt = new Map<number, number>();
  readonly requests = new Map<string, AppliedRequest>();
  /** Requests in log order. */
  readonly log: AppliedRequest[] = [];
  readonly compactions: Array<{ rev: number; at: number }> = [];
  /** Each delete's revision, for aiming compactions at them. */
  readonly deleteRevisions: number[] = [];
  revision = 1;
  private lastIndex = 0n;
  private readonly proposedAt = new Map<string, number>();

  proposed(id: string, at: number): void {
    if (!this.proposedAt.has(id)) this.proposedAt.set(id, at);
  }

  /** Called for every applied entry; records it the first time its index is applied anywhere. */
  applied(index: bigint, cmd: Command | undefined, result: ApplyResult | undefined, at: number): void {
    if (index <= this.lastIndex) return;
    assert.equal(index, this.lastIndex + 1n, `entry ${index} applied first after ${this.lastIndex}`);
    this.lastIndex = index;
    if (cmd === undefined || result === undefined) return;
    const req: AppliedRequest = { cmd, result, index, proposedAt: this.proposedAt.get(cmd.id) ?? at, appliedAt: at };
    assert.ok(!this.requests.has(cmd.id), `request ${cmd.id} applied twice`);
    this.requests.set(cmd.id, req);
    this.log.push(req);
    for (const w of result.writes) {
      assert.equal(w.revision, this.revision + 1, `revision ${w.revision} written after ${this.revision}`);
      this.revision = w.revision;
      this.revisions.set(w.revision, w.events);
      this.revisionAppliedAt.set(w.revision, at);
      if (w.events.some((e) => e.type === 'delete')) this.deleteRevisions.push(w.revision);
    }
    if (result.compacted !== undefined) this.compactions.push({ rev: result.compacted, at });
  }

  get compactRev(): number {
    return this.compactions.length === 0 ? 0 : this.compactions[this.compactions.length - 1]!.rev;
  }
}
