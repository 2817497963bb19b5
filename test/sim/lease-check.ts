/**
 * The lease checks of the simulation, run at the end over what the members
 * applied (the Truth, in log order) and what the clients were told. An
 * oracle replays the lease table from the applied requests, independently of
 * the state machine, and every applied request must agree with it.
 *
 * - No early expiry. Let floor(L) be the later of the time lease L's grant
 *   was proposed and the send time of the last keep-alive of L the leader
 *   acknowledged (whenever the acknowledgement arrived). A revoke made by a
 *   leader because L expired must be applied, on the first member to apply
 *   it, no earlier than floor(L) + TTL / (1 + skew), in real (simulation)
 *   time: the TTL is counted on the leader's clock, which may run fast by
 *   the skew bound, and a client can only rely on the moment it sent.
 * - One revision: a revoke deletes exactly the keys attached to L at that
 *   point, all in one revision.
 * - Never readable again: no read at or after L's end returns a value put
 *   with L, and no member's final state holds one.
 * - Puts: a put with a lease is applied if and only if the lease is alive.
 * - The final lease table of every member equals the oracle's.
 */
import type { Operation } from '../support/lincheck/checker.js';
import type { EtcdInput, EtcdOutput, GetOutput } from '../support/lincheck/etcd-model.js';
import { SafetyViolation } from './invariants.js';
import type { SimStateMachine } from './state-machine.js';
import { tickUnits, type AppliedRequest, type Truth } from './sim-layer.js';

export interface LeaseFacts {
  truth: Truth;
  /** Lease -> send time of its last acknowledged keep-alive. */
  acks: ReadonlyMap<number, number>;
  skew: number;
  /** The client history (completed gets are checked). */
  reads: readonly Operation<EtcdInput, EtcdOutput | undefined>[];
  /** The final state machines of the members. */
  finals: ReadonlyArray<{ id: bigint; sm: SimStateMachine }>;
}

export interface LeaseCheckReport {
  granted: number;
  revokedByClients: number;
  expired: number;
  /** Units an expiry came after floor + TTL (negative: early, within the skew allowance). */
  expiryLagP50: number;
  expiryLagP99: number;
  /** The smallest slack over the bound checked (>= 0 when no lease ended early). */
  minSlack: number;
}

interface OracleLease {
  ttl: number;
  keys: Set<string>;
  grantedAt: number;
}

class Oracle {
  readonly alive = new Map<number, OracleLease>();
  /** Lease -> the revision it ended at. */
  readonly ended = new Map<number, number>();
  readonly keyLease = new Map<string, number>();
  /** key\0value -> the lease the put of that value named (values are unique). */
  readonly valueLease = new Map<string, number>();
  readonly violations: Array<{ kind: string; message: string }> = [];
  readonly lags: number[] = [];
  minSlack = Infinity;
  counts = { granted: 0, revokedByClients: 0, expired: 0 };

  constructor(private readonly facts: LeaseFacts) {}

  fail(kind: string, message: string): void {
    this.violations.push({ kind, message });
  }

  private detach(key: string): void {
    const lease = this.keyLease.get(key);
    if (lease !== undefined) this.alive.get(lease)?.keys.delete(key);
    this.keyLease.delete(key);
  }

  apply(req: AppliedRequest): void {
    const { cmd, result } = req;
    switch (cmd.t) {
      case 'grant':
        if (result.error === undefined) {
          this.alive.set(cmd.lease, { ttl: cmd.ttl, keys: new Set(), grantedAt: req.proposedAt });
          this.counts.granted++;
        }
        return;
      case 'put': return this.put(req, cmd.k, cmd.v, cmd.lease ?? 0);
      case 'del':
        if (result.writes.length > 0) this.detach(cmd.k);
        return;
      case 'txn':
        for (const p of cmd.puts) this.detach(p.k);
        return;
      case 'revoke': return this.revoke(req, cmd.lease, cmd.expired === true);
      case 'compact': return;
    }
  }

  private put(req: AppliedRequest, key: string, value: string, lease: number): void {
    const alive = lease === 0 || this.alive.has(lease);
    if (req.result.error === 'lease not found') {
      if (alive) this.fail('put', `put ${key}=${value} with live lease ${lease} was refused`);
      return;
    }
    if (!alive) this.fail('put', `put ${key}=${value} with lease ${lease} was applied, but the lease ${this.ended.has(lease) ? `ended at revision ${this.ended.get(lease)}` : 'was never granted'}`);
    this.detach(key);
    if (lease !== 0) this.valueLease.set(`${key}\0${value}`, lease);
    if (lease !== 0 && alive) {
      this.alive.get(lease)!.keys.add(key);
      this.keyLease.set(key, lease);
    }
  }

