import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Compare, Compare_CompareResult as Result, Compare_CompareTarget as Target, RangeRequest, RangeRequest_SortOrder as Order,
  RangeRequest_SortTarget as SortBy, RequestOp, TxnRequest, PutRequest, DeleteRangeRequest,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { applyDeleteRange, applyPut, applyRange, applyTxn } from '../../../src/server/etcdserver/apply-kv.js';
import { KeyNotFoundError } from '../../../src/server/etcdserver/errors.js';
import { LeaseNotFoundError } from '../../../src/server/lease/errors.js';
import { CompactedError, FutureRevisionError } from '../../../src/server/mvcc/errors.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

const b = (s: string) => Buffer.from(s);
const range = (p: Partial<Record<string, unknown>>) => RangeRequest.fromPartial(p as never);

function store(): KVStore {
  return new KVStore(Backend.open(join(tempDir('apply-'), 'db')));
}

function put(s: KVStore, key: string, value: string, extra: Partial<PutRequest> = {}) {
  const txn = s.write();
  try {
    return applyPut(txn, PutRequest.fromPartial({ key: b(key), value: b(value), ...extra }), undefined, true);
  } finally {
    txn.end();
  }
}

const keysOf = (kvs: { key: Buffer }[]) => kvs.map((kv) => kv.key.toString()).join(',');

describe('apply: Range', () => {
  after(removeTempDirs);
  let s: KVStore;
  before(() => {
    s = store();
    for (const [k, v] of [['a', '3'], ['b', '1'], ['c', '2'], ['ca', '5'], ['d', '4']]) put(s, k!, v!);
    put(s, 'b', '9');
  });

  const cases: Array<[string, Record<string, unknown>, string, boolean, number]> = [
    ['a single key', { key: b('c') }, 'c', false, 1],
    ['a prefix (range_end = key + 1)', { key: b('c'), rangeEnd: b('d') }, 'c,ca', false, 2],
    ['from a key ("\\0" range end)', { key: b('c'), rangeEnd: b('\0') }, 'c,ca,d', false, 3],
    ['all keys', { key: b('\0'), rangeEnd: b('\0') }, 'a,b,c,ca,d', false, 5],
    ['a limit, with more and the full count', { key: b('a'), rangeEnd: b('z'), limit: 2 }, 'a,b', true, 5],
    ['a limit equal to the size', { key: b('a'), rangeEnd: b('z'), limit: 5 }, 'a,b,c,ca,d', false, 5],
    ['descending by key', { key: b('a'), rangeEnd: b('z'), sortOrder: Order.DESCEND }, 'd,ca,c,b,a', false, 5],
    ['by value (ascending by default)', { key: b('a'), rangeEnd: b('z'), sortTarget: SortBy.VALUE }, 'c,a,d,ca,b', false, 5],
    ['by version descending with a limit', { key: b('a'), rangeEnd: b('z'), sortTarget: SortBy.VERSION, sortOrder: Order.DESCEND, limit: 1 }, 'b', true, 5],
    ['by mod revision', { key: b('a'), rangeEnd: b('z'), sortTarget: SortBy.MOD, sortOrder: Order.ASCEND }, 'a,c,ca,d,b', false, 5],
    ['min mod revision filter', { key: b('a'), rangeEnd: b('z'), minModRevision: 5 }, 'b,ca,d', false, 5],
    ['max create revision filter', { key: b('a'), rangeEnd: b('z'), maxCreateRevision: 3 }, 'a,b', false, 5],
    ['at an old revision', { key: b('a'), rangeEnd: b('z'), revision: 3 }, 'a,b', false, 2],
  ];
  for (const [name, req, keys, more, count] of cases) {
    it(`reads ${name}`, () => {
      const resp = applyRange(s.read(), range(req));
      assert.equal(keysOf(resp.kvs), keys);
      assert.equal(resp.more, more);
      assert.equal(resp.count, BigInt(count));
      assert.equal(resp.header?.revision, 7n);
    });
  }

  it('returns only the count with count_only, and no values with keys_only', () => {
    const counted = applyRange(s.read(), range({ key: b('a'), rangeEnd: b('z'), countOnly: true }));
    assert.deepEqual([counted.kvs.length, counted.count], [0, 5n]);
    const keys = applyRange(s.read(), range({ key: b('a'), rangeEnd: b('z'), keysOnly: true }));
    assert.ok(keys.kvs.every((kv) => kv.value.length === 0));
  });
});

describe('apply: Put and DeleteRange', () => {
  it('returns prev_kv, and keeps the value or lease with ignore_value / ignore_lease', () => {
    const s = store();
    put(s, 'k', 'v1');
    const resp = put(s, 'k', '', { ignoreValue: true, prevKv: true });
    assert.equal(resp.prevKv?.value.toString(), 'v1');
    assert.equal(s.read().range({ start: 'k', end: undefined }).kvs[0]!.value.toString(), 'v1');
    assert.throws(() => put(s, 'missing', '', { ignoreValue: true }), KeyNotFoundError);
    assert.throws(() => put(s, 'k', 'x', { lease: 7n }), LeaseNotFoundError);
  });

  it('deletes a range in one revision and reports prev_kvs', () => {
    const s = store();
    put(s, 'p/1', 'a');
    put(s, 'p/2', 'b');
    put(s, 'q', 'c');
    const txn = s.write();
    const resp = applyDeleteRange(txn, DeleteRangeRequest.fromPartial({ key: b('p/'), rangeEnd: b('p0'), prevKv: true }));
    txn.end();
    assert.equal(resp.deleted, 2n);
    assert.equal(resp.header?.revision, 5n);
    assert.equal(keysOf(resp.prevKvs), 'p/1,p/2');
    assert.equal(s.currentRev, 5n);
  });
});

