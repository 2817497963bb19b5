import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster } from '../support/cluster.js';
import { killAll, removeTempDirs, run, start, tempDir, waitFor } from '../support/procs.js';
import { freePort } from '../support/ports.js';
import { portOpen, runJs } from '../support/etcdts.js';
import { RawKv } from '../support/raw-kv.js';
import { overEachTransport, scheme, serverTlsFlags } from '../support/transport-mode.js';

const etcdts = (...args: string[]) => run(process.execPath, [runJs, ...args], { timeoutMs: 60000 });

overEachTransport('disaster recovery: snapshot save under load, destroy the cluster, restore three members', function () {
  this.timeout(300000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('restores every key, revision and lease at the snapshot revision, and the members agree on HashKV', async () => {
    const old = await startCluster({ size: 3 });
    const kv = new RawKv(old.members[0]!.clientUrl);
    // History: several versions per key, deletes, and keys attached to a long lease.
    for (let round = 0; round < 5; round++) for (let i = 0; i < 40; i++) await kv.put({ key: `dr/${i}`, value: `r${round}-${i}` });
    await kv.deleteRange({ key: 'dr/39' });
    const grant = await etcdts('--endpoints', old.members[0]!.clientUrl, 'lease', 'grant', '600');
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant.stdout)![1]!;
    for (let i = 0; i < 5; i++) await etcdts('--endpoints', old.members[0]!.clientUrl, 'put', '--lease', leaseId, `leased/${i}`, 'x');
    let writing = true;
    const load = (async () => {
      for (let i = 0; writing; i++) await kv.put({ key: `load/${i % 50}`, value: `${i}` }).catch(() => undefined);
    })();
    const file = join(tempDir('dr-snap-'), 'backup.db');
    const saved = await etcdts('--endpoints', old.members[1]!.clientUrl, 'snapshot', 'save', file);
    writing = false;
    await load;
    assert.equal(saved.code, 0, saved.stderr);
    const status = await etcdts('snapshot', 'status', file, '-w', 'json');
    assert.equal(status.code, 0, status.stderr);
    const snapshotRev = BigInt(/"revision":(\d+)/.exec(status.stdout)![1]!);
    // The state the snapshot must hold: everything at its revision, read from the old cluster.
    const expected = await kv.range({ key: '\0', rangeEnd: '\0', revision: snapshotRev });
    const expectedHistory = await kv.range({ key: 'dr/0', revision: snapshotRev - 150n });
    kv.close();
    for (const m of old.members) await old.kill(m.name);
    for (const m of old.members) rmSync(m.dataDir, { recursive: true, force: true });

    const base = tempDir('dr-new-');
    const members = await Promise.all(['n1', 'n2', 'n3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort(), dataDir: join(base, `${name}.etcd`) })));
    const initialCluster = members.map((m) => `${m.name}=${scheme()}://127.0.0.1:${m.peer}`).join(',');
    for (const m of members) {
      const restored = await etcdts('snapshot', 'restore', file, '--name', m.name, '--data-dir', m.dataDir, '--initial-cluster', initialCluster,
        '--initial-cluster-token', 'restored-cluster', '--initial-advertise-peer-urls', `${scheme()}://127.0.0.1:${m.peer}`);
      assert.equal(restored.code, 0, restored.stderr);
    }
    for (const m of members) {
      const client = `${scheme()}://127.0.0.1:${m.client}`;
      const peer = `${scheme()}://127.0.0.1:${m.peer}`;
      start(process.execPath, [runJs, 'server', '--name', m.name, '--data-dir', m.dataDir, '--listen-client-urls', client,
        '--advertise-client-urls', client, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', initialCluster, '--initial-cluster-token', 'restored-cluster', '--log-level', 'error', ...serverTlsFlags()]);
    }
    await Promise.all(members.map((m) => waitFor(`${m.name} to serve`, () => portOpen(m.client), 60000)));
    for (const m of members) {
      const c = new RawKv(`127.0.0.1:${m.client}`);
      const got = await c.range({ key: '\0', rangeEnd: '\0', revision: snapshotRev, serializable: false });
      assert.deepEqual(got.kvs.map((k) => [k.key.toString(), k.value.toString(), k.modRevision, k.createRevision, k.version]),
        expected.kvs.map((k) => [k.key.toString(), k.value.toString(), k.modRevision, k.createRevision, k.version]), `${m.name} differs at revision ${snapshotRev}`);
      const history = await c.range({ key: 'dr/0', revision: snapshotRev - 150n });
      assert.equal(history.kvs[0]?.value.toString(), expectedHistory.kvs[0]?.value.toString(), 'history before the snapshot is gone');
      c.close();
    }
    const ttl = await etcdts('--endpoints', `127.0.0.1:${members[0]!.client}`, 'lease', 'timetolive', '--keys', leaseId);
    assert.match(ttl.stdout, /attached keys\(\[leased\/0 leased\/1 leased\/2 leased\/3 leased\/4\]\)/, ttl.stdout);
    const next = new RawKv(`127.0.0.1:${members[2]!.client}`);
    const after = await next.put({ key: 'after-restore', value: 'yes' });
    assert.ok(after.header!.revision > snapshotRev, 'the revision counter continues after the snapshot');
    next.close();
    const hashkv = await etcdts('--endpoints', `127.0.0.1:${members[0]!.client}`, 'endpoint', 'hashkv', '--cluster', '--rev', String(snapshotRev), '-w', 'json');
    assert.equal(hashkv.code, 0, hashkv.stderr);
    const hashes = [...hashkv.stdout.matchAll(/"hash":(\d+)/g)].map((m) => m[1]);
    assert.equal(hashes.length, 3, hashkv.stdout);
    assert.ok(hashes.every((h) => h === hashes[0]), `members disagree: ${hashes.join(',')}`);
  });
});
