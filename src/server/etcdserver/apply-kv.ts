import {
  Compare, Compare_CompareResult, Compare_CompareTarget, RangeRequest_SortOrder, RangeRequest_SortTarget,
  type DeleteRangeRequest, type DeleteRangeResponse, type PutRequest, type PutResponse, type RangeRequest,
  type RangeResponse, type RequestOp, type ResponseHeader, type ResponseOp, type TxnRequest, type TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import { CompactedError, FutureRevisionError } from '../mvcc/errors.js';
import type { KVStore, RangeOptions, RangeResult, WriteTxn } from '../mvcc/kvstore.js';
import type { KeyRange } from '../mvcc/tree-index.js';
import { KeyNotFoundError } from './errors.js';
import { LeaseNotFoundError } from '../lease/errors.js';

/**
 * The KV half of the apply layer: Range, Put, DeleteRange and Txn executed
 * against the MVCC store with etcd 3.4's semantics (etcdserver/apply.go):
 * limit+1 to compute `more`, filters and sorting after the fetch, one
 * revision per write request, Txn compares evaluated on a read view before
 * the write transaction starts, nested Txns following the compare path.
 */

/** What both read and write transactions offer to the range code. */
export interface RangeView {
  readonly rev: bigint;
  readonly firstRev: bigint;
  range(range: KeyRange, options?: RangeOptions): RangeResult;
}

export function header(revision: bigint): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0n };
}

/**
 * Decodes etcd's range encoding: no range_end = the single key; range_end
 * "\0" = every key >= key; otherwise [key, range_end). Keys become latin1
 * strings so that JS string order is byte order.
 */
export function keyRangeOf(key: Buffer, rangeEnd: Buffer): KeyRange {
  const start = key.toString('latin1');
  if (rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: rangeEnd.toString('latin1') };
}

export function applyRange(view: RangeView, r: RangeRequest): RangeResponse {
  const filtered = r.minModRevision !== 0n || r.maxModRevision !== 0n || r.minCreateRevision !== 0n || r.maxCreateRevision !== 0n;
  let fetchLimit = Number(r.limit);
  // Sorting and filtering need everything; otherwise one extra row tells us `more`.
  if (r.sortOrder !== RangeRequest_SortOrder.NONE || filtered) fetchLimit = 0;
  if (fetchLimit > 0) fetchLimit += 1;
  const rr = view.range(keyRangeOf(r.key, r.rangeEnd), { limit: fetchLimit, rev: r.revision, countOnly: r.countOnly });
  let kvs = rr.kvs;
  if (r.maxModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision <= r.maxModRevision);
  if (r.minModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision >= r.minModRevision);
  if (r.maxCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision <= r.maxCreateRevision);
  if (r.minCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision >= r.minCreateRevision);
  let order = r.sortOrder;
  // The store returns keys ascending already; any other target sorts ascending by default.
  if (r.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) order = RangeRequest_SortOrder.ASCEND;
  if (order !== RangeRequest_SortOrder.NONE) {
    const cmp = sorterFor(r.sortTarget);
    kvs.sort(order === RangeRequest_SortOrder.DESCEND ? (a, b) => cmp(b, a) : cmp);
  }
  let more = false;
  const limit = Number(r.limit);
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (r.keysOnly) for (const kv of kvs) kv.value = Buffer.alloc(0);
  return { header: header(rr.rev), kvs, more, count: BigInt(rr.count) };
}

function sorterFor(target: RangeRequest_SortTarget): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case RangeRequest_SortTarget.VERSION:
      return (a, b) => cmpBig(a.version, b.version);
    case RangeRequest_SortTarget.CREATE:
      return (a, b) => cmpBig(a.createRevision, b.createRevision);
    case RangeRequest_SortTarget.MOD:
      return (a, b) => cmpBig(a.modRevision, b.modRevision);
    case RangeRequest_SortTarget.VALUE:
      return (a, b) => Buffer.compare(a.value, b.value);
    default:
      return (a, b) => Buffer.compare(a.key, b.key);
  }
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lease lookups the KV apply needs (the lessor implements it). */
export interface LeaseLookup {
  exists(lease: bigint): boolean;
}

export function applyPut(txn: WriteTxn, p: PutRequest, leases: LeaseLookup | undefined, standalone: boolean): PutResponse {
  let value = p.value;
  let lease = p.lease;
  if (standalone && lease !== 0n && !(leases?.exists(lease) ?? false)) throw new LeaseNotFoundError();
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = txn.range({ start: p.key.toString('latin1'), end: undefined }).kvs[0];
  }
  if (p.ignoreValue || p.ignoreLease) {
    if (prev === undefined) throw new KeyNotFoundError();
    if (p.ignoreValue) value = prev.value;
    if (p.ignoreLease) lease = prev.lease;
  }
  const revision = txn.put(p.key, value, lease);
  return { header: header(revision), prevKv: p.prevKv ? prev : undefined };
}

export function applyDeleteRange(txn: WriteTxn, d: DeleteRangeRequest): DeleteRangeResponse {
  const range = keyRangeOf(d.key, d.rangeEnd);
  const prevKvs = d.prevKv ? txn.range(range).kvs : [];
  const changedBefore = txn.changed;
  const deleted = txn.deleteRange(range);
  const revision = deleted !== 0 || changedBefore ? txn.beginRev + 1n : txn.beginRev;
  return { header: header(revision), deleted: BigInt(deleted), prevKvs };
}

/** True when no branch of the txn (at any depth) writes: such txns are served without Raft. */
export function isTxnReadonly(r: TxnRequest): boolean {
  for (const op of r.success) if (op.requestRange === undefined) return false;
  for (const op of r.failure) if (op.requestRange === undefined) return false;
  return true;
}

