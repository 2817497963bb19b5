/**
 * The shipped lessor (src/server/lease/lessor.ts) on one member, driven the
 * way EtcdServer drives it (server.ts: onLeaderChange, maybePromoteLessor,
 * revokeExpiredLeases, renewConfirmed, and the peer handler's leaseRenew):
 *
 * - it is demoted as soon as the server learns it no longer leads, and
 *   promoted (extending every lease by the election timeout) when the
 *   leader applies the first entry of its own term;
 * - every 500 ms of the member's clock, a primary with expired leases
 *   confirms its leadership and then proposes their revocation, with at most
 *   one confirmation running and each lease revoked once at a time;
 * - a keep-alive is renewed by the lessor after the lease layer confirmed
 *   leadership (the server's renewConfirmed, also for forwarded ones).
 */
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import type { StateType } from '../../src/server/raft/raft.js';
import { LeaseNotFoundError, NotPrimaryError } from '../../src/server/lease/errors.js';
import type { Lessor } from '../../src/server/lease/lessor.js';
import { leaseRevokesPerSecondMax } from '../../src/server/constants.js';
import { SafetyViolation } from './invariants.js';
import type { LessorHost, LessorSide, RenewResult } from './lessor-side.js';
import { RealStateMachine, msPerUnit } from './real-state-machine.js';
import { electionTick, tickUnits } from './sim-layer.js';
import type { Member } from './sim-member.js';

/** EtcdServer's lease expiry timer (setInterval 500 ms). */
const revokeSweepUnits = 500 / msPerUnit;
/** EtcdServer's request timeout (5 s + 2 election timeouts): a confirmation that never ends gives up then. */
const confirmTimeoutUnits = (5000 + 2 * electionTick * tickUnits * msPerUnit) / msPerUnit;

export class RealLessor implements LessorSide {
  /** Leading since this term, but not primary until an entry of the term is applied. */
  private primaryFromTerm: bigint | undefined;
  /** Revokes proposed and not yet applied (or timed out), with when they were proposed. */
  private readonly revokesInFlight = new Map<number, number>();
  /** When the running leadership confirmation of an expiry sweep started. */
  private sweepConfirmingSince: number | undefined;
  /** A renewal answered with an error the server does not expect. */
  private unexpected: Error | undefined;

  constructor(
    private readonly layer: LessorHost,
    private readonly m: Member,
  ) {}

  private get host() {
    return this.layer.host;
  }

  private get sm(): RealStateMachine {
    const sm = this.m.sm;
    if (!(sm instanceof RealStateMachine)) throw new Error('the shipped lessor runs over the shipped stores');
    return sm;
  }

  /** The member's lessor now (a restart builds a new one from the backend). */
  private get lessor(): Lessor {
    return this.sm.lessor;
  }

  onRole(state: StateType): void {
    if (state === 'leader') {
      this.primaryFromTerm = this.m.rn!.raft.term;
    } else {
      this.primaryFromTerm = undefined;
      this.lessor.demote();
    }
  }

  onApplied(e: Entry): void {
    if (this.primaryFromTerm === undefined || e.term < this.primaryFromTerm) return;
    this.primaryFromTerm = undefined;
    if (this.m.serverIsLeader) {
      this.lessor.promote(electionTick * tickUnits * msPerUnit);
      this.host.record(`lease-promote ${this.m.id}`);
    }
  }

  step(): void {
    if (this.unexpected !== undefined) throw this.unexpected;
    const { now } = this.host;
    // The server's waits end with its request timeout; a proposal or a read Raft dropped ends no other way.
    if (this.sweepConfirmingSince !== undefined && now - this.sweepConfirmingSince > confirmTimeoutUnits) this.sweepConfirmingSince = undefined;
    for (const [lease, since] of this.revokesInFlight) if (now - since > confirmTimeoutUnits) this.revokesInFlight.delete(lease);
    if (!this.m.clock.ticksAt(now, revokeSweepUnits)) return;
    this.sweep();
  }

  /** EtcdServer.revokeExpiredLeases. */
  private sweep(): void {
    const lessor = this.lessor;
    if (!lessor.isPrimary || this.sweepConfirmingSince !== undefined) return;
    const budget = Math.max(0, Math.floor(leaseRevokesPerSecondMax / 2) - this.revokesInFlight.size);
    if (lessor.expired(budget).length === 0) return;
    this.sweepConfirmingSince = this.host.now;
    const done = () => {
      this.sweepConfirmingSince = undefined;
    };
    this.layer.confirmLeadership(this.m, 'revoke', () => {
      done();
      if (this.layer.sideOf(this.m) !== this || lessor !== this.lessor || !lessor.isPrimary) return;
      for (const id of lessor.expired(budget)) this.proposeRevoke(Number(id));
    }, done);
  }

  private proposeRevoke(lease: number): void {
    if (this.revokesInFlight.has(lease)) return;
    this.revokesInFlight.set(lease, this.host.now);
    this.layer.expiryProposed();
    this.host.record(`lease-expire ${lease} by ${this.m.id}`);
    const settled = () => void this.revokesInFlight.delete(lease);
    const proposed = this.host.propose(this.m, { t: 'revoke', id: `e${this.layer.nextSeq()}`, lease, expired: true }, { applied: settled, lost: settled });
    if (!proposed) settled();
  }

  /**
   * The lessor's renew. A lease the primary already found expired is
   * answered "expired" here at once: the lessor would wait up to 2 s of wall
   * clock for its revoke, a timer the simulation cannot run.
   */
  renew(lease: number, reply: (r: RenewResult) => void): void {
    const lessor = this.lessor;
    const l = lessor.lookup(BigInt(lease));
    if (lessor.isPrimary && l !== undefined && l.expired(this.sm.clock)) {
      reply('expired');
      return;
    }
    lessor.renew(BigInt(lease)).then(
      () => reply('ok'),
      (err: unknown) => {
        if (err instanceof NotPrimaryError) reply('not primary');
        else if (err instanceof LeaseNotFoundError) reply('not found');
        else this.unexpected = new SafetyViolation('Lease renew', `the lessor refused a renewal with ${String(err)}`);
      },
    );
  }
}
