import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Permission_Type } from '../../../src/proto/gen/authpb/auth.js';
import { AlarmRequest_AlarmAction, AlarmType, type PutRequest, type RequestOp, type TxnRequest } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import type { InternalRaftRequest } from '../../../src/proto/gen/etcdtspb/internal.js';
import { authorizeProposal, checkLeaseKeysReadable } from '../../../src/server/auth/authorize.js';
import * as errors from '../../../src/server/auth/errors.js';
import { AuthStore, type AuthInfo } from '../../../src/server/auth/store.js';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const none = Buffer.alloc(0);

function newStore(backend = Backend.open(join(tempDir('auth-store-'), 'db'))): { store: AuthStore; backend: Backend; events: string[] } {
  const events: string[] = [];
  const store = new AuthStore(backend, { enabled: (on) => events.push(on ? 'on' : 'off'), userInvalidated: (n) => events.push(`invalidated ${n}`) });
  return { store, backend, events };
}

/** root (root role), reader (read app/), writer (write app/), keyUser (readwrite "k"), nobody (no role). */
function populated(): { store: AuthStore; backend: Backend; events: string[] } {
  const s = newStore();
  const { store } = s;
  for (const u of ['root', 'reader', 'writer', 'keyUser', 'nobody']) store.userAdd(u, `$2b$04$hash-of-${u}`, undefined);
  store.userGrantRole('root', 'root');
  for (const r of ['r', 'w', 'k']) store.roleAdd(r);
  store.roleGrantPermission('r', { permType: Permission_Type.READ, key: b('app/'), rangeEnd: b('app0') });
  store.roleGrantPermission('w', { permType: Permission_Type.WRITE, key: b('app/'), rangeEnd: b('app0') });
  store.roleGrantPermission('k', { permType: Permission_Type.READWRITE, key: b('k'), rangeEnd: none });
  store.userGrantRole('reader', 'r');
  store.userGrantRole('writer', 'w');
  store.userGrantRole('keyUser', 'k');
  store.enable();
  return s;
}

const as = (store: AuthStore, username: string): AuthInfo => ({ username, revision: store.revision });

