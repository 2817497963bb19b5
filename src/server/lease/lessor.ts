import assert from 'node:assert/strict';
import { LeaseRecord } from '../../proto/gen/etcdtspb/internal.js';
import type { Backend } from '../mvcc/backend.js';
import type { KVStore, LeaseKeyTracker } from '../mvcc/kvstore.js';
import { LeaseExistsError, LeaseNotFoundError, LeaseTtlTooLargeError, NotPrimaryError } from './errors.js';
import { leaseRevokesPerSecondMax, leaseTtlSecondsMax } from '../constants.js';

/** Monotonic milliseconds; injected so simulations and tests control time. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => performance.now() };

/** A lease: its granted TTL, the keys attached to it, and (on the leader only) when it expires. */
export class Lease {
  /** Monotonic ms at which the lease expires; Infinity on members that are not the leader. */
  expiryMs = Infinity;
  readonly keys = new Set<string>();
  /** Resolves waiters (keep-alives of an expired lease) when the lease is revoked. */
  private revokedWaiters: Array<() => void> = [];

  constructor(readonly id: bigint, public ttlSeconds: bigint, public remainingTtlSeconds: bigint = 0n) {}

  refresh(clock: Clock, extendMs: number): void {
    const ttl = this.remainingTtlSeconds > 0n ? this.remainingTtlSeconds : this.ttlSeconds;
    this.expiryMs = clock.nowMs() + extendMs + Number(ttl) * 1000;
  }

  expired(clock: Clock): boolean {
    return this.expiryMs <= clock.nowMs();
  }

  remainingMs(clock: Clock): number {
    return this.expiryMs === Infinity ? Infinity : this.expiryMs - clock.nowMs();
  }

  whenRevoked(): Promise<void> {
    return new Promise((resolve) => this.revokedWaiters.push(resolve));
  }

  markRevoked(): void {
    for (const w of this.revokedWaiters) w();
    this.revokedWaiters = [];
  }
}

/**
 * The lessor (etcd's lease package, our design): lease state that every
 * member keeps identically by applying Grant and Revoke in log order, plus
 * expiry times that only the leader ("primary") tracks against its own clock.
 *
 * Leases end only through consensus: the leader finds expired leases and
 * proposes their revocation; applying a revoke deletes every attached key in
 * one write request (one revision). A new leader extends every lease by the
 * election timeout before counting (Promote), so a leader change can only
 * lengthen a lease, never shorten it.
 */
export class Lessor implements LeaseKeyTracker {
  private readonly leases = new Map<bigint, Lease>();
  private readonly keyLease = new Map<string, bigint>();
  private primary = false;

  constructor(
    private backend: Backend,
    private readonly store: KVStore,
    private readonly clock: Clock,
    readonly minTtlSeconds: bigint,
  ) {
    this.restore();
  }

  /** Reloads every lease from another backend (snapshot install); keys are re-attached by the store. */
  reload(backend: Backend): void {
    this.backend = backend;
    for (const lease of this.leases.values()) lease.markRevoked();
    this.leases.clear();
    this.keyLease.clear();
    this.restore();
    const wasPrimary = this.primary;
    this.primary = false;
    if (wasPrimary) this.promote(0);
  }

  /** Loads leases from the backend at startup; keys are re-attached by KVStore.reattachLeases. */
  private restore(): void {
    this.backend.scan('lease', undefined, undefined, (_key, value) => {
      const record = LeaseRecord.decode(value);
      this.leases.set(record.ID, new Lease(record.ID, record.TTL, record.remainingTTL));
    });
  }

  private persist(lease: Lease): void {
    const key = leaseKey(lease.id);
    this.backend.put('lease', key, Buffer.from(LeaseRecord.encode({ ID: lease.id, TTL: lease.ttlSeconds, remainingTTL: lease.remainingTtlSeconds }).finish()));
  }

  get isPrimary(): boolean {
    return this.primary;
  }

  // ---- applied through consensus (deterministic) ----

  grant(id: bigint, ttlSeconds: bigint): Lease {
    if (id === 0n) throw new LeaseNotFoundError();
    if (ttlSeconds > BigInt(leaseTtlSecondsMax)) throw new LeaseTtlTooLargeError();
    if (this.leases.has(id)) throw new LeaseExistsError();
    const lease = new Lease(id, ttlSeconds < this.minTtlSeconds ? this.minTtlSeconds : ttlSeconds);
    if (this.primary) lease.refresh(this.clock, 0);
    this.leases.set(id, lease);
    this.persist(lease);
    return lease;
  }