/** True when every op is a serializable range: no ReadIndex round needed. */
export function isTxnSerializable(r: TxnRequest): boolean {
  for (const op of r.success) if (op.requestRange === undefined || !op.requestRange.serializable) return false;
  for (const op of r.failure) if (op.requestRange === undefined || !op.requestRange.serializable) return false;
  return true;
}

/**
 * Applies a Txn. Compares and pre-checks run on a read view at the current
 * revision; then, for a writing txn, all branch ops run in one write
 * transaction (one revision). A failed pre-check changes nothing.
 */
export function applyTxn(store: KVStore, r: TxnRequest, leases: LeaseLookup | undefined): TxnResponse {
  const isWrite = !isTxnReadonly(r);
  const view = store.read();
  const path = compareToPath(view, r);
  if (isWrite) checkOps(r, path, (op) => checkPut(view, op, leases));
  checkOps(r, path, (op) => checkRange(view, op));
  if (!isWrite) {
    const resp = emptyTxnResponse(path[0]!);
    runOps(view, r, path, resp, undefined, leases);
    resp.header = header(view.rev);
    return resp;
  }
  const txn = store.write();
  const resp = emptyTxnResponse(path[0]!);
  runOps(txn, r, path, resp, txn, leases);
  const revision = txn.changed ? txn.beginRev + 1n : txn.beginRev;
  txn.end();
  resp.header = header(revision);
  return resp;
}

function emptyTxnResponse(succeeded: boolean): TxnResponse {
  return { header: undefined, succeeded, responses: [] };
}

/** The branch taken at each txn, depth-first: path[0] for the top, then nested txns in op order. */
function compareToPath(view: RangeView, r: TxnRequest): boolean[] {
  const succeeded = r.compare.every((c) => applyCompare(view, c));
  const path = [succeeded];
  for (const op of succeeded ? r.success : r.failure) {
    if (op.requestTxn !== undefined) path.push(...compareToPath(view, op.requestTxn));
  }
  return path;
}

/** Calls check for every non-txn op on the taken path; returns how many path slots the txn used. */
function checkOps(r: TxnRequest, path: boolean[], check: (op: RequestOp) => void): number {
  let used = 1;
  for (const op of path[0] ? r.success : r.failure) {
    if (op.requestTxn !== undefined) {
      used += checkOps(op.requestTxn, path.slice(used), check);
      continue;
    }
    check(op);
  }
  return used;
}

function checkPut(view: RangeView, op: RequestOp, leases: LeaseLookup | undefined): void {
  const p = op.requestPut;
  if (p === undefined) return;
  if (p.ignoreValue || p.ignoreLease) {
    if (view.range({ start: p.key.toString('latin1'), end: undefined }).kvs.length === 0) throw new KeyNotFoundError();
  }
  if (p.lease !== 0n && !(leases?.exists(p.lease) ?? false)) throw new LeaseNotFoundError();
}

function checkRange(view: RangeView, op: RequestOp): void {
  const r = op.requestRange;
  if (r === undefined || r.revision === 0n) return;
  if (r.revision > view.rev) throw new FutureRevisionError();
  if (r.revision < view.firstRev) throw new CompactedError();
}

/** Runs the ops of the taken branch; returns how many path slots were used. */
function runOps(view: RangeView, r: TxnRequest, path: boolean[], resp: TxnResponse, txn: WriteTxn | undefined, leases: LeaseLookup | undefined): number {
  let used = 1;
  for (const op of path[0] ? r.success : r.failure) {
    const out: ResponseOp = {};
    if (op.requestRange !== undefined) {
      out.responseRange = applyRange(view, op.requestRange);
    } else if (op.requestPut !== undefined && txn !== undefined) {
      out.responsePut = applyPut(txn, op.requestPut, leases, false);
    } else if (op.requestDeleteRange !== undefined && txn !== undefined) {
      out.responseDeleteRange = applyDeleteRange(txn, op.requestDeleteRange);
    } else if (op.requestTxn !== undefined) {
      const nested = emptyTxnResponse(path[used]!);
      used += runOps(view, op.requestTxn, path.slice(used), nested, txn, leases);
      // etcd leaves nested txn headers empty; only the top level carries the revision.
      nested.header = header(0n);
      out.responseTxn = nested;
    }
    resp.responses.push(out);
  }
  return used;
}

function applyCompare(view: RangeView, c: Compare): boolean {
  let kvs: KeyValue[];
  try {
    kvs = view.range(keyRangeOf(c.key, c.rangeEnd)).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) {
    // A missing key has no value to compare: value compares always fail.
    if (c.target === Compare_CompareTarget.VALUE) return false;
    return compareKV(c, undefined);
  }
  return kvs.every((kv) => compareKV(c, kv));
}

function compareKV(c: Compare, kv: KeyValue | undefined): boolean {
  let result: number;
  switch (c.target) {
    case Compare_CompareTarget.VALUE:
      result = Buffer.compare(kv?.value ?? Buffer.alloc(0), c.value ?? Buffer.alloc(0));
      break;
    case Compare_CompareTarget.CREATE:
      result = cmpBig(kv?.createRevision ?? 0n, c.createRevision ?? 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = cmpBig(kv?.modRevision ?? 0n, c.modRevision ?? 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = cmpBig(kv?.version ?? 0n, c.version ?? 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = cmpBig(kv?.lease ?? 0n, c.lease ?? 0n);
      break;
    default:
      return true;
  }
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

export { Compare };
