import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';
import { AuthWire, OK, matrixUsers, provisionUsers, putRequest, rangeRequest } from '../support/auth-fixture.js';

/**
 * Auth on a 3-member etcdts cluster with simple tokens: the store is
 * replicated (any member answers for users set up through another), a
 * simple token made by one member works on every member (each records it
 * when it applies the Authenticate entry), a permission revoked through one
 * member refuses the next request on another, and a restarted member keeps
 * users, roles, permissions and the auth flag.
 */
describe('auth on a 3-member cluster (simple tokens)', function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let wires: AuthWire[];

  before(async () => {
    cluster = await startCluster({ size: 3, extraArgs: ['--bcrypt-cost', '4'] });
    wires = cluster.members.map((m) => new AuthWire(m.clientUrl));
    await waitFor('the cluster to answer', async () => (await wires[0]!.call(wires[0]!.kv, 'range', rangeRequest('x'))).outcome === OK, 60_000, 200);
    await provisionUsers(wires[0]!);
  });

  after(async () => {
    for (const w of wires ?? []) w.close();
    await killAll();
    removeTempDirs();
  });

  const read = (w: AuthWire, token: string | undefined, key = 'app/x') => w.call(w.kv, 'range', rangeRequest(key), token);

  it('a simple token made on one member works on the others', async () => {
    const token = await wires[1]!.authenticate('reader', matrixUsers['reader']!.password);
    assert.match(token, /^[a-zA-Z]{16}\.\d+$/);
    for (const w of wires) assert.equal((await read(w, token)).outcome, OK);
    for (const w of wires) assert.equal((await read(w, token, 'secret')).outcome, 'PERMISSION_DENIED: etcdserver: permission denied');
    for (const w of wires) assert.equal((await read(w, 'AbCdEfGhIjKlMnOp.9')).outcome, 'UNAUTHENTICATED: etcdserver: invalid auth token');
  });

  it('a permission revoked through one member refuses the next request on another', async () => {
    const rootToken = await wires[0]!.authenticate('root', matrixUsers['root']!.password);
    const writer = await wires[2]!.authenticate('writer', matrixUsers['writer']!.password);
    const put = () => wires[2]!.call(wires[2]!.kv, 'put', putRequest('app/w'), writer);
    assert.equal((await put()).outcome, OK);
    await wires[0]!.must(wires[0]!.auth, 'userRevokeRole', { name: 'writer', role: 'role-writer' }, rootToken);
    // The put is checked where it is applied, after the revoke: refused as denied, or, when member 3 had
    // not applied the revoke yet as it stamped the put, as authorized against an older auth revision.
    assert.match((await put()).outcome, /^(PERMISSION_DENIED: etcdserver: permission denied|INVALID_ARGUMENT: etcdserver: revision of auth store is old)$/);
    assert.equal((await put()).outcome, 'PERMISSION_DENIED: etcdserver: permission denied');
  });

  it('deleting a user ends its tokens on every member', async () => {
    const rootToken = await wires[0]!.authenticate('root', matrixUsers['root']!.password);
    const token = await wires[0]!.authenticate('keyUser', matrixUsers['keyUser']!.password);
    for (const w of wires) assert.equal((await read(w, token, 'k')).outcome, OK);
    await wires[1]!.must(wires[1]!.auth, 'userDelete', { name: 'keyUser' }, rootToken);
    for (const w of wires) {
      await waitFor('the deletion to be applied', async () => (await read(w, token, 'k')).outcome === 'UNAUTHENTICATED: etcdserver: invalid auth token', 10_000, 50);
    }
  });

  it('a restarted member keeps users, roles, permissions and auth on', async () => {
    const before = await wires[2]!.authenticate('reader', matrixUsers['reader']!.password);
    await cluster.restart('m3');
    const status = await waitFor('m3 to answer again', async () => {
      const r = await wires[2]!.call<{ enabled: boolean; authRevision: bigint }>(wires[2]!.auth, 'authStatus', {});
      return r.outcome === OK ? r.response : undefined;
    }, 60_000, 200);
    assert.equal(status.enabled, true);
    const revisions = await Promise.all(wires.map(async (w) => (await w.must<{ authRevision: bigint }>(w.auth, 'authStatus', {})).authRevision));
    assert.equal(new Set(revisions.map(String)).size, 1, `every member at the same auth revision: ${revisions.join(', ')}`);
    // Simple tokens live in each member's memory: the members that stayed up still know it.
    assert.equal((await read(wires[0]!, before)).outcome, OK);
    const again = await wires[2]!.authenticate('reader', matrixUsers['reader']!.password);
    assert.equal((await read(wires[2]!, again)).outcome, OK);
    assert.equal((await read(wires[2]!, again, 'secret')).outcome, 'PERMISSION_DENIED: etcdserver: permission denied');
  });

  it('auth disabled through one member is off on all', async () => {
    const rootToken = await wires[1]!.authenticate('root', matrixUsers['root']!.password);
    await wires[1]!.must(wires[1]!.auth, 'authDisable', {}, rootToken);
    for (const w of wires) {
      await waitFor('auth to be off', async () => (await read(w, undefined, 'secret')).outcome === OK, 10_000, 50);
    }
  });
});
