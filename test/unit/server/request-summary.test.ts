import assert from 'node:assert/strict';
import { InternalRaftRequest } from '../../../src/proto/gen/etcdtspb/internal.js';
import { RangeRequest } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { summarizeRange, summarizeRequest } from '../../../src/server/etcdserver/request-summary.js';

/**
 * The slow-request log's summaries: etcd's InternalRaftStringer shape
 * (protobuf compact text, values as sizes), never a password, a password
 * hash or a token, and keys as sizes while auth is on.
 */
const plain = { redactKeys: false };
const redacted = { redactKeys: true };
const request = (r: object) => InternalRaftRequest.fromPartial({ header: { ID: 7n, username: 'alice', authRevision: 3n }, ...r });

describe('slow-request summaries', () => {
  it('prints a put as etcd does: the key, the value\'s size, the options set', () => {
    const put = request({ put: { key: Buffer.from('app/"x"\n\u00e9'), value: Buffer.from('secret'), prevKv: true } });
    assert.equal(summarizeRequest(put, plain), 'header:<ID:7 username:"alice" auth_revision:3 > put:<key:"app/\\"x\\"\\n\\303\\251" value_size:6 prev_kv:true >');
    assert.equal(summarizeRequest(put, redacted), 'header:<ID:7 username:"alice" auth_revision:3 > put:<key_size:10 value_size:6 prev_kv:true >');
  });

  it('prints a txn\'s compares and ops at every depth, keys redacted alike', () => {
    const txn = request({
      txn: {
        compare: [{ key: Buffer.from('k'), target: 3, result: 0, value: Buffer.from('vv') }],
        success: [{ requestTxn: { success: [{ requestPut: { key: Buffer.from('deep'), value: Buffer.from('x') } }] } }],
        failure: [{ requestRange: { key: Buffer.from('a'), rangeEnd: Buffer.from('b') } }],
      },
    });
    const text = summarizeRequest(txn, redacted);
    assert.equal(text, 'header:<ID:7 username:"alice" auth_revision:3 > txn:<compare:<result:EQUAL target:VALUE key_size:1 value_size:2 > '
      + 'success:<request_txn:<compare:<> success:<request_put:<key_size:4 value_size:1 >> failure:<>>> failure:<request_range:<key_size:1 range_end_size:1 >>>');
    assert.ok(!/deep|"k"|"a"/.test(text));
  });

  it('never prints a password hash or a token, whatever the request', () => {
    const add = summarizeRequest(request({ authUserAdd: { name: 'bob', password: '', hashedPassword: '$2a$10$abcdefghijklmnopqrstuv' } }), plain);
    assert.equal(add, 'header:<ID:7 username:"alice" auth_revision:3 > auth_user_add:<name:"bob" >');
    const login = summarizeRequest(request({ authenticate: { name: 'bob', simpleToken: 'XyZsecretToken' } }), plain);
    assert.equal(login, 'header:<ID:7 username:"alice" auth_revision:3 > authenticate:<name:"bob" >');
    const grant = summarizeRequest(request({ authRoleGrantPermission: { name: 'r', perm: { permType: 2, key: Buffer.from('app/'), rangeEnd: Buffer.from('app0') } } }), redacted);
    assert.equal(grant, 'header:<ID:7 username:"alice" auth_revision:3 > auth_role_grant_permission:<name:"r" perm:<permType:READWRITE key_size:4 range_end_size:4 > >');
  });

  it('prints leases as etcd does, in hex', () => {
    assert.equal(summarizeRequest(request({ leaseGrant: { ID: 0x1fn, TTL: 60n } }), plain), 'header:<ID:7 username:"alice" auth_revision:3 > lease_grant:<ttl:60-second id:000000000000001f>');
  });

  it('prints a read the way it arrived', () => {
    const r = RangeRequest.fromPartial({ key: Buffer.from('a'), rangeEnd: Buffer.from('b'), limit: 10n, serializable: true });
    assert.equal(summarizeRange(r, plain), 'key:"a" range_end:"b" limit:10 serializable:true ');
    assert.equal(summarizeRange(r, redacted), 'key_size:1 range_end_size:1 limit:10 serializable:true ');
  });
});
