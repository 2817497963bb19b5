/**
 * Leases in the simulation, as etcd has them (v3.4.23 `lease/lessor.go`,
 * `etcdserver/server.go`, `etcdserver/v3_server.go`, and the leadership
 * checks etcd added for #15247):
 *
 * - Grant and revoke go through the log; the lease table (and which keys
 *   are attached) is part of the replicated state machine.
 * - Only the primary lessor keeps expiry times, on its member's clock, which
 *   runs at its own rate (clock skew). It becomes primary once the leader
 *   has applied the entries of earlier terms, and stops when a Ready tells
 *   the server it no longer leads: while the Ready loop is stalled (a slow
 *   fsync) the server does not know yet. Its loop revokes expired leases
 *   through the log after confirming leadership. Each member's lessor side
 *   is a model (model-lessor.ts) or the shipped lessor (real-lessor.ts).
 * - A keep-alive goes to any member. One whose server thinks it leads
 *   confirms its leadership the same way and renews (etcd's LeaseRenew); any
 *   other forwards it to the leader it knows over the peer network. The
 *   forwarded renewal is confirmed too, which is STRICTER than etcd: its
 *   peer handler (leasehttp) renews without the check (mutation
 *   'lease-forward-unconfirmed' models etcd exactly). Renew is refused by a
 *   lessor that is not primary, for an unknown lease, and for one that has
 *   expired already (its revoke is on the way).
 *
 * Lease clients grant a lease, keep it alive for a while through members of
 * their choice, and then revoke it or walk away and let it expire. KV
 * clients attach keys to leases (kv-state-machine.ts). The checks are in
 * lease-check.ts.
 */
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { StateType } from '../../src/server/raft/raft.js';
import type { Operation } from '../support/lincheck/checker.js';
import type { EtcdInput, EtcdOutput } from '../support/lincheck/etcd-model.js';
import type { ApplyResult, Command } from './kv-state-machine.js';
import { checkLeases, type LeaseCheckReport, type LeaseFacts } from './lease-check.js';
import type { Decision, LessorHost, LessorSide, RenewResult } from './lessor-side.js';
import { ModelLessor } from './model-lessor.js';
import { RealLessor } from './real-lessor.js';
import { tickUnits, type SimHost, type SimLayer } from './sim-layer.js';
import type { Member } from './sim-member.js';
import type { SimStateMachine } from './state-machine.js';
import type { WorkloadConfig } from './workload.js';

export interface LeaseReport extends LeaseCheckReport {
  keepAlivesSent: number;
  keepAlivesAcked: number;
  keepAlivesRefused: number;
  expiriesProposed: number;
}


interface KeepAlive {
  lease: number;
  sentAt: number;
}

/** A message in flight on a client or peer connection. */
interface InFlight {
  at: number;
  seq: number;
  deliver(): void;
}

/** TTLs clients ask for, in ticks: for the shipped lessor whole seconds (10 ticks each), at least its minimum of 2 s. */
const ttlChoicesTicks = { model: [15, 20, 30, 50], real: [20, 30, 50] };
const clientTimeoutUnits = 60 * tickUnits;

export class LeaseLayer implements SimLayer, LessorHost {
  /** The lessor side of each running member (lost on a crash, as in etcd). */
  private readonly sides = new Map<bigint, LessorSide>();
  private readonly clients: LeaseClient[] = [];
  private inFlight: InFlight[] = [];
  private seq = 0;
  private leaseSeq = 0;
  /** Every lease a client tried to grant, and whether the client still holds it. */
  readonly leases = new Map<number, { held: boolean }>();
  /** Lease -> send time of the latest keep-alive a leader acknowledged. */
  readonly acks = new Map<number, number>();
  readonly counts = { keepAlivesSent: 0, keepAlivesAcked: 0, keepAlivesRefused: 0, expiriesProposed: 0 };

  readonly ttlChoices: readonly number[];

  constructor(
    readonly host: SimHost,
    w: WorkloadConfig,
    /** The shipped lessor on every member instead of the model. */
    private readonly real: boolean,
  ) {
    this.ttlChoices = real ? ttlChoicesTicks.real : ttlChoicesTicks.model;
    for (let i = 0; i < w.leaseClients; i++) this.clients.push(new LeaseClient(i, this));
  }

  sideOf(m: Member): LessorSide | undefined {
    return this.sides.get(m.id);
  }

  nextSeq(): number {
    return this.seq++;
  }

  expiryProposed(): void {
    this.counts.expiriesProposed++;
  }

  /** Which of the leader's decisions are confirmed by a ReadIndex round (modern etcd); mutations drop some. */
  private confirms(what: Decision): boolean {
    const m = this.host.mutation;
    if (m === 'lease-server-model') return false;
    if (what === 'revoke') return m !== 'lease-revoke-unconfirmed';
    return m !== 'lease-renew-unconfirmed' && !(what === 'forwarded renew' && m === 'lease-forward-unconfirmed');
  }

  nextLeaseId(): number {
    return ++this.leaseSeq;
  }

