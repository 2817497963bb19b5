import assert from 'node:assert/strict';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { Permission_Type } from '../../src/proto/gen/authpb/auth.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { requireRealEtcd, startRealEtcd, type RealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs } from '../support/procs.js';
import { AuthWire, OK, jwtKeys, matrixUsers, prefixEnd, provisionUsers, putRequest, rangeRequest, signJwt, type Outcome } from '../support/auth-fixture.js';

/**
 * The authorization matrix: every RPC against every kind of principal, on
 * etcdts and on the real etcd 3.4.23 started the same way (JWT ES256 tokens,
 * so that an expired token and a token from an older auth revision can be
 * made alike for both). Each cell's expected outcome is written down; where
 * etcdts is deliberately stricter than 3.4.23 the op names the advisory (or
 * the reason) and gives etcd's row too, and both rows are checked.
 */
const principals = ['root', 'reader', 'writer', 'keyUser', 'rangeUser', 'noRole', 'anonymous', 'expired', 'stale'] as const;
type Principal = (typeof principals)[number];
type Row = Record<Principal, Outcome>;

const DENIED = 'PERMISSION_DENIED: etcdserver: permission denied';
const EMPTY = 'INVALID_ARGUMENT: etcdserver: user name is empty';
const TOKEN = 'UNAUTHENTICATED: etcdserver: invalid auth token';
const OLD = 'INVALID_ARGUMENT: etcdserver: revision of auth store is old';
const FUTURE = 'OUT_OF_RANGE: etcdserver: mvcc: required revision is a future revision';
const PEER_EXISTS = 'FAILED_PRECONDITION: etcdserver: Peer URLs already exists';
const NO_MEMBER = 'NOT_FOUND: etcdserver: member not found';
const BAD_TRANSFEREE = 'FAILED_PRECONDITION: etcdserver: bad leader transferee';

/** Key access: root and the users named; a token from an older auth revision is old; nobody is "user name is empty". */
function keyAccess(...allowed: Principal[]): Row {
  return row((p) => (p === 'root' || allowed.includes(p) ? OK : p === 'stale' ? OLD : DENIED));
}

/** Administration (etcd's IsAdminPermitted, which does not look at the revision): root only. */
function admin(ok: Outcome = OK): Row {
  return row((p) => (p === 'root' || p === 'stale' ? ok : DENIED));
}

/** Any existing user. */
function anyUser(ok: Outcome = OK): Row {
  return row(() => ok);
}

/** What etcd 3.4.23 leaves open: anyone, even without credentials; `tokenChecked` when the call looks at the token at all. */
function open(ok: Outcome = OK, tokenChecked = true): Row {
  return { ...row(() => ok), anonymous: ok, expired: tokenChecked ? TOKEN : ok };
}

function row(user: (p: Principal) => Outcome): Row {
  const r = {} as Row;
  for (const p of principals) r[p] = p === 'anonymous' ? EMPTY : p === 'expired' ? TOKEN : user(p);
  return r;
}

/** As etcd's Lock and Election services answer: every recipe error is UNKNOWN with etcd's message. */
function asRecipe(r: Row): Row {
  const out = {} as Row;
  for (const p of principals) out[p] = r[p] === OK ? OK : `UNKNOWN: ${r[p].split(': ').slice(1).join(': ')}`;
  return out;
}

/**
 * etcd 3.4.23's maintenance and alarm calls return the auth package's error
 * untranslated ("UNKNOWN: auth: permission denied"); etcdts sends etcd's wire
 * error for the same verdict.
 */
function untranslated(r: Row): Row {
  const auth: Record<string, string> = {
    [DENIED]: 'UNKNOWN: auth: permission denied', [EMPTY]: 'UNKNOWN: auth: user name is empty', [TOKEN]: 'UNKNOWN: auth: invalid auth token',
  };
  const out = {} as Row;
  for (const p of principals) out[p] = auth[r[p]] ?? r[p];
  return out;
}
const untranslatedWhy = 'same verdict; 3.4.23 sends the auth error untranslated (UNKNOWN: auth: ...), etcdts etcd\'s wire error';

