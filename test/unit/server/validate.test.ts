import assert from 'node:assert/strict';
import { RequestOp, TxnRequest } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { checkPutRequest, checkTxnRequest } from '../../../src/server/api/validate.js';
import { DuplicateKeyError, EmptyKeyError, KeyNotFoundError, LeaseProvidedError, TooManyOpsError, ValueProvidedError } from '../../../src/server/etcdserver/errors.js';

const b = (s: string) => Buffer.from(s);
const put = (k: string) => RequestOp.fromPartial({ requestPut: { key: b(k), value: b('v') } });
const del = (k: string, end = '') => RequestOp.fromPartial({ requestDeleteRange: { key: b(k), rangeEnd: b(end) } });
const get = (k: string) => RequestOp.fromPartial({ requestRange: { key: b(k) } });
const txn = (success: RequestOp[], failure: RequestOp[] = []) => TxnRequest.fromPartial({ success, failure });
const nested = (success: RequestOp[], failure: RequestOp[] = []) => RequestOp.fromPartial({ requestTxn: txn(success, failure) });

describe('request validation', () => {
  const bad: Array<[string, () => void, new () => Error]> = [
    ['a put without a key', () => checkPutRequest({ key: b(''), value: b('x'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false }), EmptyKeyError],
    ['ignore_value with a value', () => checkPutRequest({ key: b('k'), value: b('x'), lease: 0n, prevKv: false, ignoreValue: true, ignoreLease: false }), ValueProvidedError],
    ['ignore_lease with a lease', () => checkPutRequest({ key: b('k'), value: b(''), lease: 5n, prevKv: false, ignoreValue: false, ignoreLease: true }), LeaseProvidedError],
    ['129 ops in a txn', () => checkTxnRequest(txn(Array.from({ length: 129 }, (_, i) => put(`k${i}`))), 128), TooManyOpsError],
    ['an empty op', () => checkTxnRequest(txn([RequestOp.fromPartial({})]), 128), KeyNotFoundError],
    ['an empty compare key', () => checkTxnRequest(TxnRequest.fromPartial({ compare: [{ key: b('') }] }), 128), EmptyKeyError],
    ['two puts of one key', () => checkTxnRequest(txn([put('a'), put('a')]), 128), DuplicateKeyError],
    ['a put inside a deleted range', () => checkTxnRequest(txn([del('a', 'c'), put('b')]), 128), DuplicateKeyError],
    ['a put and a delete of one key', () => checkTxnRequest(txn([del('a'), put('a')]), 128), DuplicateKeyError],
    ['a nested put of a key put above', () => checkTxnRequest(txn([put('a'), nested([put('a')])]), 128), DuplicateKeyError],
    ['a nested delete covering a put above', () => checkTxnRequest(txn([put('b'), nested([del('a', 'z')])]), 128), DuplicateKeyError],
    ['ops of a nested txn beyond the remaining budget', () => checkTxnRequest(txn([nested(Array.from({ length: 3 }, (_, i) => put(`n${i}`))), put('x')]), 3), TooManyOpsError],
  ];
  for (const [name, check, error] of bad) {
    it(`rejects ${name}`, () => assert.throws(check, error));
  }

  const good: Array<[string, TxnRequest]> = [
    ['128 ops', txn(Array.from({ length: 128 }, (_, i) => put(`k${i}`)))],
    ['the same key in the two branches of a nested txn', txn([nested([put('a')], [put('a')])])],
    ['the same key in success and failure', txn([put('a')], [put('a')])],
    ['a get and a put of one key', txn([get('a'), put('a')])],
    ['a from-key delete beside a put (etcd takes "\\0" literally)', txn([del('a', '\0'), put('b')])],
  ];
  for (const [name, request] of good) {
    it(`accepts ${name}`, () => checkTxnRequest(request, 128));
  }
});
