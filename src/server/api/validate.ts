import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../../proto/gen/etcdserverpb/rpc.js';
import { DuplicateKeyError, EmptyKeyError, KeyNotFoundError, LeaseProvidedError, TooManyOpsError, ValueProvidedError } from '../etcdserver/errors.js';
import { txnDepthMax } from '../constants.js';

/**
 * Request checks done at the API edge before anything is proposed, with
 * etcd 3.4's rules and errors (etcdserver/api/v3rpc/key.go).
 */

export function checkRangeRequest(r: RangeRequest): void {
  if (r.key.length === 0) throw new EmptyKeyError();
}

export function checkPutRequest(r: PutRequest): void {
  if (r.key.length === 0) throw new EmptyKeyError();
  if (r.ignoreValue && r.value.length !== 0) throw new ValueProvidedError();
  if (r.ignoreLease && r.lease !== 0n) throw new LeaseProvidedError();
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw new EmptyKeyError();
}

/**
 * Counts the widest of compare/success/failure against --max-txn-ops, checks
 * every op recursively, then rejects a put and a delete (or two puts) of the
 * same key on one path.
 */
export function checkTxnRequest(r: TxnRequest, maxTxnOps: number, depth = 0): void {
  if (depth > txnDepthMax) throw new TooManyOpsError();
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) throw new TooManyOpsError();
  for (const c of r.compare) if (c.key.length === 0) throw new EmptyKeyError();
  for (const op of r.success) checkRequestOp(op, maxTxnOps - opc, depth);
  for (const op of r.failure) checkRequestOp(op, maxTxnOps - opc, depth);
  if (depth === 0) {
    checkIntervals(r.success);
    checkIntervals(r.failure);
  }
}

function checkRequestOp(op: RequestOp, maxTxnOps: number, depth: number): void {
  if (op.requestRange !== undefined) return checkRangeRequest(op.requestRange);
  if (op.requestPut !== undefined) return checkPutRequest(op.requestPut);
  if (op.requestDeleteRange !== undefined) return checkDeleteRequest(op.requestDeleteRange);
  if (op.requestTxn !== undefined) return checkTxnRequest(op.requestTxn, maxTxnOps, depth + 1);
  // An op with nothing set: etcd answers "key not found".
  throw new KeyNotFoundError();
}

/** A deleted range [begin, end) over latin1 key strings; a point delete has end = begin + "\0". */
interface Interval {
  begin: string;
  end: string;
}

function intersectsPoint(dels: Interval[], key: string): boolean {
  return dels.some((iv) => iv.begin <= key && key < iv.end);
}

/**
 * etcd's checkIntervals: puts on this level and below must not repeat a key
 * or fall inside a range deleted on the same path. The then/else branches of
 * a nested txn may put the same key (only one of them runs). A range end of
 * "\0" is taken literally as etcd does, so from-key deletes never conflict.
 */
export function checkIntervals(reqs: RequestOp[]): { puts: Set<string>; dels: Interval[] } {
  const dels: Interval[] = [];
  for (const req of reqs) {
    const d = req.requestDeleteRange;
    if (d === undefined) continue;
    const begin = d.key.toString('latin1');
    dels.push({ begin, end: d.rangeEnd.length !== 0 ? d.rangeEnd.toString('latin1') : `${begin}\u0000` });
  }
  const puts = new Set<string>();
  for (const req of reqs) {
    const t = req.requestTxn;
    if (t === undefined) continue;
    const then = checkIntervals(t.success);
    const otherwise = checkIntervals(t.failure);
    for (const k of then.puts) {
      if (puts.has(k) || intersectsPoint(dels, k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw new DuplicateKeyError();
      if (intersectsPoint(dels, k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const req of reqs) {
    const p = req.requestPut;
    if (p === undefined) continue;
    const k = p.key.toString('latin1');
    if (puts.has(k) || intersectsPoint(dels, k)) throw new DuplicateKeyError();
    puts.add(k);
  }
  return { puts, dels };
}