/** A watch answers in its create response: etcd puts grpc-go's error text in cancel_reason. */
function asWatch(r: Row): Row {
  const goNames: Record<string, string> = { PERMISSION_DENIED: 'PermissionDenied', INVALID_ARGUMENT: 'InvalidArgument', UNAUTHENTICATED: 'Unauthenticated' };
  const out = {} as Row;
  for (const p of principals) {
    const o = r[p];
    const [code, ...rest] = o.split(': ');
    out[p] = o === OK ? 'created' : `canceled: rpc error: code = ${goNames[code!]} desc = ${rest.join(': ')}`;
  }
  return out;
}

/** An answer that refuses the caller (as opposed to one the operation itself gave after the checks passed). */
function isRefusal(o: Outcome): boolean {
  return /permission denied|user name is empty|invalid auth token|revision of auth store is old/.test(o);
}

interface Ctx {
  wire: AuthWire;
  /** A fresh root token (setup runs as root). */
  root(): Promise<string>;
  /** Leases holding one key each (secret-held, app/held, app/held2), and one holding none. */
  leases: { secret: bigint; held: bigint; held2: bigint; plain: bigint };
  peerUrl: string;
}

interface Op {
  name: string;
  run(ctx: Ctx, token: string | undefined, p: Principal): Promise<Outcome>;
  /** Expected on etcdts. */
  ours: Row;
  /** Expected on etcd 3.4.23, where it differs; `why` names the advisory or reason. */
  etcd?: Row;
  why?: string;
  /** Not in etcd 3.4.23's API. */
  etcdtsOnly?: boolean;
}

const b = (s: string): Buffer => Buffer.from(s);
const fromKey = Buffer.from([0]);
const none = Buffer.alloc(0);
const put = putRequest;
const range = rangeRequest;
const cmp = (key: string) => ({ result: 0, target: 0, key: b(key), rangeEnd: none, version: 0n });
const kv = (method: string, req: unknown) => async (c: Ctx, t: string | undefined) => (await c.wire.call(c.wire.kv, method, req, t)).outcome;
const call = (client: keyof AuthWire, method: string, req: (p: Principal) => unknown) =>
  async (c: Ctx, t: string | undefined, p: Principal) => (await c.wire.call(c.wire[client] as object, method, req(p), t)).outcome;

/** A lease granted for the cell by root, with `key` attached when given. */
async function freshLease(c: Ctx, key?: string): Promise<bigint> {
  const root = await c.root();
  const { ID } = await c.wire.must<{ ID: bigint }>(c.wire.lease, 'leaseGrant', { TTL: 600n, ID: 0n }, root);
  if (key !== undefined) await c.wire.must(c.wire.kv, 'put', put(key, { lease: ID }), root);
  return ID;
}

/** A user (and a role with one permission) made for the cell by root, for the ops that change or delete them. */
async function victim(c: Ctx, p: Principal, op: string): Promise<{ user: string; role: string }> {
  const root = await c.root();
  const user = `victim-${op}-${p}`;
  const role = `vrole-${op}-${p}`;
  await c.wire.must(c.wire.auth, 'userAdd', { name: user, password: 'x', options: { noPassword: false } }, root);
  await c.wire.must(c.wire.auth, 'roleAdd', { name: role }, root);
  await c.wire.must(c.wire.auth, 'roleGrantPermission', { name: role, perm: { permType: Permission_Type.READ, key: b('v/'), rangeEnd: none } }, root);
  await c.wire.must(c.wire.auth, 'userGrantRole', { user, role }, root);
  return { user, role };
}

