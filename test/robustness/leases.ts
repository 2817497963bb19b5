import type { EtcdOperation, EtcdState } from '../support/lincheck/etcd-model.js';
import type { CommittedRevision } from '../support/lincheck/watch-check.js';
import type { LeaseRecord } from './traffic.js';

/**
 * What the linearizability check cannot see about leases (its model has
 * none; traffic.ts records a revoke or an expiry as the deletes it makes):
 *
 * - No early expiry. A lease's keys vanished at revision R without a revoke
 *   that reported R: the lease expired. Expiry may not come before TTL after
 *   the later of the grant's send time and the send time of any keep-alive
 *   answered with a TTL > 0 (the leader counts from when it got them, later
 *   still). R's time is bounded above by the return of the first request
 *   that reported a revision >= R; below the bound means early, for sure.
 *   A keep-alive answered with a TTL > 0 that was sent after that bound
 *   renewed a lease that was already gone.
 * - No orphan keys. The run ends with every lease revoked or expired, so no
 *   key written with a lease may remain.
 */
export interface LeaseViolation {
  kind: 'early-expiry' | 'orphan-keys';
  message: string;
}

export function checkLeases(leases: readonly LeaseRecord[], ops: readonly EtcdOperation[], history: readonly CommittedRevision[], final: EtcdState): LeaseViolation[] {
  const violations: LeaseViolation[] = [];
  const deletedAt = firstDeletes(history);
  const observedBy = revisionObservedBy(ops);
  for (const lease of leases) {
    const revision = Math.min(...lease.keys.map((k) => deletedAt.get(k) ?? Infinity));
    if (revision === Infinity || revision === lease.revokedAt || lease.revokeUnrecorded === true) continue;
    const seenBy = observedBy(revision);
    if (seenBy === Infinity) continue;
    const renewed = lease.keepAliveAcks.filter((sent) => sent <= seenBy);
    const floor = Math.max(lease.grantCall, ...renewed);
    const earliest = floor + lease.ttlSeconds * 1000;
    if (seenBy < earliest) {
      violations.push({ kind: 'early-expiry', message: `lease ${lease.id.toString(16)} (TTL ${lease.ttlSeconds} s) expired at revision ${revision}, seen by ${seenBy.toFixed(0)} ms, ${(earliest - seenBy).toFixed(0)} ms before TTL after its last keep-alive sent at ${floor.toFixed(0)} ms` });
    }
    const late = lease.keepAliveAcks.find((sent) => sent > seenBy);
    if (late !== undefined) {
      violations.push({ kind: 'early-expiry', message: `lease ${lease.id.toString(16)}: a keep-alive sent at ${late.toFixed(0)} ms was answered with a TTL, after its keys were deleted at revision ${revision} (seen by ${seenBy.toFixed(0)} ms)` });
    }
  }
  for (const [key, kv] of final.entries()) {
    if (key.startsWith('l/')) {
      violations.push({ kind: 'orphan-keys', message: `${key}=${JSON.stringify(kv.value)} (mod ${kv.modRevision}) outlived every lease` });
    }
  }
  return violations;
}

function firstDeletes(history: readonly CommittedRevision[]): Map<string, number> {
  const at = new Map<string, number>();
  for (const r of history) for (const e of r.events) if (e.type === 'delete' && !at.has(e.key)) at.set(e.key, r.revision);
  return at;
}

/** For a revision R: the earliest return of a completed request that reported R or later. */
function revisionObservedBy(ops: readonly EtcdOperation[]): (revision: number) => number {
  const done = ops.filter((o) => o.return !== Infinity && o.output !== undefined).map((o) => ({ revision: o.output!.revision, ret: o.return }));
  done.sort((a, b) => b.revision - a.revision);
  // Walking from the highest revision down, keep the earliest return so far.
  const bound: { revision: number; ret: number }[] = [];
  let earliest = Infinity;
  for (const d of done) {
    earliest = Math.min(earliest, d.ret);
    bound.push({ revision: d.revision, ret: earliest });
  }
  bound.reverse();
  return (revision) => {
    let lo = 0;
    let hi = bound.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bound[mid]!.revision < revision) lo = mid + 1;
      else hi = mid;
    }
    return bound[lo]?.ret ?? Infinity;
  };
}
