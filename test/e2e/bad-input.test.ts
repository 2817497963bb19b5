import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { killAll, removeTempDirs } from '../support/procs.js';
import { RawKv, wireError } from '../support/raw-kv.js';

const b = (s: string) => Buffer.from(s);

describe('bad input gets etcd\'s error and the server keeps serving', function () {
  this.timeout(60000);
  let member: EtcdtsMember;
  let kv: RawKv;
  before(async () => {
    member = await startEtcdts({ extraArgs: ['--max-request-bytes', '4096', '--max-txn-ops', '8'] });
    kv = new RawKv(member.endpoint);
    for (let i = 0; i < 5; i++) await kv.put({ key: 'k', value: b(`v${i}`) });
    await kv.compact({ revision: 4n });
  });
  after(async () => {
    kv.close();
    await killAll();
    removeTempDirs();
  });
  afterEach(async () => {
    // Whatever the bad request was, the member still answers a normal one.
    const resp = await kv.range({ key: 'k' });
    assert.equal(resp.kvs[0]?.value.toString(), 'v4');
  });

  const cases: Array<[string, () => Promise<unknown>, number, string]> = [
    ['a put with an empty key', () => kv.put({ key: '', value: b('x') }), status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
    ['a range with an empty key', () => kv.range({ key: '' }), status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
    ['a delete with an empty key', () => kv.deleteRange({ key: '' }), status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
    ['a request over --max-request-bytes', () => kv.put({ key: 'big', value: Buffer.alloc(8192, 1) }), status.INVALID_ARGUMENT, 'etcdserver: request is too large'],
    ['a txn over --max-txn-ops', () => kv.txn({ success: Array.from({ length: 9 }, (_, i) => ({ requestPut: { key: b(`t${i}`), value: b('v') } })) }), status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'],
    ['a txn putting one key twice', () => kv.txn({ success: [{ requestPut: { key: b('d'), value: b('1') } }, { requestPut: { key: b('d'), value: b('2') } }] }), status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'],
    ['a read at a future revision', () => kv.range({ key: 'k', revision: 1000n }), status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
    ['a read at a compacted revision', () => kv.range({ key: 'k', revision: 2n }), status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
    ['a compaction at an already compacted revision', () => kv.compact({ revision: 3n }), status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'],
    ['a compaction at a future revision', () => kv.compact({ revision: 999n }), status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'],
    ['a put with an unknown lease', () => kv.put({ key: 'l', value: b('v'), lease: 12345n }), status.NOT_FOUND, 'etcdserver: requested lease not found'],
    ['a put with ignore_value on a missing key', () => kv.put({ key: 'missing', ignoreValue: true }), status.INVALID_ARGUMENT, 'etcdserver: key not found'],
    ['ignore_value together with a value', () => kv.put({ key: 'k', value: b('v'), ignoreValue: true }), status.INVALID_ARGUMENT, 'etcdserver: value is provided'],
    ['a txn with an empty op', () => kv.txn({ success: [{}] }), status.INVALID_ARGUMENT, 'etcdserver: key not found'],
  ];
  for (const [name, call, code, message] of cases) {
    it(`rejects ${name}`, async () => {
      const revisionBefore = (await kv.range({ key: 'k' })).header?.revision;
      assert.deepEqual(await wireError(call()), { code, details: message });
      assert.equal((await kv.range({ key: 'k' })).header?.revision, revisionBefore, 'a rejected request must not change the store');
    });
  }
});