const ops: Op[] = [
  // ---- KV ----
  { name: 'Range app/x', run: kv('range', range('app/x')), ours: keyAccess('reader') },
  { name: 'Range app/x, serializable', run: kv('range', range('app/x', none, { serializable: true })), ours: keyAccess('reader') },
  { name: 'Range prefix app/', run: kv('range', range('app/', prefixEnd('app/'))), ours: keyAccess('reader') },
  { name: 'Range from-key app/', run: kv('range', range('app/', fromKey)), ours: keyAccess() },
  { name: 'Range every key', run: kv('range', range('\0', fromKey)), ours: keyAccess() },
  { name: 'Range k (one-key grant)', run: kv('range', range('k')), ours: keyAccess('keyUser') },
  { name: 'Range [r1, r3) (inside the range grant)', run: kv('range', range('r1', b('r3'))), ours: keyAccess('rangeUser') },
  { name: 'Range [r1, r6) (past the range grant)', run: kv('range', range('r1', b('r6'))), ours: keyAccess() },
  { name: 'Put app/x', run: kv('put', put('app/x')), ours: keyAccess('writer') },
  { name: 'Put k', run: kv('put', put('k')), ours: keyAccess('keyUser') },
  { name: 'Put r2', run: kv('put', put('r2')), ours: keyAccess('rangeUser') },
  { name: 'Put secret', run: kv('put', put('secret')), ours: keyAccess() },
  { name: 'Put app/x with prev_kv (needs read)', run: kv('put', put('app/x', { prevKv: true })), ours: keyAccess() },
  {
    name: 'Put k with a lease holding app/held2 (needs write on app/held2)',
    run: async (c, t) => (await c.wire.call(c.wire.kv, 'put', put('k', { lease: c.leases.held2 }), t)).outcome,
    ours: keyAccess(),
  },
  { name: 'DeleteRange app/none', run: kv('deleteRange', { key: b('app/none'), rangeEnd: none, prevKv: false }), ours: keyAccess('writer') },
  { name: 'DeleteRange prefix app/none/ with prev_kv', run: kv('deleteRange', { key: b('app/none/'), rangeEnd: prefixEnd('app/none/'), prevKv: true }), ours: keyAccess() },
  { name: 'Txn: compare secret, put app/x', run: kv('txn', { compare: [cmp('secret')], success: [{ requestPut: put('app/x') }], failure: [] }), ours: keyAccess() },
  { name: 'Txn: put app/x, else put secret', run: kv('txn', { compare: [], success: [{ requestPut: put('app/x') }], failure: [{ requestPut: put('secret') }] }), ours: keyAccess() },
  {
    name: 'Txn: nested txn puts secret',
    run: kv('txn', { compare: [], success: [{ requestTxn: { compare: [], success: [{ requestPut: put('secret') }], failure: [] } }], failure: [] }),
    ours: keyAccess(),
    etcd: open(),
    why: 'GHSA-rfx7-8w68-q57q: 3.4.23 does not check ops of nested txns',
  },
  {
    name: 'Txn: nested txn reads secret',
    run: kv('txn', { compare: [], success: [{ requestTxn: { compare: [], success: [{ requestRange: range('secret') }], failure: [] } }], failure: [] }),
    ours: keyAccess(),
    etcd: open(),
    why: 'GHSA-rfx7-8w68-q57q',
  },
  {
    name: 'Txn: put app/x with prev_kv',
    run: kv('txn', { compare: [], success: [{ requestPut: put('app/x', { prevKv: true }) }], failure: [] }),
    ours: keyAccess(),
    etcd: keyAccess('writer'),
    why: 'CVE-2026-44283: 3.4.23 skips the read check of prev_kv inside txns',
  },
  {
    name: 'Txn: put app/x with a lease holding secret-held',
    run: async (c, t) => (await c.wire.call(c.wire.kv, 'txn', { compare: [], success: [{ requestPut: put('app/x', { lease: c.leases.secret }) }], failure: [] }, t)).outcome,
    ours: keyAccess(),
    etcd: keyAccess('writer'),
    why: 'CVE-2026-44283: 3.4.23 skips the lease check inside txns',
  },
  {
    name: 'Compact (to a future revision)',
    run: kv('compact', { revision: 1_000_000_000n, physical: false }),
    ours: admin(FUTURE),
    etcd: open(FUTURE),
    why: 'stricter, no advisory: compaction discards every user\'s history, so it is root\'s',
  },
  // ---- Lease ----
  {
    name: 'LeaseGrant',
    run: call('lease', 'leaseGrant', () => ({ TTL: 60n, ID: 0n })),
    ours: anyUser(),
    etcd: open(),
    why: 'GHSA-q8m4-xhhv-38mg: lease APIs callable without authentication',
  },
  {
    name: 'LeaseRevoke of a lease without keys',
    run: async (c, t) => (await c.wire.call(c.wire.lease, 'leaseRevoke', { ID: await freshLease(c) }, t)).outcome,
    ours: anyUser(),
    etcd: open(),
    why: 'GHSA-q8m4-xhhv-38mg',
  },
  {
    name: 'LeaseRevoke of a lease holding a root-only key',
    run: async (c, t, p) => (await c.wire.call(c.wire.lease, 'leaseRevoke', { ID: await freshLease(c, `revoke-${p}`) }, t)).outcome,
    ours: keyAccess(),
  },
  {
    name: 'LeaseTimeToLive with keys, lease holding secret-held',
    run: async (c, t) => (await c.wire.call(c.wire.lease, 'leaseTimeToLive', { ID: c.leases.secret, keys: true }, t)).outcome,
    ours: keyAccess(),
    etcd: open(OK, false),
    why: 'CVE-2023-32082: key names listed to callers who cannot read them',
  },
  {
    name: 'LeaseTimeToLive with keys, lease holding app/held',
    run: async (c, t) => (await c.wire.call(c.wire.lease, 'leaseTimeToLive', { ID: c.leases.held, keys: true }, t)).outcome,
    ours: keyAccess('reader'),
    etcd: open(OK, false),
    why: 'CVE-2023-32082',
  },
  { name: 'LeaseLeases', run: call('lease', 'leaseLeases', () => ({})), ours: anyUser(), etcd: open(OK, false), why: 'GHSA-q8m4-xhhv-38mg' },
  { name: 'LeaseKeepAlive', run: (c, t) => c.wire.keepAlive(c.leases.plain, t), ours: anyUser(), etcd: open(OK, false), why: 'GHSA-q8m4-xhhv-38mg' },
  // ---- Cluster ----
  { name: 'MemberList', run: call('cluster', 'memberList', () => ({ linearizable: false })), ours: anyUser(), etcd: open(OK, false), why: 'GHSA-q8m4-xhhv-38mg' },
  { name: 'MemberAdd (a learner on a peer URL in use)', run: async (c, t) => (await c.wire.call(c.wire.cluster, 'memberAdd', { peerURLs: [c.peerUrl], isLearner: true }, t)).outcome, ours: admin(PEER_EXISTS) },
  { name: 'MemberRemove (an unknown member)', run: call('cluster', 'memberRemove', () => ({ ID: 0x1234n })), ours: admin(NO_MEMBER) },
  { name: 'MemberUpdate (an unknown member)', run: call('cluster', 'memberUpdate', () => ({ ID: 0x1234n, peerURLs: ['http://127.0.0.1:1'] })), ours: admin(NO_MEMBER) },
  { name: 'MemberPromote (an unknown member)', run: call('cluster', 'memberPromote', () => ({ ID: 0x1234n })), ours: admin(NO_MEMBER) },
  // ---- Maintenance ----
  { name: 'Status', run: call('maintenance', 'status', () => ({})), ours: anyUser(), etcd: open(OK, false), why: 'GHSA-q8m4-xhhv-38mg family: patched etcd wants a user' },
  {
    name: 'Alarm: list',
    run: call('maintenance', 'alarm', () => ({ action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE })),
    ours: anyUser(),
    etcd: { ...open(), expired: 'UNKNOWN: auth: invalid auth token' },
    why: 'GHSA-q8m4-xhhv-38mg',
  },
  {
    name: 'Alarm: deactivate',
    run: call('maintenance', 'alarm', () => ({ action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: 0n, alarm: AlarmType.NOSPACE })),
    ours: admin(),
    etcd: { ...open(), expired: 'UNKNOWN: auth: invalid auth token' },
    why: 'GHSA-q8m4-xhhv-38mg',
  },
  { name: 'Defragment', run: call('maintenance', 'defragment', () => ({})), ours: admin(), etcd: untranslated(admin()), why: untranslatedWhy },
  { name: 'Hash', run: call('maintenance', 'hash', () => ({})), ours: admin(), etcd: untranslated(admin()), why: untranslatedWhy },
  { name: 'HashKV', run: call('maintenance', 'hashKv', () => ({ revision: 0n })), ours: admin(), etcd: untranslated(admin()), why: untranslatedWhy },
  { name: 'Snapshot', run: (c, t) => c.wire.snapshot(t), ours: admin(), etcd: untranslated(admin()), why: untranslatedWhy },
  {
    name: 'MoveLeader (to an unknown member)',
    run: call('maintenance', 'moveLeader', () => ({ targetID: 0x1234n })),
    ours: admin(BAD_TRANSFEREE),
    etcd: open(BAD_TRANSFEREE, false),
    why: 'GHSA-q8m4-xhhv-38mg family: patched etcd wants root for every maintenance call',
  },
  // ---- Auth ----
  { name: 'Authenticate (as reader)', run: call('auth', 'authenticate', () => ({ name: 'reader', password: matrixUsers['reader']!.password })), ours: open() },
  { name: 'AuthStatus', run: call('auth', 'authStatus', () => ({})), ours: open(OK, false), etcdtsOnly: true },
  { name: 'AuthEnable (already on)', run: call('auth', 'authEnable', () => ({})), ours: admin() },
  {
    name: 'AuthDisable (then enabled again)',
    run: async (c, t) => {
      const { outcome } = await c.wire.call(c.wire.auth, 'authDisable', {}, t);
      if (outcome === OK) await c.wire.must(c.wire.auth, 'authEnable', {});
      return outcome;
    },
    ours: admin(),
  },
  { name: 'UserAdd', run: call('auth', 'userAdd', (p) => ({ name: `new-${p}`, password: 'pw', options: { noPassword: false } })), ours: admin() },
  { name: 'UserGet of oneself (reader)', run: call('auth', 'userGet', () => ({ name: 'reader' })), ours: row((p) => (['root', 'stale', 'reader'].includes(p) ? OK : DENIED)) },
  { name: 'UserGet root', run: call('auth', 'userGet', () => ({ name: 'root' })), ours: admin() },
  { name: 'UserList', run: call('auth', 'userList', () => ({})), ours: admin() },
  { name: 'UserDelete', run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'userDelete', { name: (await victim(c, p, 'del')).user }, t)).outcome, ours: admin() },
  { name: 'UserChangePassword', run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'userChangePassword', { name: (await victim(c, p, 'pw')).user, password: 'new' }, t)).outcome, ours: admin() },
  { name: 'UserGrantRole', run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'userGrantRole', { user: (await victim(c, p, 'grant')).user, role: 'role-reader' }, t)).outcome, ours: admin() },
  {
    name: 'UserRevokeRole',
    run: async (c, t, p) => {
      const v = await victim(c, p, 'revoke');
      return (await c.wire.call(c.wire.auth, 'userRevokeRole', { name: v.user, role: v.role }, t)).outcome;
    },
    ours: admin(),
  },
  { name: 'RoleAdd', run: call('auth', 'roleAdd', (p) => ({ name: `newrole-${p}` })), ours: admin() },
  { name: 'RoleGet of a role one holds (role-reader)', run: call('auth', 'roleGet', () => ({ role: 'role-reader' })), ours: row((p) => (['root', 'stale', 'reader'].includes(p) ? OK : DENIED)) },
  { name: 'RoleList', run: call('auth', 'roleList', () => ({})), ours: admin() },
  { name: 'RoleDelete', run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'roleDelete', { role: (await victim(c, p, 'rdel')).role }, t)).outcome, ours: admin() },
  {
    name: 'RoleGrantPermission',
    run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'roleGrantPermission', { name: (await victim(c, p, 'rgrant')).role, perm: { permType: Permission_Type.WRITE, key: b('v/'), rangeEnd: none } }, t)).outcome,
    ours: admin(),
  },
  {
    name: 'RoleRevokePermission',
    run: async (c, t, p) => (await c.wire.call(c.wire.auth, 'roleRevokePermission', { role: (await victim(c, p, 'rrevoke')).role, key: b('v/'), rangeEnd: none }, t)).outcome,
    ours: admin(),
  },
  // ---- Watch ----
  { name: 'Watch app/x', run: (c, t) => c.wire.watch({ key: b('app/x') }, t), ours: asWatch(keyAccess('reader')) },
  { name: 'Watch prefix app/', run: (c, t) => c.wire.watch({ key: b('app/'), rangeEnd: prefixEnd('app/') }, t), ours: asWatch(keyAccess('reader')) },
  { name: 'Watch [r1, r3)', run: (c, t) => c.wire.watch({ key: b('r1'), rangeEnd: b('r3') }, t), ours: asWatch(keyAccess('rangeUser')) },
  { name: 'Watch secret', run: (c, t) => c.wire.watch({ key: b('secret') }, t), ours: asWatch(keyAccess()) },
  {
    name: 'Watch from-key app/',
    run: (c, t) => c.wire.watch({ key: b('app/'), rangeEnd: fromKey }, t),
    ours: asWatch(keyAccess()),
    etcd: asWatch(keyAccess('reader')),
    why: 'GHSA-xg4h-6gfc-h4m8: 3.4.23 checks a from-key watch as its first key only',
  },
  {
    name: 'Watch from-key k',
    run: (c, t) => c.wire.watch({ key: b('k'), rangeEnd: fromKey }, t),
    ours: asWatch(keyAccess()),
    etcd: asWatch(keyAccess('keyUser')),
    why: 'GHSA-xg4h-6gfc-h4m8',
  },
  // ---- Lock and Election (their recipes run as the caller) ----
  {
    name: 'Lock app/lock-<caller>',
    run: async (c, t, p) => (await c.wire.call(c.wire.lock, 'lock', { name: b(`app/lock-${p}`), lease: await freshLease(c) }, t)).outcome,
    ours: asRecipe(keyAccess()),
  },
  {
    name: 'Election Campaign app/elect-<caller>',
    run: async (c, t, p) => (await c.wire.call(c.wire.election, 'campaign', { name: b(`app/elect-${p}`), lease: await freshLease(c), value: b('me') }, t)).outcome,
    ours: asRecipe(keyAccess()),
  },
];