  private revoke(req: AppliedRequest, lease: number, expired: boolean): void {
    const l = this.alive.get(lease);
    if (req.result.error !== undefined) {
      if (l !== undefined) this.fail('revoke', `revoke of live lease ${lease} failed: ${req.result.error}`);
      return;
    }
    if (l === undefined) {
      this.fail('revoke', `lease ${lease} was revoked but is not alive`);
      return;
    }
    const attached = [...l.keys].sort();
    const deleted = req.result.writes.flatMap((w) => w.events.map((e) => e.key)).sort();
    if (req.result.writes.length > 1) this.fail('one revision', `lease ${lease}'s keys were deleted over revisions ${req.result.writes.map((w) => w.revision).join(', ')}`);
    if (attached.join('\0') !== deleted.join('\0')) this.fail('one revision', `revoking lease ${lease} deleted [${deleted}] but [${attached}] were attached`);
    for (const k of attached) this.keyLease.delete(k);
    this.alive.delete(lease);
    this.ended.set(lease, req.result.writes[0]?.revision ?? req.result.revision);
    if (expired) this.checkExpiry(req, lease, l);
    else this.counts.revokedByClients++;
  }

  private checkExpiry(req: AppliedRequest, lease: number, l: OracleLease): void {
    this.counts.expired++;
    const floor = Math.max(l.grantedAt, this.facts.acks.get(lease) ?? -Infinity);
    const ttlUnits = l.ttl * tickUnits;
    const earliest = floor + ttlUnits / (1 + this.facts.skew);
    this.lags.push(req.appliedAt - (floor + ttlUnits));
    this.minSlack = Math.min(this.minSlack, req.appliedAt - earliest);
    if (req.appliedAt < earliest) {
      this.fail('early expiry', `lease ${lease} (TTL ${l.ttl} ticks = ${ttlUnits} units) expired at ${req.appliedAt}, before ${earliest.toFixed(1)} = last acknowledged ${floor} + TTL/(1+${this.facts.skew})`);
    }
  }
}

export function checkLeases(facts: LeaseFacts): LeaseCheckReport {
  const o = new Oracle(facts);
  for (const req of facts.truth.log) o.apply(req);
  checkReads(o, facts.reads);
  checkFinals(o, facts.finals);
  if (o.violations.length > 0) {
    const first = o.violations[0]!;
    const more = o.violations.slice(0, 10).map((v) => `[${v.kind}] ${v.message}`).join('\n');
    throw new SafetyViolation(`Lease ${first.kind}`, `${o.violations.length} violation(s):\n${more}`);
  }
  const lags = [...o.lags].sort((a, b) => a - b);
  const at = (q: number) => (lags.length === 0 ? 0 : lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]!);
  return { ...o.counts, expiryLagP50: at(0.5), expiryLagP99: at(0.99), minSlack: o.minSlack };
}

/** No read at or after a lease's end returns a value put with it. */
function checkReads(o: Oracle, ops: readonly Operation<EtcdInput, EtcdOutput | undefined>[]): void {
  for (const op of ops) {
    if (op.input.type !== 'get' || op.output === undefined) continue;
    const out = op.output as GetOutput;
    if (out.value === null) continue;
    const lease = o.valueLease.get(`${op.input.key}\0${out.value}`);
    const end = lease === undefined ? undefined : o.ended.get(lease);
    if (end !== undefined && out.revision >= end) {
      o.fail('orphan key', `a read at revision ${out.revision} returned ${op.input.key}=${out.value} of lease ${lease}, which ended at revision ${end}`);
    }
  }
}

/** Every member ends with the oracle's leases, and with no key of an ended lease. */
function checkFinals(o: Oracle, finals: LeaseFacts['finals']): void {
  for (const { id, sm } of finals) {
    const leases = [...sm.leases.keys()].sort((a, b) => a - b).join(',');
    const expected = [...o.alive.keys()].sort((a, b) => a - b).join(',');
    if (leases !== expected) o.fail('lease table', `member ${id} ends with leases [${leases}], expected [${expected}]`);
    for (const [key, kv] of sm.kv) {
      const lease = o.valueLease.get(`${key}\0${kv.value}`);
      if (lease !== undefined && o.ended.has(lease)) o.fail('orphan key', `member ${id} still holds ${key}=${kv.value} of lease ${lease}, which ended at revision ${o.ended.get(lease)}`);
      if (kv.lease !== (o.keyLease.get(key) ?? 0)) o.fail('lease table', `member ${id} has ${key} on lease ${kv.lease}, expected ${o.keyLease.get(key) ?? 0}`);
    }
  }
}
