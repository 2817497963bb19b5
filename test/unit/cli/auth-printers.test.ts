import assert from 'node:assert/strict';
import { Permission_Type } from '../../../src/proto/gen/authpb/auth.js';
import {
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
  ResponseHeader,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { MemorySink } from '../../../src/cli/output.js';
import { createPrinter, type Printer } from '../../../src/cli/printers/index.js';

/** The header real etcd 3.4.23 answered with (auth changes leave the KV revision alone). */
const header = ResponseHeader.fromPartial({ clusterId: 15118495548433857066n, memberId: 13668033151171901709n, revision: 1n, raftTerm: 2n });
const headerJson = '{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":1,"raft_term":2}';
const headerFields = ['"ClusterID" : 15118495548433857066', '"MemberID" : 13668033151171901709', '"Revision" : 1', '"RaftTerm" : 2'];

const perm = (permType: Permission_Type, key: string, rangeEnd = '') => ({ permType, key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd) });

/** Role r1 as real etcd returned it after the grants in the compatibility test (sorted by key). */
const r1 = AuthRoleGetResponse.fromPartial({
  header,
  perm: [
    perm(Permission_Type.READ, '\0', '\0'),
    perm(Permission_Type.WRITE, '\0'),
    perm(Permission_Type.READ, 'k1'),
    perm(Permission_Type.WRITE, 'k2', 'k5'),
    perm(Permission_Type.READWRITE, 'p/', 'p0'),
    perm(Permission_Type.READ, 'z', '\0'),
  ],
});

const roles = AuthRoleListResponse.fromPartial({ header, roles: ['r1', 'r<&>"é', 'root'] });

async function print(format: string, use: (p: Printer) => void): Promise<string> {
  const sink = new MemorySink();
  use(await createPrinter(format, { hex: false, out: sink }));
  return sink.text();
}

const lines = (...text: string[]): string => text.map((line) => `${line}\n`).join('');