interface Target {
  label: 'etcdts' | 'etcd 3.4.23';
  wire: AuthWire;
  ctx: Ctx;
  stop(): Promise<void>;
}

/** Users, data and leases, identical on both servers. */
async function prepare(label: Target['label'], endpoint: string, stop: () => Promise<void>): Promise<Target> {
  const wire = new AuthWire(endpoint);
  await provisionUsers(wire);
  const root = (): Promise<string> => wire.authenticate('root', matrixUsers['root']!.password);
  const rootToken = await root();
  for (const key of ['app/x', 'k', 'r2', 'secret']) await wire.must(wire.kv, 'put', put(key), rootToken);
  const grant = async (): Promise<bigint> => (await wire.must<{ ID: bigint }>(wire.lease, 'leaseGrant', { TTL: 3600n, ID: 0n }, rootToken)).ID;
  const leases = { secret: await grant(), held: await grant(), held2: await grant(), plain: await grant() };
  await wire.must(wire.kv, 'put', put('secret-held', { lease: leases.secret }), rootToken);
  await wire.must(wire.kv, 'put', put('app/held', { lease: leases.held }), rootToken);
  await wire.must(wire.kv, 'put', put('app/held2', { lease: leases.held2 }), rootToken);
  const members = await wire.must<{ members: Array<{ peerURLs: string[] }> }>(wire.cluster, 'memberList', {}, rootToken);
  return { label, wire, ctx: { wire, root, leases, peerUrl: members.members[0]!.peerURLs[0]! }, stop };
}

