import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import type { Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../../proto/gen/etcdserverpb/rpc.js';
import { AlarmRequest_AlarmAction } from '../../proto/gen/etcdserverpb/rpc.js';
import type { AuthInfo, AuthStore } from './store.js';

/**
 * The permission every request needs (etcd's apply_auth.go and the API-layer
 * checks of v3_server.go, stricter where the published advisories showed
 * 3.4.23 wrong). One function per kind of operation, and a Txn checks each of
 * its compares and each op of both branches, at every depth, with the very
 * functions the top level uses: 3.4.23 skipped nested txns
 * (GHSA-rfx7-8w68-q57q) and the prev_kv and lease checks of a Put inside a
 * txn (CVE-2026-44283).
 */

/**
 * Who a proposal is for: a client's identity; 'member' for what the member
 * proposes for itself (lease expiry, auto-compaction, its own alarms), which
 * no permission check applies to; undefined for a caller without credentials.
 */
export type RequestOrigin = AuthInfo | 'member' | undefined;

/** The keys attached to a lease (latin1 strings), as the lessor keeps them. */
export interface LeaseKeys {
  keysOf(lease: bigint): Iterable<string> | undefined;
}

const noEnd = Buffer.alloc(0);

export function checkRange(store: AuthStore, ai: AuthInfo | undefined, r: Pick<RangeRequest, 'key' | 'rangeEnd'>): void {
  store.checkRead(ai, r.key, r.rangeEnd);
}

/**
 * A put writes its key; with prev_kv it also reads it; with a lease it joins
 * the lease's keys, and who may not write those keys could not revoke the
 * lease afterwards (etcd's checkLeasePuts), so it needs write on them too.
 */
export function checkPut(store: AuthStore, ai: AuthInfo | undefined, p: PutRequest, leases: LeaseKeys): void {
  store.checkWrite(ai, p.key, noEnd);
  if (p.prevKv) store.checkRead(ai, p.key, noEnd);
  if (p.lease !== 0n) checkLeaseKeysWritable(store, ai, p.lease, leases);
}

export function checkDeleteRange(store: AuthStore, ai: AuthInfo | undefined, d: DeleteRangeRequest): void {
  store.checkWrite(ai, d.key, d.rangeEnd);
  if (d.prevKv) store.checkRead(ai, d.key, d.rangeEnd);
}

export function checkCompare(store: AuthStore, ai: AuthInfo | undefined, c: Compare): void {
  store.checkRead(ai, c.key, c.rangeEnd);
}

/** Every compare and every op of both branches, nested txns included: which branch runs must not matter. */
export function checkTxn(store: AuthStore, ai: AuthInfo | undefined, t: TxnRequest, leases: LeaseKeys): void {
  for (const c of t.compare) checkCompare(store, ai, c);
  for (const op of t.success) checkOp(store, ai, op, leases);
  for (const op of t.failure) checkOp(store, ai, op, leases);
}

function checkOp(store: AuthStore, ai: AuthInfo | undefined, op: RequestOp, leases: LeaseKeys): void {
  if (op.requestRange !== undefined) checkRange(store, ai, op.requestRange);
  else if (op.requestPut !== undefined) checkPut(store, ai, op.requestPut, leases);
  else if (op.requestDeleteRange !== undefined) checkDeleteRange(store, ai, op.requestDeleteRange);
  else if (op.requestTxn !== undefined) checkTxn(store, ai, op.requestTxn, leases);
}

/** Write on every key attached to the lease: to revoke it, or to attach another key to it. */
export function checkLeaseKeysWritable(store: AuthStore, ai: AuthInfo | undefined, lease: bigint, leases: LeaseKeys): void {
  for (const key of leases.keysOf(lease) ?? []) store.checkWrite(ai, Buffer.from(key, 'latin1'), noEnd);
}

/**
 * LeaseTimeToLive may list the lease's keys: the caller must be able to read
 * every one of them (CVE-2023-32082), whether or not it asked for them, as
 * etcd's fix does.
 */
export function checkLeaseKeysReadable(store: AuthStore, ai: AuthInfo | undefined, lease: bigint, leases: LeaseKeys): void {
  store.checkAuthenticated(ai);
  for (const key of leases.keysOf(lease) ?? []) store.checkRead(ai, Buffer.from(key, 'latin1'), noEnd);
}

/**
 * The check of a committed request, at apply, against the store as it is
 * at that point of the log: a permission revoked by an earlier entry is
 * already gone. Requests the member proposes for itself (lease expiry,
 * auto-compaction, its own alarms) are not checked.
 */
export function authorizeProposal(store: AuthStore, req: InternalRaftRequest, leases: LeaseKeys): void {
  if (!store.enabled || req.header?.fromMember === true) return;
  const ai: AuthInfo | undefined = req.header !== undefined && req.header.username !== ''
    ? { username: req.header.username, revision: req.header.authRevision }
    : undefined;
  if (req.put !== undefined) checkPut(store, ai, req.put, leases);
  else if (req.deleteRange !== undefined) checkDeleteRange(store, ai, req.deleteRange);
  else if (req.txn !== undefined) checkTxn(store, ai, req.txn, leases);
  else if (req.leaseGrant !== undefined) store.checkAuthenticated(ai);
  else if (req.leaseRevoke !== undefined) {
    store.checkAuthenticated(ai);
    checkLeaseKeysWritable(store, ai, req.leaseRevoke.ID, leases);
  } else if (req.alarm !== undefined) {
    // Listing alarms is for any user; raising or clearing one is administration.
    if (req.alarm.action === AlarmRequest_AlarmAction.GET) store.checkAuthenticated(ai);
    else store.checkAdmin(ai);
  } else if (needsAdmin(req)) {
    store.checkAdmin(ai);
  }
}

/**
 * etcd's needAdminPermission, plus compaction: in 3.4.23 anyone could
 * compact, which discards every user's history; here only root may.
 */
function needsAdmin(req: InternalRaftRequest): boolean {
  return req.compaction !== undefined || req.authEnable !== undefined || req.authDisable !== undefined
    || req.authUserAdd !== undefined || req.authUserDelete !== undefined || req.authUserChangePassword !== undefined
    || req.authUserGrantRole !== undefined || req.authUserRevokeRole !== undefined || req.authRoleAdd !== undefined
    || req.authRoleDelete !== undefined || req.authRoleGrantPermission !== undefined || req.authRoleRevokePermission !== undefined
    || req.memberAttributes !== undefined || req.leaseCheckpoint !== undefined;
}