describe('auth printers (outputs of etcdctl 3.4.23 against etcd 3.4.23)', () => {
  describe('simple', () => {
    it('role get: reads, then writes, a readwrite permission under both', async () => {
      assert.equal(
        await print('simple', (p) => p.roleGet('r1', r1)),
        lines('Role r1', 'KV Read:', '\t[\0, <open ended>', '\tk1', '\t[p/, p0) (prefix p/)', '\t[z, <open ended>', 'KV Write:', '\t\0', '\t[k2, k5)', '\t[p/, p0) (prefix p/)'),
      );
    });

    it('user get, with and without roles', async () => {
      assert.equal(await print('simple', (p) => p.userGet('bob', AuthUserGetResponse.fromPartial({ header, roles: ['r1', 'r2'] }))), lines('User: bob', 'Roles: r1 r2'));
      assert.equal(await print('simple', (p) => p.userGet('bob', AuthUserGetResponse.fromPartial({ header }))), lines('User: bob', 'Roles:'));
    });

    it('lists, a change, and auth status (etcdctl 3.5\'s lines)', async () => {
      assert.equal(await print('simple', (p) => p.userList(AuthUserListResponse.fromPartial({ header, users: ['alice', 'root'] }))), lines('alice', 'root'));
      assert.equal(await print('simple', (p) => p.roleList(roles)), lines('r1', 'r<&>"é', 'root'));
      assert.equal(await print('simple', (p) => p.authChange('User alice created', { header })), lines('User alice created'));
      const status = AuthStatusResponse.fromPartial({ header, enabled: true, authRevision: 12n });
      assert.equal(await print('simple', (p) => p.authStatus(status)), lines('Authentication Status: true', 'AuthRevision: 12'));
    });
  });

  describe('json', () => {
    it('role get: permType and range_end omitted when zero or empty, bytes in base64', async () => {
      assert.equal(
        await print('json', (p) => p.roleGet('r1', r1)),
        `{"header":${headerJson},"perm":[{"key":"AA==","range_end":"AA=="},{"permType":1,"key":"AA=="},{"key":"azE="},` +
          '{"permType":1,"key":"azI=","range_end":"azU="},{"permType":2,"key":"cC8=","range_end":"cDA="},{"key":"eg==","range_end":"AA=="}]}\n',
      );
    });

    it('names escaped as Go escapes them, empty lists left out', async () => {
      assert.equal(await print('json', (p) => p.roleList(roles)), `{"header":${headerJson},"roles":["r1","r\\u003c\\u0026\\u003e\\"é","root"]}\n`);
      assert.equal(await print('json', (p) => p.userGet('bob', AuthUserGetResponse.fromPartial({ header }))), `{"header":${headerJson}}\n`);
      assert.equal(await print('json', (p) => p.userList(AuthUserListResponse.fromPartial({ header, users: ['a'] }))), `{"header":${headerJson},"users":["a"]}\n`);
    });

    it('a change is its header; auth status has etcd 3.5\'s field names', async () => {
      assert.equal(await print('json', (p) => p.authChange('Role r1 created', { header })), `{"header":${headerJson}}\n`);
      const status = AuthStatusResponse.fromPartial({ header, enabled: true, authRevision: 7n });
      assert.equal(await print('json', (p) => p.authStatus(status)), `{"header":${headerJson},"enabled":true,"authRevision":7}\n`);
    });
  });

  describe('fields', () => {
    it('role get: Go\'s Println leaves two spaces before the type', async () => {
      const out = await print('fields', (p) => p.roleGet('r1', AuthRoleGetResponse.fromPartial({ header, perm: [r1.perm[0]!, r1.perm[4]!] })));
      assert.equal(out, lines(...headerFields, '"PermType" :  READ', '"Key" : "\\x00"', '"RangeEnd" : "\\x00"', '"PermType" :  READWRITE', '"Key" : "p/"', '"RangeEnd" : "p0"'));
    });

    it('role list quotes each name; a change prints the header', async () => {
      assert.equal(await print('fields', (p) => p.roleList(roles)), lines(...headerFields, '"Roles" : "r1" "r<&>\\"é" "root"'));
      assert.equal(await print('fields', (p) => p.roleList(AuthRoleListResponse.fromPartial({ header }))), lines(...headerFields, '"Roles" :'));
      assert.equal(await print('fields', (p) => p.authChange('Password updated', { header })), lines(...headerFields));
    });

    it('users and auth status, which etcdctl 3.4 refuses, in the same shape', async () => {
      assert.equal(await print('fields', (p) => p.userGet('bob', AuthUserGetResponse.fromPartial({ header, roles: ['r1'] }))), lines(...headerFields, '"Roles" : "r1"'));
      assert.equal(await print('fields', (p) => p.userList(AuthUserListResponse.fromPartial({ header, users: ['a', 'b'] }))), lines(...headerFields, '"Users" : "a" "b"'));
      const status = AuthStatusResponse.fromPartial({ header, enabled: false, authRevision: 3n });
      assert.equal(await print('fields', (p) => p.authStatus(status)), lines(...headerFields, '"Enabled" : false', '"AuthRevision" : 3'));
    });
  });

  describe('protobuf', () => {
    const bytes = async (use: (p: Printer) => void): Promise<Buffer> => Buffer.from(await print('protobuf', use), 'utf8');
    const small = ResponseHeader.fromPartial({ revision: 1n, raftTerm: 2n });

    it('a change is a message with the header as field 1', async () => {
      assert.deepEqual(await bytes((p) => p.authChange('User a created', { header: small })), Buffer.from([0x0a, 0x04, 0x18, 0x01, 0x20, 0x02]));
    });

    it('lists and role get in wire order', async () => {
      assert.deepEqual(
        await bytes((p) => p.roleList(AuthRoleListResponse.fromPartial({ header: small, roles: ['r1'] }))),
        Buffer.from([0x0a, 0x04, 0x18, 0x01, 0x20, 0x02, 0x12, 0x02, 0x72, 0x31]),
      );
      // etcdctl's bytes for a WRITE permission on [k2, k5): permType 1, key, range_end.
      assert.deepEqual(
        await bytes((p) => p.roleGet('r', AuthRoleGetResponse.fromPartial({ perm: [r1.perm[3]!] }))),
        Buffer.from([0x12, 0x0a, 0x08, 0x01, 0x12, 0x02, 0x6b, 0x32, 0x1a, 0x02, 0x6b, 0x35]),
      );
    });
  });

  describe('table (etcdctl 3.4 has none for auth)', () => {
    it('role get: one row per permission, its keys in words', async () => {
      const out = await print('table', (p) => p.roleGet('r1', r1));
      assert.match(out, /^Role r1\n/);
      const rows = out.split('\n').filter((line) => line.startsWith('│')).map((line) => line.split('│').slice(1, -1).map((cell) => cell.trim()));
      assert.deepEqual(rows, [
        ['PERMISSION', 'KEYS'],
        ['READ', 'every key'],
        ['WRITE', '"\\x00"'],
        ['READ', 'k1'],
        ['WRITE', '[k2, k5)'],
        ['READWRITE', 'prefix p/'],
        ['READ', 'from z on'],
      ]);
    });

    it('users, roles and status as tables; a change as its confirmation', async () => {
      assert.match(await print('table', (p) => p.userList(AuthUserListResponse.fromPartial({ header, users: ['alice'] }))), /│ USER +│\n.*\n│ alice +│/);
      assert.match(await print('table', (p) => p.userGet('bob', AuthUserGetResponse.fromPartial({ header, roles: ['r1', 'r2'] }))), /│ bob +│ r1, r2 +│/);
      assert.match(await print('table', (p) => p.roleList(roles)), /│ ROLE +│/);
      assert.match(await print('table', (p) => p.authStatus(AuthStatusResponse.fromPartial({ header, enabled: true, authRevision: 4n }))), /│ true +│ 4 +│/);
      assert.equal(await print('table', (p) => p.authChange('Role r1 updated', { header })), 'Role r1 updated\n');
    });
  });
});