/**
 * Tokens for one op: a root token made stale by an auth change right after
 * it, then fresh tokens for every user, and an expired root token.
 */
async function tokensFor(t: Target, keys: { priv: string }, round: number): Promise<Record<Principal, string | undefined>> {
  const stale = await t.ctx.root();
  await t.wire.must(t.wire.auth, 'roleAdd', { name: `bump-${round}` }, await t.ctx.root());
  const tokens = { anonymous: undefined, stale } as Record<Principal, string | undefined>;
  for (const p of ['root', 'reader', 'writer', 'keyUser', 'rangeUser', 'noRole'] as const) tokens[p] = await t.wire.authenticate(p, matrixUsers[p]!.password);
  tokens.expired = signJwt(keys.priv, { username: 'root', revision: 1, exp: Math.floor(Date.now() / 1000) - 60 });
  return tokens;
}

describe('authorization matrix: every RPC x principal, etcdts and etcd 3.4.23', function () {
  this.timeout(120_000);
  // Made in before(): other suites' after hooks remove every temp dir, so none may exist at load time.
  let keys: ReturnType<typeof jwtKeys>;
  let targets: Target[] = [];
  const tally = { cells: 0, stricter: 0, otherText: 0, checkedAgainstEtcd: 0 };

  before(async function () {
    this.timeout(60_000);
    keys = jwtKeys();
    const flags = ['--auth-token', keys.flag, '--bcrypt-cost', '4'];
    const member: EtcdtsMember = await startEtcdts({ extraArgs: flags });
    targets = [await prepare('etcdts', member.endpoint, () => member.stop())];
    requireRealEtcd();
    const etcd: RealEtcd = await startRealEtcd(flags);
    targets.push(await prepare('etcd 3.4.23', etcd.endpoint, () => etcd.stop()));
  });

  after(async () => {
    for (const t of targets) t.wire.close();
    await killAll();
    removeTempDirs();
    console.log(`      auth matrix: ${ops.length} RPCs x ${principals.length} principals = ${tally.cells} cells on etcdts; ${tally.checkedAgainstEtcd} checked against etcd 3.4.23; ${tally.stricter} refused where 3.4.23 allows, ${tally.otherText} with another answer than 3.4.23's`);
  });

  ops.forEach((op, i) => {
    it(`${op.name}${op.why !== undefined ? ` [stricter than 3.4.23: ${op.why}]` : ''}`, async () => {
      const mismatches: string[] = [];
      for (const t of targets) {
        const isEtcd = t.label !== 'etcdts';
        if (isEtcd && op.etcdtsOnly === true) continue;
        const expected = isEtcd ? op.etcd ?? op.ours : op.ours;
        const tokens = await tokensFor(t, keys, i);
        for (const p of principals) {
          const got = await op.run(t.ctx, tokens[p], p);
          if (got !== expected[p]) mismatches.push(`${t.label} ${p}: expected ${expected[p]}, got ${got}`);
          if (isEtcd) tally.checkedAgainstEtcd++;
          else {
            tally.cells++;
            if (op.etcd !== undefined && op.etcd[p] !== op.ours[p]) {
              if (isRefusal(op.ours[p]) && !isRefusal(op.etcd[p])) tally.stricter++;
              else tally.otherText++;
            }
          }
        }
      }
      assert.deepEqual(mismatches, []);
    });
  });
});
