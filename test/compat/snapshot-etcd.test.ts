import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Client } from '../../src/client/client.js';
import { startMember, type ClusterMember } from '../support/admin-cluster.js';
import type { ServerKind } from '../support/cluster.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, tempDir, waitFor } from '../support/procs.js';
import { requireRealEtcd } from '../support/real-etcd.js';
import { runEtcdctl, runOurs } from './cli-harness.js';
import { BboltReader, BufferSource } from '../../src/server/snapshot/bbolt/reader.js';

/**
 * Moving in from etcd and back out by snapshot (issue 15): a snapshot the
 * real etcdctl 3.4.23 saves from a real etcd restores into an etcdts member
 * that serves the same keys at the same revisions with the same HashKV, and
 * an etcdts snapshot saved with --format etcd restores with the real etcdctl
 * into a real etcd that serves the same data. Damaged files of etcd's format
 * are refused with one line and leave no data dir.
 */
describe('snapshots between etcd and etcdts', function () {
  this.timeout(180000);
  let dir: string;
  const members: ClusterMember[] = [];

  before(function () {
    requireRealEtcd();
    dir = tempDir('snapshot-etcd-');
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  /** One member of the given kind on free ports, optionally on a restored data dir; resolves once it serves. */
  async function member(kind: ServerKind, name: string, restored?: { dataDir: string; peerUrl: string }): Promise<{ m: ClusterMember; client: Client; endpoint: string }> {
    const peerUrl = restored?.peerUrl ?? `http://127.0.0.1:${await freePort()}`;
    const m = startMember(kind, { name, peerUrl, clientPort: await freePort(), initialCluster: `${name}=${peerUrl}`, state: 'new', token: 'snap', dataDir: restored?.dataDir });
    members.push(m);
    const client = await waitFor(`${kind} ${name} to serve`, async () => {
      const c = await Client.connect({ endpoints: [m.clientUrl], dialTimeoutMs: 1000 }).catch(() => undefined);
      if (c === undefined) return undefined;
      const ok = await c.kv.get('health-probe', { timeoutMs: 2000 }).then(() => true, () => false);
      if (!ok) c.close();
      return ok ? c : undefined;
    }, 30000, 200);
    return { m, client, endpoint: m.clientUrl };
  }

  /** Keys over several pages and branch levels, overwrites, deletes, a big value (overflow pages), a lease, a compaction. */
  async function workload(client: Client): Promise<{ leaseId: bigint }> {
    for (let i = 0; i < 600; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => client.kv.put(`/app/key-${String(i + j).padStart(4, '0')}`, `value ${i + j}`)));
    }
    await client.kv.put('/app/key-0007', 'second version');
    await client.kv.delete('/app/key-0008');
    await client.kv.put('/app/big', Buffer.alloc(20_000, 0x62));
    const lease = await client.lease.grant(3600);
    await client.kv.put('/app/leased', 'until the lease ends', { lease: lease.ID });
    const r = await client.kv.put('/app/key-0009', 'after compaction point');
    await client.kv.compact(r.header!.revision - 2n);
    await client.kv.delete('/app/key-0010');
    return { leaseId: lease.ID };
  }

  /** `get --prefix "" -w json` through the real etcdctl, without the header's member-specific ids. */
  async function getAll(endpoint: string, rev?: bigint): Promise<{ revision: number; kvs: unknown[] }> {
    const args = ['get', '--prefix', '', '-w', 'json', '--endpoints', endpoint, ...(rev === undefined ? [] : ['--rev', String(rev)])];
    const r = await runEtcdctl(args);
    assert.equal(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { header: { revision: number }; kvs: unknown[] };
    return { revision: parsed.header.revision, kvs: parsed.kvs };
  }

  async function hashKv(endpoint: string, rev: bigint): Promise<number> {
    const r = await runEtcdctl(['endpoint', 'hashkv', '--rev', String(rev), '-w', 'json', '--endpoints', endpoint]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ HashKV: { hash: number } }>)[0]!.HashKV.hash;
  }

  async function restoreWithOurs(file: string, name: string): Promise<{ dataDir: string; peerUrl: string }> {
    const dataDir = join(tempDir('restored-'), `${name}.etcd`);
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const r = await runOurs(['snapshot', 'restore', file, '--name', name, '--data-dir', dataDir, '--initial-cluster-token', 'snap', '--initial-advertise-peer-urls', peerUrl]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\(an etcd snapshot\) at revision \d+/);
    return { dataDir, peerUrl };
  }

  describe('from etcd to etcdts', () => {
    let source: Awaited<ReturnType<typeof member>>;
    let saved: string;
    let leaseId: bigint;

    before(async () => {
      source = await member('etcd', 'source');
      ({ leaseId } = await workload(source.client));
      saved = join(dir, 'from-etcd.db');
      const r = await runEtcdctl(['snapshot', 'save', saved, '--endpoints', source.endpoint]);
      assert.equal(r.code, 0, r.stderr);
    });

    after(() => source?.client.close());

    it('status prints what etcdctl prints for the file (simple, json, fields)', async () => {
      for (const format of ['simple', 'json', 'fields']) {
        const ours = await runOurs(['snapshot', 'status', saved, '-w', format]);
        const theirs = await runEtcdctl(['snapshot', 'status', saved, '-w', format]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.equal(ours.stdout, theirs.stdout, format);
      }
    });

    it('restores into an etcdts member with every key, revision, lease and the same HashKV', async () => {
      const restored = await member('etcdts', 'moved', await restoreWithOurs(saved, 'moved'));
      try {
        const before = await getAll(source.endpoint);
        const after = await getAll(restored.endpoint);
        assert.equal(after.revision, before.revision);
        assert.deepEqual(after.kvs, before.kvs);
        for (const rev of [BigInt(before.revision) - 1n, BigInt(before.revision) - 3n]) {
          assert.deepEqual((await getAll(restored.endpoint, rev)).kvs, (await getAll(source.endpoint, rev)).kvs, `at revision ${rev}`);
        }
        const rev = BigInt(before.revision);
        assert.equal(await hashKv(restored.endpoint, rev), await hashKv(source.endpoint, rev));
        const compacted = await runEtcdctl(['get', '/app/key-0001', '--rev', '2', '--endpoints', restored.endpoint]);
        assert.match(compacted.stderr, /required revision has been compacted/);
        const ttl = await restored.client.lease.timeToLive(leaseId, { keys: true });
        assert.equal(ttl.grantedTTL, 3600n);
        assert.deepEqual(ttl.keys.map((k) => Buffer.from(k).toString()), ['/app/leased']);
      } finally {
        restored.client.close();
        await restored.m.stop();
      }
    });

    it('a corrupted etcd snapshot is refused by status and restore with one line, and no data dir is left', async () => {
      const bytes = readFileSync(saved);
      const flipped = join(dir, 'flipped.db');
      const copy = Buffer.from(bytes);
      copy[5 * 4096 + 100]! ^= 0x01;
      writeFileSync(flipped, copy);
      // A damaged page under a hash that matches it: only the reader's checks can refuse it.
      const rehashed = join(dir, 'rehashed.db');
      const db = Buffer.from(bytes.subarray(0, bytes.length - 32));
      const reader = BboltReader.open(new BufferSource(db));
      const keyBucket = [...reader.entries(reader.rootBucket)].find((e) => e.key.toString() === 'key')!.bucket!;
      assert.notEqual(keyBucket.root, 0n, 'the key bucket has pages of its own');
      db.writeBigUInt64LE(999_999n, Number(keyBucket.root) * reader.meta.pageSize); // its root page's header names another page
      writeFileSync(rehashed, Buffer.concat([db, createHash('sha256').update(db).digest()]));
      const truncated = join(dir, 'truncated.db');
      writeFileSync(truncated, bytes.subarray(0, 4096 * 3));
      for (const file of [flipped, rehashed, truncated]) {
        const status = await runOurs(['snapshot', 'status', file]);
        assert.equal(status.code, 1, `${file}: ${status.stdout}`);
        assert.match(status.stderr, /^Error: [^\n]+\n$/);
        const target = join(tempDir('bad-restore-'), 'x.etcd');
        // A flipped bit inside a value reads fine once the hash check is skipped: only the hash catches it.
        for (const extra of file === flipped ? [[]] : [[], ['--skip-hash-check']]) {
          const restore = await runOurs(['snapshot', 'restore', file, '--data-dir', target, ...extra]);
          assert.equal(restore.code, 1, `${file} ${extra.join(' ')}`);
          assert.match(restore.stderr, /^Error: [^\n]+\n$/);
          assert.equal(existsSync(target), false);
          assert.equal(existsSync(`${target}.restore-tmp`), false);
        }
      }
      const theirs = await runEtcdctl(['snapshot', 'status', rehashed]);
      assert.notEqual(theirs.code, 0, 'the real etcdctl refuses it too');
    });
  });

  describe('from etcdts to etcd', () => {
    let source: Awaited<ReturnType<typeof member>>;
    let exported: string;
    let leaseId: bigint;

    before(async () => {
      source = await member('etcdts', 'ts-source');
      ({ leaseId } = await workload(source.client));
      exported = join(dir, 'for-etcd.db');
      const r = await runOurs(['snapshot', 'save', '--format', 'etcd', exported, '--endpoints', source.endpoint]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `Snapshot saved at ${exported}\n`);
    });

    after(() => source?.client.close());

    it('is a bbolt file the real etcdctl checks page by page, with its SHA-256', async () => {
      assert.equal(statSync(exported).size % 512, 32);
      const theirs = await runEtcdctl(['snapshot', 'status', exported, '-w', 'json']);
      assert.equal(theirs.code, 0, theirs.stderr);
      const ours = await runOurs(['snapshot', 'status', exported, '-w', 'json']);
      assert.equal(ours.stdout, theirs.stdout);
      const status = JSON.parse(theirs.stdout) as { revision: number };
      assert.equal(BigInt(status.revision), (await source.client.kv.get('x')).header!.revision);
    });

    it('restores with the real etcdctl into a real etcd that serves the same data', async () => {
      const dataDir = join(tempDir('etcd-restored-'), 'back.etcd');
      const peerUrl = `http://127.0.0.1:${await freePort()}`;
      const r = await runEtcdctl(['snapshot', 'restore', exported, '--name', 'back', '--data-dir', dataDir, '--initial-cluster', `back=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl]);
      assert.equal(r.code, 0, r.stderr);
      const clientPort = await freePort();
      const back = startMember('etcd', { name: 'back', peerUrl, clientPort, initialCluster: `back=${peerUrl}`, state: 'new', token: 'etcd-cluster', dataDir });
      members.push(back);
      const client = await waitFor('the restored etcd to serve', async () => {
        const c = await Client.connect({ endpoints: [back.clientUrl], dialTimeoutMs: 1000 }).catch(() => undefined);
        const ok = c !== undefined && (await c.kv.get('x', { timeoutMs: 2000 }).then(() => true, () => false));
        if (!ok) c?.close();
        return ok ? c : undefined;
      }, 30000, 200);
      try {
        const want = await getAll(source.endpoint);
        const got = await getAll(back.clientUrl);
        assert.equal(got.revision, want.revision);
        assert.deepEqual(got.kvs, want.kvs);
        for (const rev of [BigInt(want.revision) - 1n, BigInt(want.revision) - 3n]) {
          assert.deepEqual((await getAll(back.clientUrl, rev)).kvs, (await getAll(source.endpoint, rev)).kvs, `at revision ${rev}`);
        }
        const ttl = await client.lease.timeToLive(leaseId, { keys: true });
        assert.equal(ttl.grantedTTL, 3600n);
        assert.deepEqual(ttl.keys.map((k) => Buffer.from(k).toString()), ['/app/leased']);
        const compacted = await runEtcdctl(['get', '/app/key-0001', '--rev', '2', '--endpoints', back.clientUrl]);
        assert.match(compacted.stderr, /required revision has been compacted/);
        // And back again: the real etcd's snapshot of it restores into etcdts with the same content.
        const again = join(dir, 'round-trip.db');
        assert.equal((await runEtcdctl(['snapshot', 'save', again, '--endpoints', back.clientUrl])).code, 0);
        const home = await member('etcdts', 'home', await restoreWithOurs(again, 'home'));
        try {
          assert.deepEqual((await getAll(home.endpoint)).kvs, want.kvs);
          const rev = BigInt(want.revision);
          assert.equal(await hashKv(home.endpoint, rev), await hashKv(back.clientUrl, rev));
        } finally {
          home.client.close();
          await home.m.stop();
        }
      } finally {
        client.close();
        await back.stop();
      }
    });
  });
});
