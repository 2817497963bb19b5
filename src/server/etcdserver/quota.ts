import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import { AlarmType, type PutRequest, type TxnRequest } from '../../proto/gen/etcdserverpb/rpc.js';
import type { Backend } from '../mvcc/backend.js';
import type { AlarmStore } from './alarms.js';
import type { ApplyGuard } from './apply.js';
import { NoSpaceError } from './errors.js';

/** Per-write overheads etcd charges against the quota (etcdserver/quota.go). */
const kvOverheadBytes = 256;
const leaseOverheadBytes = 64;

function costPut(r: PutRequest): number {
  return kvOverheadBytes + r.key.length + r.value.length;
}

function costTxn(r: TxnRequest): number {
  const side = (ops: TxnRequest['success']) => ops.reduce((sum, op) => sum + (op.requestPut !== undefined ? costPut(op.requestPut) : 0), 0);
  return Math.max(side(r.success), side(r.failure));
}

/** Bytes a request may add to the database; 0 for requests that never grow it. */
export function quotaCost(req: Pick<InternalRaftRequest, 'put' | 'txn' | 'leaseGrant'>): number {
  if (req.put !== undefined) return costPut(req.put);
  if (req.txn !== undefined) return costTxn(req.txn);
  if (req.leaseGrant !== undefined) return leaseOverheadBytes;
  return 0;
}

/**
 * The backend quota (--quota-backend-bytes): a write is admitted while the
 * database file plus its cost stays under the quota. A negative quota
 * disables the check.
 */
export class BackendQuota {
  constructor(private readonly backend: Backend, readonly quotaBytes: number) {}

  available(req: Pick<InternalRaftRequest, 'put' | 'txn' | 'leaseGrant'>): boolean {
    if (this.quotaBytes < 0) return true;
    const cost = quotaCost(req);
    return cost === 0 || this.backend.sizeBytes() + cost < this.quotaBytes;
  }
}

/**
 * While NOSPACE is raised, refuses every request that could grow the
 * database (puts, txns with puts, lease grants); deletes, compaction and
 * alarm changes still go through so an operator can recover (etcd's
 * applierV3Capped). Deterministic: it depends only on applied alarms.
 */
export class CappedGuard implements ApplyGuard {
  constructor(private readonly alarms: AlarmStore) {}

  check(req: InternalRaftRequest): void {
    if (!this.alarms.has(AlarmType.NOSPACE)) return;
    if (quotaCost(req) > 0) throw new NoSpaceError();
  }
}