  /** Deletes the lease and every key attached to it, in one write request. */
  revoke(id: bigint): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseNotFoundError();
    const txn = this.store.write();
    for (const key of [...lease.keys].sort()) txn.deleteRange({ start: key, end: undefined });
    this.leases.delete(id);
    this.backend.delete('lease', leaseKey(id));
    txn.end();
    lease.markRevoked();
  }

  /** Records a remaining TTL (lease checkpointing), so a new leader does not restart the full TTL. */
  checkpoint(id: bigint, remainingTtlSeconds: bigint): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    lease.remainingTtlSeconds = remainingTtlSeconds;
    this.persist(lease);
    if (this.primary) lease.refresh(this.clock, 0);
  }

  // ---- LeaseKeyTracker (called by the MVCC store inside write transactions) ----

  exists(id: bigint): boolean {
    return this.leases.has(id);
  }

  leaseOfKey(key: string): bigint {
    return this.keyLease.get(key) ?? 0n;
  }

  attach(id: bigint, key: string): void {
    const lease = this.leases.get(id);
    assert.ok(lease !== undefined, `attach of key to unknown lease ${id.toString(16)}`);
    lease.keys.add(key);
    this.keyLease.set(key, id);
  }

  detach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.delete(key);
    if (this.keyLease.get(key) === id) this.keyLease.delete(key);
  }

  // ---- leader-local (not replicated) ----

  /**
   * Becomes primary: every lease expires `extendMs` (the election timeout)
   * after its TTL from now. When many leases would expire together, their
   * expiries are spread so that revocations stay under the revoke rate.
   */
  promote(extendMs: number): void {
    this.primary = true;
    for (const lease of this.leases.values()) lease.refresh(this.clock, extendMs);
    if (this.leases.size < leaseRevokesPerSecondMax) return;
    const ordered = [...this.leases.values()].sort((a, b) => a.expiryMs - b.expiryMs);
    const targetPerSecond = Math.floor((3 * leaseRevokesPerSecondMax) / 4);
    let windowStart = ordered[0]!.expiryMs;
    let inWindow = 0;
    for (const lease of ordered) {
      if (lease.expiryMs > windowStart + 1000) {
        windowStart = lease.expiryMs;
        inWindow = 1;
        continue;
      }
      inWindow++;
      if (inWindow <= targetPerSecond) continue;
      const delayMs = (1000 * inWindow) / targetPerSecond - (lease.expiryMs - windowStart);
      lease.expiryMs += Math.max(0, delayMs);
    }
  }

  /** Stops being primary: nothing expires on this member any more. */
  demote(): void {
    this.primary = false;
    for (const lease of this.leases.values()) lease.expiryMs = Infinity;
  }

  /** Keep-alive on the leader: restarts the lease's TTL. Returns the granted TTL. */
  async renew(id: bigint): Promise<bigint> {
    if (!this.primary) throw new NotPrimaryError();
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseNotFoundError();
    if (lease.expired(this.clock)) {
      // Expired but not revoked yet: the revoke is on its way through consensus.
      // If it has not arrived (leadership moved and the new leader may still
      // renew it), the client is told to retry rather than that the lease is gone.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([lease.whenRevoked(), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      if (this.leases.get(id) !== lease) throw new LeaseNotFoundError();
      throw new NotPrimaryError();
    }
    lease.remainingTtlSeconds = 0n;
    lease.refresh(this.clock, 0);
    return lease.ttlSeconds;
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  /** Lease ids in ascending order. */
  ids(): bigint[] {
    return [...this.leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Expired leases the leader should propose to revoke now, at most `max`. */
  expired(max: number): bigint[] {
    if (!this.primary) return [];
    const found: bigint[] = [];
    for (const lease of this.leases.values()) {
      if (found.length >= max) break;
      if (lease.expired(this.clock)) found.push(lease.id);
    }
    return found;
  }

  /** Remaining whole seconds, as etcd reports them (truncated); -1 for an unknown lease. */
  remainingSeconds(id: bigint): bigint {
    const lease = this.leases.get(id);
    if (lease === undefined) return -1n;
    const ms = lease.remainingMs(this.clock);
    if (ms === Infinity) return lease.ttlSeconds;
    return BigInt(Math.max(0, Math.trunc(ms / 1000)));
  }
}

export function leaseKey(id: bigint): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigInt64BE(id);
  return key;
}
