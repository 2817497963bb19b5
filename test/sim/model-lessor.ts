/**
 * A model of etcd's lessor on one member (v3.4.23 `lease/lessor.go`, with
 * the leadership checks etcd added for #15247): only the primary keeps
 * expiry times, on its member's clock. It becomes primary when, as leader,
 * it applies the empty entry of its own term (after every entry of earlier
 * terms), extending every lease by the election timeout (Promote); it stops
 * when a Ready tells the server it no longer leads. Its loop proposes the
 * revoke of what expired after confirming leadership, retrying every 30
 * ticks. The watch/lease mutations (mutations.ts) change it here.
 */
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { StateType } from '../../src/server/raft/raft.js';
import type { ApplyResult, Command } from './kv-state-machine.js';
import type { LessorHost, LessorSide, RenewResult } from './lessor-side.js';
import { electionTick, tickUnits } from './sim-layer.js';
import type { Member } from './sim-member.js';

const revokeRetryTicks = 30;

export class ModelLessor implements LessorSide {
  private primary = false;
  /** Lease -> local time it expires at. */
  private readonly expiry = new Map<number, number>();
  /** Lease -> local time its revoke was last proposed. */
  private readonly revokeProposedAt = new Map<number, number>();

  constructor(
    private readonly layer: LessorHost,
    private readonly m: Member,
  ) {}

  private get host() {
    return this.layer.host;
  }

  private local(): number {
    return this.m.clock.local(this.host.now);
  }

  /** TTL in local time units, as the leader counts it. */
  private ttlUnits(ttlTicks: number): number {
    return ttlTicks * tickUnits * (this.host.mutation === 'lease-early-expiry' ? 0.5 : 1);
  }

  onRole(state: StateType): void {
    if (state !== 'leader') this.demote();
    else if (this.host.mutation === 'lease-server-model' || this.host.mutation === 'lease-promote-at-election') this.promote();
  }

  onApplied(e: Entry, cmd?: Command, result?: ApplyResult): void {
    const m = this.m;
    if (cmd === undefined) {
      // The leader's empty entry of its own term: everything from earlier terms is applied.
      if (m.serverIsLeader && e.term === m.rn!.raft.term && !this.primary) this.promote();
      return;
    }
    if (result?.error !== undefined || !this.primary) return;
    if (cmd.t === 'grant') this.expiry.set(cmd.lease, this.local() + this.ttlUnits(cmd.ttl));
    if (cmd.t === 'revoke') {
      this.expiry.delete(cmd.lease);
      this.revokeProposedAt.delete(cmd.lease);
    }
  }

  private promote(): void {
    this.primary = true;
    const extend = this.host.mutation === 'lease-no-extension' ? 0 : electionTick * tickUnits;
    const local = this.local();
    for (const [id, l] of this.m.sm.leases) this.expiry.set(id, local + extend + this.ttlUnits(l.ttl));
    this.host.record(`lease-promote ${this.m.id}`);
  }

  private demote(): void {
    this.primary = false;
    this.expiry.clear();
    this.revokeProposedAt.clear();
  }

  /**
   * The primary's own loop (it runs whatever the Ready loop does): leases its
   * clock finds expired are revoked through the log, after the member
   * confirmed it still leads (etcd's revokeExpiredLease).
   */
  step(): void {
    if (!this.primary) return;
    const m = this.m;
    const local = this.local();
    for (const [id, at] of this.expiry) {
      if (at > local) continue;
      const tried = this.revokeProposedAt.get(id);
      if (tried !== undefined && local - tried < revokeRetryTicks * tickUnits) continue;
      this.revokeProposedAt.set(id, local);
      this.layer.confirmLeadership(m, 'revoke', () => {
        if (this.layer.sideOf(m) !== this || !this.primary || !this.expiry.has(id)) return;
        this.layer.expiryProposed();
        this.host.record(`lease-expire ${id} by ${m.id}`);
        this.host.propose(m, { t: 'revoke', id: `e${this.layer.nextSeq()}`, lease: id, expired: true });
      }, () => undefined);
    }
  }

  /** The lessor's Renew: only the primary renews, and never a lease that is unknown or already expired. */
  renew(lease: number, reply: (r: RenewResult) => void): void {
    if (!this.primary) return reply('not primary');
    const l = this.m.sm.leases.get(lease);
    if (l === undefined) return reply('not found');
    const local = this.local();
    const at = this.expiry.get(lease);
    if (at !== undefined && at <= local) return reply('expired');
    this.expiry.set(lease, local + this.ttlUnits(l.ttl));
    reply('ok');
  }
}