  /** A lease for a KV client's put: mostly one a client holds, sometimes one that has ended. */
  pickLeaseForPut(): number {
    const { prng } = this.host;
    const all = [...this.leases.keys()];
    if (all.length === 0) return 0;
    const held = all.filter((l) => this.leases.get(l)!.held);
    return held.length > 0 && prng.nextInt(5) !== 0 ? held[prng.nextInt(held.length)]! : all[prng.nextInt(all.length)]!;
  }

  /** Sends something that arrives after `delay` (undefined: it is lost). */
  later(delay: number | undefined, deliver: () => void): void {
    if (delay === undefined) return;
    this.inFlight.push({ at: this.host.now + delay, seq: this.seq++, deliver });
  }

  step(): void {
    const { now } = this.host;
    const due = this.inFlight.filter((x) => x.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (due.length > 0) this.inFlight = this.inFlight.filter((x) => x.at > now);
    for (const x of due) x.deliver();
    for (const m of this.host.aliveMembers()) this.sides.get(m.id)?.step();
    for (const c of this.clients) c.step();
  }

  // ---- member side ----

  onStart(m: Member): void {
    this.sides.set(m.id, this.real ? new RealLessor(this, m) : new ModelLessor(this, m));
  }

  onStop(m: Member): void {
    this.sides.delete(m.id);
  }

  onRestore(): void {}

  onRole(m: Member, state: StateType): void {
    this.sides.get(m.id)?.onRole(state);
  }

  onApplied(m: Member, e: Entry, cmd?: Command, result?: ApplyResult): void {
    this.sides.get(m.id)?.onApplied(e, cmd, result);
  }

  /**
   * etcd's ensureLeadership: a ReadIndex round, the apply up to its index,
   * then Raft's status must still name this member leader in the same term.
   * Skipped (`then` at once) for the decisions a mutation leaves unconfirmed.
   */
  confirmLeadership(m: Member, what: Decision, then: () => void, otherwise: () => void): void {
    if (!this.confirms(what)) {
      then();
      return;
    }
    const term = m.rn!.raft.term;
    this.host.readIndex(m, {
      ready: () => (m.isLeader && m.rn!.raft.term === term ? then() : otherwise()),
      lost: () => undefined,
    });
  }

  /**
   * A keep-alive reached member `m`. If the server thinks it leads, it renews
   * (etcd's LeaseRenew); otherwise it forwards to the leader it knows, whose
   * peer handler renews (etcd's leasehttp).
   */
  keepAliveAt(m: Member, ka: KeepAlive, reply: (r: RenewResult) => void): void {
    if (m.serverIsLeader) {
      this.confirmLeadership(m, 'renew', () => this.renew(m, ka.lease, reply), () => reply('not primary'));
      return;
    }
    const leader = this.host.members.get(m.lastLead);
    if (m.lastLead === 0n || leader === undefined || leader === m) {
      reply('no leader');
      return;
    }
    // Answers travel back the same way; a member that restarted meanwhile has forgotten the request.
    const viaIncarnation = m.incarnation;
    const leaderIncarnation = leader.incarnation;
    this.peer(m, leader, () => {
      if (leader.incarnation !== leaderIncarnation || !leader.alive) return;
      const back = (r: RenewResult) => this.peer(leader, m, () => {
        if (m.incarnation === viaIncarnation && m.alive) reply(r);
      });
      this.confirmLeadership(leader, 'forwarded renew', () => this.renew(leader, ka.lease, back), () => back('not primary'));
    });
  }

  /** A message between members: lost with the network's loss rate, dropped by a partition on arrival. */
  private peer(from: Member, to: Member, deliver: () => void): void {
    this.later(this.host.peerDelay(), () => {
      if (this.host.peerLinkUp(from.id, to.id)) deliver();
    });
  }

  /** The lessor's Renew on `m` (only its primary renews); a member that stopped has no lessor. */
  private renew(m: Member, lease: number, reply: (r: RenewResult) => void): void {
    const side = this.sides.get(m.id);
    if (side === undefined) reply('not primary');
    else side.renew(lease, reply);
  }

  keepAliveAcked(lease: number, sentAt: number): void {
    this.counts.keepAlivesAcked++;
    this.acks.set(lease, Math.max(this.acks.get(lease) ?? -Infinity, sentAt));
  }

  unsettled(): string | undefined {
    for (const c of this.clients) {
      const why = c.unsettled();
      if (why !== undefined) return why;
    }
    return undefined;
  }

  finish(reads: readonly Operation<EtcdInput, EtcdOutput | undefined>[], finals: ReadonlyArray<{ id: bigint; sm: SimStateMachine }>): LeaseReport {
    const facts: LeaseFacts = { truth: this.host.truth, acks: this.acks, skew: this.host.skew, reads, finals };
    return { ...checkLeases(facts), ...this.counts };
  }
}

/** A client that holds one lease at a time. */
class LeaseClient {
  private state: 'idle' | 'granting' | 'holding' | 'revoking' = 'idle';
  private lease = 0;
  private ttl = 0;
  private endpoint: bigint | undefined;
  private holdUntil = 0;
  private nextKeepAliveAt = 0;
  private lastOkAt = 0;
  private deadline = 0;

