import assert from 'node:assert/strict';
import { isSafeRetry } from '../../../src/client/client.js';
import { parseEndpoint } from '../../../src/client/endpoints.js';
import {
  CompactedError,
  DeadlineExceededError,
  EtcdServerError,
  FutureRevisionError,
  GrpcCode,
  GrpcError,
  NoLeaderError,
  etcdErrorTable,
  fromGrpcStatus,
} from '../../../src/client/errors.js';
import { rangeOf, txnWrites } from '../../../src/client/kv.js';
import { compare, op } from '../../../src/client/txn.js';
import { TxnRequest } from '../../../src/proto/gen/etcdserverpb/rpc.js';

describe('client library (pure parts)', () => {
  describe('the reverse error table', () => {
    it('maps each of etcd\'s messages to its typed error, with etcd\'s message and code', () => {
      assert.ok(etcdErrorTable.length >= 50);
      for (const entry of etcdErrorTable) {
        const err = fromGrpcStatus({ code: entry.code, details: entry.message });
        assert.ok(err instanceof entry.errorClass, entry.name);
        assert.ok(err instanceof EtcdServerError);
        assert.equal(err.message, entry.message);
        assert.equal(err.code, entry.code);
        assert.equal(err.name, entry.name);
      }
    });

    it('has the errors clients branch on most', () => {
      const compacted = fromGrpcStatus({ code: GrpcCode.OUT_OF_RANGE, details: 'etcdserver: mvcc: required revision has been compacted' });
      assert.ok(compacted instanceof CompactedError);
      assert.ok(fromGrpcStatus({ code: GrpcCode.OUT_OF_RANGE, details: 'etcdserver: mvcc: required revision is a future revision' }) instanceof FutureRevisionError);
      assert.ok(fromGrpcStatus({ code: GrpcCode.UNAVAILABLE, details: 'etcdserver: no leader' }) instanceof NoLeaderError);
    });

    it('turns deadlines into "context deadline exceeded" and the rest into grpc-go\'s text', () => {
      assert.ok(fromGrpcStatus({ code: GrpcCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 1.0s' }) instanceof DeadlineExceededError);
      const other = fromGrpcStatus({ code: GrpcCode.UNAVAILABLE, details: 'No connection established' });
      assert.ok(other instanceof GrpcError);
      assert.equal(other.message, 'rpc error: code = Unavailable desc = No connection established');
      assert.equal(
        fromGrpcStatus({ code: GrpcCode.RESOURCE_EXHAUSTED, details: 'Sent message larger than max (3000000 vs. 2097152)' }).message,
        'rpc error: code = ResourceExhausted desc = trying to send message larger than max (3000000 vs. 2097152)',
      );
    });
  });

  describe('retry policy (clientv3\'s)', () => {
    it('retries reads on any UNAVAILABLE, nothing else', () => {
      assert.equal(isSafeRetry('repeatable', { code: GrpcCode.UNAVAILABLE, details: 'etcdserver: no leader' }), true);
      assert.equal(isSafeRetry('repeatable', { code: GrpcCode.OUT_OF_RANGE, details: 'etcdserver: mvcc: required revision has been compacted' }), false);
      assert.equal(isSafeRetry('repeatable', { code: GrpcCode.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), false);
    });

    it('retries writes only when they were never sent', () => {
      assert.equal(isSafeRetry('nonRepeatable', { code: GrpcCode.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED' }), true);
      assert.equal(isSafeRetry('nonRepeatable', { code: GrpcCode.UNAVAILABLE, details: 'Connection dropped' }), false);
      assert.equal(isSafeRetry('nonRepeatable', { code: GrpcCode.UNAVAILABLE, details: 'etcdserver: no leader' }), false);
    });

    it('counts a txn as a write when any branch writes, nested txns included', () => {
      assert.equal(txnWrites(TxnRequest.fromPartial({ success: [op.get('a')], failure: [op.get('b')] })), false);
      assert.equal(txnWrites(TxnRequest.fromPartial({ failure: [op.delete('a')] })), true);
      assert.equal(txnWrites(TxnRequest.fromPartial({ success: [op.txn({ success: [op.put('a', 'b')] })] })), true);
    });
  });

  describe('endpoints', () => {
    const cases: Array<[string, boolean, string, boolean]> = [
      ['127.0.0.1:2379', false, '127.0.0.1:2379', false],
      ['127.0.0.1:2379', true, '127.0.0.1:2379', true],
      ['http://10.0.0.1:2379', true, '10.0.0.1:2379', false],
      ['https://etcd.example:2379/', false, 'etcd.example:2379', true],
      ['unix:///run/etcd.sock', false, 'unix:/run/etcd.sock', false],
      ['unixs:///run/etcd.sock', false, 'unix:/run/etcd.sock', true],
    ];
    for (const [url, secureByDefault, target, secure] of cases) {
      it(`reads ${url}`, () => assert.deepEqual(parseEndpoint(url, secureByDefault), { url, target, secure }));
    }
  });

  describe('ranges and txn builders', () => {
    it('computes prefix and from-key ranges like clientv3', () => {
      assert.deepEqual(rangeOf('ab', { prefix: true }), [Buffer.from('ab'), Buffer.from('ac')]);
      assert.deepEqual(rangeOf('', { prefix: true }), [Buffer.from([0]), Buffer.from([0])]);
      assert.deepEqual(rangeOf('k', { fromKey: true }), [Buffer.from('k'), Buffer.from([0])]);
      assert.deepEqual(rangeOf('a', { rangeEnd: 'c' }), [Buffer.from('a'), Buffer.from('c')]);
    });

    it('builds compares with their target field set', () => {
      assert.equal(compare.createRevision('lock', '=', 0n).createRevision, 0n);
      assert.deepEqual(compare.value('k', '!=', 'v').value, Buffer.from('v'));
      assert.equal(compare.lease('k', '>', 5n).lease, 5n);
    });
  });
});