describe('auth store', () => {
  after(() => removeTempDirs());

  it('starts at auth revision 1, disabled, and lets everyone do everything while disabled', () => {
    const { store } = newStore();
    assert.equal(store.revision, 1n);
    assert.equal(store.enabled, false);
    store.checkAdmin(undefined);
    store.checkWrite(undefined, b('any'), none);
  });

  it('refuses to enable auth without root, or with a root that lacks the root role', () => {
    const { store } = newStore();
    assert.throws(() => store.enable(), errors.RootUserNotExistError);
    store.userAdd('root', '$2b$04$x', undefined);
    assert.throws(() => store.enable(), errors.RootRoleNotExistError);
    store.userGrantRole('root', 'root');
    store.enable();
    assert.equal(store.enabled, true);
  });

  it('bumps the revision on every change of users, roles or permissions, and not on a no-op grant', () => {
    const { store } = newStore();
    const r0 = store.revision;
    store.userAdd('u', '$2b$04$x', undefined);
    store.roleAdd('r');
    store.userGrantRole('u', 'r');
    assert.equal(store.revision, r0 + 3n);
    store.userGrantRole('u', 'r');
    assert.equal(store.revision, r0 + 3n);
  });

  it('answers with etcd errors for what does not exist, exists already, or must not be done', () => {
    const { store } = populated();
    assert.throws(() => store.userAdd('', 'h', undefined), errors.UserEmptyError);
    assert.throws(() => store.userAdd('reader', 'h', undefined), errors.UserAlreadyExistError);
    assert.throws(() => store.roleAdd(''), errors.RoleEmptyError);
    assert.throws(() => store.roleAdd('r'), errors.RoleAlreadyExistError);
    assert.throws(() => store.userGrantRole('ghost', 'r'), errors.UserNotFoundError);
    assert.throws(() => store.userGrantRole('reader', 'ghost'), errors.RoleNotFoundError);
    assert.throws(() => store.userRevokeRole('reader', 'w'), errors.RoleNotGrantedError);
    assert.throws(() => store.roleRevokePermission('r', b('nope'), none), errors.PermissionNotGrantedError);
    assert.throws(() => store.userDelete('root'), errors.InvalidAuthMgmtError);
    assert.throws(() => store.userRevokeRole('root', 'root'), errors.InvalidAuthMgmtError);
    assert.throws(() => store.roleDelete('root'), errors.InvalidAuthMgmtError);
    assert.throws(() => store.userDelete('ghost'), errors.UserNotFoundError);
  });

  it('keeps roles sorted, permissions sorted by key, and updates the type of a permission granted again', () => {
    const { store } = populated();
    store.roleAdd('a-role');
    store.userGrantRole('reader', 'a-role');
    assert.deepEqual(store.userRoles('reader'), ['a-role', 'r']);
    store.roleGrantPermission('r', { permType: Permission_Type.READ, key: b('a'), rangeEnd: none });
    store.roleGrantPermission('r', { permType: Permission_Type.READWRITE, key: b('app/'), rangeEnd: b('app0') });
    assert.deepEqual(store.rolePermissions('r').map((p) => [p.key.toString(), p.permType]), [['a', Permission_Type.READ], ['app/', Permission_Type.READWRITE]]);
  });

  it('deleting a role takes it from every user, and their permissions with it', () => {
    const { store } = populated();
    store.roleDelete('r');
    assert.deepEqual(store.userRoles('reader'), []);
    assert.throws(() => store.checkRead(as(store, 'reader'), b('app/x'), none), errors.PermissionDeniedError);
  });

  it('ends the tokens of a deleted user and of a user whose password changed', () => {
    const { store, events } = populated();
    store.userChangePassword('reader', '$2b$04$new');
    store.userDelete('writer');
    assert.deepEqual(events.filter((e) => e.startsWith('invalidated')), ['invalidated reader', 'invalidated writer']);
  });

  it('checks reads and writes per user: root everywhere, others by role', () => {
    const { store } = populated();
    store.checkRead(as(store, 'root'), b(''), Buffer.from([0]));
    store.checkRead(as(store, 'reader'), b('app/'), b('app0'));
    assert.throws(() => store.checkWrite(as(store, 'reader'), b('app/x'), none), errors.PermissionDeniedError);
    store.checkWrite(as(store, 'writer'), b('app/x'), none);
    assert.throws(() => store.checkRead(as(store, 'writer'), b('app/x'), none), errors.PermissionDeniedError);
    store.checkWrite(as(store, 'keyUser'), b('k'), none);
    assert.throws(() => store.checkRead(as(store, 'nobody'), b('k'), none), errors.PermissionDeniedError);
    assert.throws(() => store.checkRead(as(store, 'ghost'), b('k'), none), errors.PermissionDeniedError);
  });

  it('refuses the unauthenticated as "user name is empty" and credentials from an older revision as old', () => {
    const { store } = populated();
    assert.throws(() => store.checkRead(undefined, b('app/x'), none), errors.UserEmptyError);
    const stale = as(store, 'reader');
    store.roleAdd('unrelated');
    assert.throws(() => store.checkRead(stale, b('app/x'), none), errors.AuthOldRevisionError);
  });

  it('administration is root only; "authenticated" means an existing user', () => {
    const { store } = populated();
    store.checkAdmin(as(store, 'root'));
    assert.throws(() => store.checkAdmin(as(store, 'reader')), errors.PermissionDeniedError);
    assert.throws(() => store.checkAdmin(undefined), errors.UserEmptyError);
    assert.throws(() => store.checkAdmin(as(store, 'ghost')), errors.UserNotFoundError);
    store.checkAuthenticated(as(store, 'nobody'));
    assert.throws(() => store.checkAuthenticated(undefined), errors.UserEmptyError);
  });

  it('survives a reopen of the backend: users, roles, permissions, the flag and the revision', async () => {
    const { store, backend } = populated();
    const revision = store.revision;
    await backend.commit();
    const path = backend.path;
    await backend.close();
    const reopened = newStore(Backend.open(path));
    assert.equal(reopened.store.enabled, true);
    assert.equal(reopened.store.revision, revision);
    assert.deepEqual(reopened.events, ['on']);
    reopened.store.checkRead(as(reopened.store, 'reader'), b('app/x'), none);
    assert.deepEqual(reopened.store.users().map((u) => u.name.toString()), ['keyUser', 'nobody', 'reader', 'root', 'writer']);
    await reopened.backend.close();
  });
});