describe('apply: Txn', () => {
  const cmp = (key: string, target: Target, result: Result, v: Record<string, unknown>) =>
    Compare.fromPartial({ key: b(key), target, result, ...v } as never);
  const opPut = (key: string, value: string) => RequestOp.fromPartial({ requestPut: { key: b(key), value: b(value) } });
  const opGet = (key: string, extra: Record<string, unknown> = {}) => RequestOp.fromPartial({ requestRange: { key: b(key), ...extra } as never });

  const compares: Array<[string, Compare, boolean]> = [
    ['value equal', cmp('k', Target.VALUE, Result.EQUAL, { value: b('v2') }), true],
    ['value not equal', cmp('k', Target.VALUE, Result.NOT_EQUAL, { value: b('v2') }), false],
    ['value greater', cmp('k', Target.VALUE, Result.GREATER, { value: b('v1') }), true],
    ['version equal 2', cmp('k', Target.VERSION, Result.EQUAL, { version: 2 }), true],
    ['create revision less', cmp('k', Target.CREATE, Result.LESS, { createRevision: 3 }), true],
    ['mod revision greater', cmp('k', Target.MOD, Result.GREATER, { modRevision: 3 }), false],
    ['lease equal 0', cmp('k', Target.LEASE, Result.EQUAL, { lease: 0 }), true],
    ['missing key version = 0', cmp('nope', Target.VERSION, Result.EQUAL, { version: 0 }), true],
    ['missing key value compare always fails', cmp('nope', Target.VALUE, Result.NOT_EQUAL, { value: b('x') }), false],
    ['every key of a range must match', Compare.fromPartial({ key: b('k'), rangeEnd: b('l'), target: Target.VERSION, result: Result.GREATER, version: 0 }), true],
  ];
  for (const [name, c, want] of compares) {
    it(`evaluates the compare "${name}" to ${want}`, () => {
      const s = store();
      put(s, 'k', 'v1');
      put(s, 'k', 'v2');
      const resp = applyTxn(s, TxnRequest.fromPartial({ compare: [c], success: [opGet('k')], failure: [] }), undefined);
      assert.equal(resp.succeeded, want);
    });
  }

  it('applies the success branch as one revision and reads its own writes', () => {
    const s = store();
    const resp = applyTxn(s, TxnRequest.fromPartial({ success: [opPut('a', '1'), opPut('b', '2'), opGet('a')] }), undefined);
    assert.equal(resp.header?.revision, 2n);
    assert.equal(resp.responses[0]?.responsePut?.header?.revision, 2n);
    assert.equal(resp.responses[2]?.responseRange?.kvs[0]?.value.toString(), '1');
    assert.equal(s.currentRev, 2n);
  });

  it('runs the failure branch when a compare fails, and nested txns follow their own compares', () => {
    const s = store();
    put(s, 'x', '1');
    const nested = TxnRequest.fromPartial({ compare: [cmp('x', Target.VALUE, Result.EQUAL, { value: b('1') })], success: [opPut('n', 'yes')], failure: [opPut('n', 'no')] });
    const resp = applyTxn(s, TxnRequest.fromPartial({
      compare: [cmp('x', Target.VALUE, Result.EQUAL, { value: b('2') })],
      success: [opPut('top', 'success')],
      failure: [RequestOp.fromPartial({ requestTxn: nested }), opPut('top', 'failure')],
    }), undefined);
    assert.equal(resp.succeeded, false);
    assert.equal(resp.responses[0]?.responseTxn?.succeeded, true);
    assert.equal(s.read().range({ start: 'n', end: undefined }).kvs[0]?.value.toString(), 'yes');
    assert.equal(s.read().range({ start: 'top', end: undefined }).kvs[0]?.value.toString(), 'failure');
    assert.equal(s.currentRev, 3n);
  });

  it('does not use a revision for a read-only txn and rejects bad read revisions before writing', () => {
    const s = store();
    put(s, 'a', '1');
    const ro = applyTxn(s, TxnRequest.fromPartial({ success: [opGet('a')] }), undefined);
    assert.equal(ro.header?.revision, 2n);
    assert.throws(() => applyTxn(s, TxnRequest.fromPartial({ success: [opPut('b', '1'), opGet('a', { revision: 9 })] }), undefined), FutureRevisionError);
    assert.equal(s.currentRev, 2n);
    put(s, 'a', '2');
    put(s, 'a', '3');
    void s.compact(3n);
    assert.throws(() => applyTxn(s, TxnRequest.fromPartial({ success: [opGet('a', { revision: 2 })] }), undefined), CompactedError);
  });
});