  constructor(
    readonly id: number,
    private readonly layer: LeaseLayer,
  ) {}

  private get host(): SimHost {
    return this.layer.host;
  }

  unsettled(): string | undefined {
    return this.state === 'granting' || this.state === 'revoking' ? `lease client ${this.id} is ${this.state} lease ${this.lease}` : undefined;
  }

  step(): void {
    const { now, prng } = this.host;
    if ((this.state === 'granting' || this.state === 'revoking') && now >= this.deadline) this.forget('timeout');
    if (this.state === 'idle' && !this.host.healing && prng.nextInt(50) === 0) this.grant();
    if (this.state !== 'holding') return;
    if (now >= this.holdUntil && !this.host.healing) {
      if (prng.nextInt(2) === 0) this.revoke();
      else this.forget('abandon');
      return;
    }
    if (now >= this.nextKeepAliveAt) this.keepAlive();
  }

  /** A running member to talk to: the current endpoint while it works, else any. */
  private member(): Member | undefined {
    const current = this.endpoint === undefined ? undefined : this.host.members.get(this.endpoint);
    if (current?.alive === true) return current;
    const alive = this.host.aliveMembers();
    if (alive.length === 0) return undefined;
    const m = alive[this.host.prng.nextInt(alive.length)]!;
    this.endpoint = m.id;
    return m;
  }

  private grant(): void {
    const m = this.member();
    if (m === undefined) return;
    this.lease = this.layer.nextLeaseId();
    this.ttl = this.layer.ttlChoices[this.host.prng.nextInt(this.layer.ttlChoices.length)]!;
    this.layer.leases.set(this.lease, { held: false });
    this.state = 'granting';
    this.deadline = this.host.now + clientTimeoutUnits;
    const cmd: Command = { t: 'grant', id: `g${this.lease}`, lease: this.lease, ttl: this.ttl };
    this.host.record(`lease-grant ${this.lease} ttl=${this.ttl} at ${m.id}`);
    const lease = this.lease;
    const ok = this.host.propose(m, cmd, {
      applied: (r) => (r.error === undefined ? this.granted(lease) : this.forget(r.error, lease)),
      lost: () => this.forget('lost', lease),
    });
    if (!ok) this.forget('dropped');
  }

  private granted(lease: number): void {
    if (this.state !== 'granting' || lease !== this.lease) return;
    const { now, prng } = this.host;
    this.state = 'holding';
    this.layer.leases.get(this.lease)!.held = true;
    const ttlUnits = this.ttl * tickUnits;
    this.holdUntil = now + Math.floor(ttlUnits * (0.5 + prng.nextFloat() * 5));
    this.nextKeepAliveAt = now + Math.floor(ttlUnits / 3);
    this.lastOkAt = now;
  }

  private keepAlive(): void {
    const { now, prng } = this.host;
    const ttlUnits = this.ttl * tickUnits;
    this.nextKeepAliveAt = now + Math.floor(ttlUnits / 3);
    // Nothing acknowledged for a while: the balancer tries another endpoint.
    if (now - this.lastOkAt > ttlUnits / 2 && prng.nextInt(2) === 0) this.endpoint = undefined;
    const m = this.member();
    if (m === undefined) return;
    const ka: KeepAlive = { lease: this.lease, sentAt: now };
    const incarnation = m.incarnation;
    this.layer.counts.keepAlivesSent++;
    this.layer.later(this.host.clientDelay(), () => {
      if (!m.alive || m.incarnation !== incarnation) return;
      this.layer.keepAliveAt(m, ka, (r) => this.layer.later(this.host.clientDelay(), () => this.answered(ka, r)));
    });
  }

  private answered(ka: KeepAlive, r: RenewResult): void {
    if (r === 'ok') {
      this.layer.keepAliveAcked(ka.lease, ka.sentAt);
      if (ka.lease === this.lease) this.lastOkAt = Math.max(this.lastOkAt, ka.sentAt);
      return;
    }
    this.layer.counts.keepAlivesRefused++;
    if (ka.lease !== this.lease || this.state !== 'holding') return;
    if (r === 'not found' || r === 'expired') this.forget(`keep-alive ${r}`);
    else this.endpoint = undefined;
  }

  private revoke(): void {
    const m = this.member();
    if (m === undefined) return;
    this.state = 'revoking';
    this.deadline = this.host.now + clientTimeoutUnits;
    this.host.record(`lease-revoke ${this.lease} at ${m.id}`);
    const lease = this.lease;
    const ok = this.host.propose(m, { t: 'revoke', id: `v${lease}`, lease }, {
      applied: () => this.forget('revoked', lease),
      lost: () => this.forget('lost', lease),
    });
    if (!ok) this.forget('dropped');
  }

  /** Done with the current lease (whatever became of it). */
  private forget(why: string, lease = this.lease): void {
    if (this.state === 'idle' || lease !== this.lease) return;
    this.host.record(`lease-client ${this.id} done with ${this.lease}: ${why}`);
    const l = this.layer.leases.get(this.lease);
    if (l !== undefined) l.held = false;
    this.state = 'idle';
  }
}