describe('authorization of committed requests (every op, every depth)', () => {
  after(() => removeTempDirs());
  const leases = new Map<bigint, string[]>([[7n, ['k']], [8n, ['app/held']]]);
  const leaseKeys = { keysOf: (id: bigint) => leases.get(id) };

  function proposal(store: AuthStore, username: string | undefined, body: Omit<InternalRaftRequest, 'header'>, fromMember = false): InternalRaftRequest {
    return { ...body, header: { ID: 1n, username: username ?? '', authRevision: store.revision, fromMember } } as InternalRaftRequest;
  }
  const put = (key: string, extra: Partial<PutRequest> = {}): PutRequest => ({ key: b(key), value: b('v'), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false, ...extra });
  const opPut = (key: string, extra: Partial<PutRequest> = {}): RequestOp => ({ requestPut: put(key, extra) });
  const txn = (success: RequestOp[], failure: RequestOp[] = [], compareKey?: string): TxnRequest => ({
    compare: compareKey === undefined ? [] : [{ result: 0, target: 0, key: b(compareKey), rangeEnd: none, version: 0n }],
    success, failure,
  });
  const nested = (inner: TxnRequest, depth: number): TxnRequest => (depth === 0 ? inner : txn([{ requestTxn: nested(inner, depth - 1) }]));

  it('lets the writer put under its prefix and refuses it elsewhere', () => {
    const { store } = populated();
    authorizeProposal(store, proposal(store, 'writer', { put: put('app/x') }), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { put: put('secret') }), leaseKeys), errors.PermissionDeniedError);
  });

  it('a put with prev_kv needs read too, at the top and inside txns (CVE-2026-44283)', () => {
    const { store } = populated();
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { put: put('app/x', { prevKv: true }) }), leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { txn: txn([opPut('app/x', { prevKv: true })]) }), leaseKeys), errors.PermissionDeniedError);
    authorizeProposal(store, proposal(store, 'keyUser', { txn: txn([opPut('k', { prevKv: true })]) }), leaseKeys);
  });

  it('a put with a lease needs write on every key of that lease, at the top and inside txns (CVE-2026-44283)', () => {
    const { store } = populated();
    authorizeProposal(store, proposal(store, 'writer', { put: put('app/x', { lease: 8n }) }), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { put: put('app/x', { lease: 7n }) }), leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { txn: txn([opPut('app/x', { lease: 7n })]) }), leaseKeys), errors.PermissionDeniedError);
  });

  it('checks nested txns at every depth, both branches, and every compare (GHSA-rfx7-8w68-q57q)', () => {
    const { store } = populated();
    for (const depth of [1, 2, 5]) {
      const deep = nested(txn([opPut('secret')]), depth);
      assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { txn: deep }), leaseKeys), errors.PermissionDeniedError, `depth ${depth}`);
      const deepRead = nested(txn([{ requestRange: { key: b('secret'), rangeEnd: none } as never }]), depth);
      assert.throws(() => authorizeProposal(store, proposal(store, 'reader', { txn: deepRead }), leaseKeys), errors.PermissionDeniedError);
    }
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { txn: txn([opPut('app/x')], [opPut('secret')]) }), leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { txn: txn([opPut('app/x')], [], 'app/x') }), leaseKeys), errors.PermissionDeniedError);
    authorizeProposal(store, proposal(store, 'root', { txn: nested(txn([opPut('secret')]), 3) }), leaseKeys);
  });

  it('deletes need write on the range and, with prev_kv, read', () => {
    const { store } = populated();
    const del = (prevKv: boolean) => ({ deleteRange: { key: b('app/'), rangeEnd: b('app0'), prevKv } });
    authorizeProposal(store, proposal(store, 'writer', del(false)), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', del(true)), leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { deleteRange: { key: b('app/'), rangeEnd: Buffer.from([0]), prevKv: false } }), leaseKeys), errors.PermissionDeniedError);
  });

  it('leases: grant for any user, revoke needs write on the attached keys, nothing for nobody (GHSA-q8m4-xhhv-38mg)', () => {
    const { store } = populated();
    authorizeProposal(store, proposal(store, 'nobody', { leaseGrant: { TTL: 10n, ID: 1n } }), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, undefined, { leaseGrant: { TTL: 10n, ID: 1n } }), leaseKeys), errors.UserEmptyError);
    assert.throws(() => authorizeProposal(store, proposal(store, undefined, { leaseRevoke: { ID: 99n } }), leaseKeys), errors.UserEmptyError);
    authorizeProposal(store, proposal(store, 'writer', { leaseRevoke: { ID: 8n } }), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { leaseRevoke: { ID: 7n } }), leaseKeys), errors.PermissionDeniedError);
  });

  it('time-to-live of a lease needs read on each of its keys (CVE-2023-32082)', () => {
    const { store } = populated();
    checkLeaseKeysReadable(store, as(store, 'reader'), 8n, leaseKeys);
    assert.throws(() => checkLeaseKeysReadable(store, as(store, 'reader'), 7n, leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => checkLeaseKeysReadable(store, undefined, 99n, leaseKeys), errors.UserEmptyError);
  });

  it('alarms: listing for any user, raising or clearing for root (GHSA-q8m4-xhhv-38mg)', () => {
    const { store } = populated();
    const alarm = (action: AlarmRequest_AlarmAction) => ({ alarm: { action, memberID: 0n, alarm: AlarmType.NOSPACE } });
    authorizeProposal(store, proposal(store, 'nobody', alarm(AlarmRequest_AlarmAction.GET)), leaseKeys);
    assert.throws(() => authorizeProposal(store, proposal(store, undefined, alarm(AlarmRequest_AlarmAction.GET)), leaseKeys), errors.UserEmptyError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'reader', alarm(AlarmRequest_AlarmAction.DEACTIVATE)), leaseKeys), errors.PermissionDeniedError);
    authorizeProposal(store, proposal(store, 'root', alarm(AlarmRequest_AlarmAction.DEACTIVATE)), leaseKeys);
  });

  it('auth administration and compaction are root only; the member\'s own requests are not checked', () => {
    const { store } = populated();
    assert.throws(() => authorizeProposal(store, proposal(store, 'reader', { authRoleAdd: { name: 'x' } }), leaseKeys), errors.PermissionDeniedError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { compaction: { revision: 1n, physical: false } }), leaseKeys), errors.PermissionDeniedError);
    authorizeProposal(store, proposal(store, 'root', { authDisable: {} }), leaseKeys);
    authorizeProposal(store, proposal(store, undefined, { compaction: { revision: 1n, physical: false } }, true), leaseKeys);
    authorizeProposal(store, proposal(store, undefined, { leaseRevoke: { ID: 7n } }, true), leaseKeys);
  });

  it('a permission revoked by an earlier entry fails a later one stamped with the older revision', () => {
    const { store } = populated();
    const stamped = proposal(store, 'writer', { put: put('app/x') });
    store.roleRevokePermission('w', b('app/'), b('app0'));
    assert.throws(() => authorizeProposal(store, stamped, leaseKeys), errors.AuthOldRevisionError);
    assert.throws(() => authorizeProposal(store, proposal(store, 'writer', { put: put('app/x') }), leaseKeys), errors.PermissionDeniedError);
  });
});
