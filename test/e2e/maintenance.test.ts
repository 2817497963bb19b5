import assert from 'node:assert/strict';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcdts, runJs, portOpen } from '../support/etcdts.js';
import { etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs, run, start, tempDir, waitFor } from '../support/procs.js';
import { freePort } from '../support/ports.js';
import { RawKv, wireError } from '../support/raw-kv.js';
import { restoreSnapshot, snapshotStatus } from '../../src/server/snapshot/snapshot-file.js';
import { Client } from '../../src/client/index.js';

describe('maintenance: quota, defrag, hashkv, snapshot save and restore', function () {
  this.timeout(120000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('takes membership changes back to back: each one proposed as soon as the one before was answered', async () => {
    // Raft's own applied index trails the answer by up to one Ready; the next change used
    // to be refused in that window ("etcdserver: leader changed" on a healthy member).
    const member = await startEtcdts();
    const client = await Client.connect({ endpoints: [member.endpoint] });
    try {
      for (let i = 0; i < 10; i++) {
        const added = await client.cluster.memberAdd([`http://127.0.0.1:${1 + i}`], { isLearner: true });
        await client.cluster.memberRemove(added.member!.ID);
      }
      assert.equal((await client.cluster.memberList()).members.length, 1);
    } finally {
      client.close();
    }
  });

  it('raises NOSPACE past the quota and accepts writes again after compaction, defrag and disarm', async () => {
    const member = await startEtcdts({ extraArgs: ['--quota-backend-bytes', String(4 * 1024 * 1024)] });
    const ctl = (...args: string[]) => run(process.execPath, [runJs, '--endpoints', member.endpoint, ...args]);
    const kv = new RawKv(member.endpoint);
    const big = Buffer.alloc(1024 * 1024, 7);
    let refused: { code: number; details: string } | undefined;
    for (let i = 0; i < 20 && refused === undefined; i++) {
      try {
        await kv.put({ key: 'big', value: big });
      } catch {
        refused = await wireError(kv.put({ key: 'big', value: big }));
      }
    }
    assert.deepEqual(refused, { code: 8, details: 'etcdserver: mvcc: database space exceeded' });
    await waitFor('the alarm to be listed', async () => /alarm:NOSPACE/.test((await ctl('alarm', 'list')).stdout));
    assert.deepEqual(await wireError(kv.put({ key: 'small', value: 'x' })), { code: 8, details: 'etcdserver: mvcc: database space exceeded' });
    assert.equal((await kv.deleteRange({ key: 'big' })).deleted, 1n, 'deletes must still work under NOSPACE');
    const rev = (await kv.range({ key: 'big' })).header!.revision;
    await kv.compact({ revision: rev, physical: true });
    assert.equal((await ctl('defrag')).code, 0);
    assert.equal((await ctl('alarm', 'disarm')).code, 0);
    assert.equal((await ctl('alarm', 'list')).stdout, '');
    await kv.put({ key: 'small', value: 'x' });
    kv.close();
    await member.stop();
  });

  it('saves a snapshot under writes, and restores it into a working member with every revision', async () => {
    const member = await startEtcdts();
    const kv = new RawKv(member.endpoint);
    for (let i = 0; i < 50; i++) await kv.put({ key: `snap/${i}`, value: `v${i}` });
    await kv.put({ key: 'snap/0', value: 'second' });
    let writing = true;
    const background = (async () => {
      for (let i = 0; writing; i++) await kv.put({ key: `during/${i}`, value: 'x' }).catch(() => undefined);
    })();
    const file = join(tempDir('snapfile-'), 'backup.db');
    const saved = await run(process.execPath, [runJs, '--endpoints', member.endpoint, 'snapshot', 'save', file]);
    writing = false;
    await background;
    assert.equal(saved.code, 0, saved.stderr);
    const status = await snapshotStatus(file);
    assert.ok(status.revision >= 52n);
    const dataDir = join(tempDir('restored-'), 'r1.etcd');
    const peerPort = await freePort();
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    await restoreSnapshot({ snapshotPath: file, dataDir, name: 'r1', initialCluster: new Map([['r1', [peerUrl]]]), initialClusterToken: 'restored', initialAdvertisePeerUrls: [peerUrl], skipHashCheck: false });
    const clientPort = await freePort();
    start(process.execPath, [runJs, 'server', '--name', 'r1', '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${clientPort}`,
      '--listen-peer-urls', peerUrl, '--initial-cluster', `r1=${peerUrl}`, '--initial-cluster-token', 'restored', '--log-level', 'error']);
    await waitFor('the restored member', () => portOpen(clientPort), 30000);
    const restored = new RawKv(`127.0.0.1:${clientPort}`);
    const all = await restored.range({ key: 'snap/', rangeEnd: 'snap0' });
    assert.equal(all.count, 50n);
    assert.equal((await restored.range({ key: 'snap/0', revision: 2n })).kvs[0]?.value.toString(), 'v0', 'history before the snapshot is kept');
    const next = await restored.put({ key: 'after', value: 'restore' });
    assert.equal(next.header!.revision, status.revision + 1n, 'the revision counter continues');
    restored.close();
    kv.close();
    await member.stop();
  });

  it('refuses truncated and bit-flipped snapshots with a one-line error', async () => {
    const member = await startEtcdts();
    const kv = new RawKv(member.endpoint);
    await kv.put({ key: 'k', value: 'v' });
    const dir = tempDir('badsnap-');
    const file = join(dir, 'good.db');
    assert.equal((await run(process.execPath, [runJs, '--endpoints', member.endpoint, 'snapshot', 'save', file])).code, 0);
    const truncated = join(dir, 'truncated.db');
    writeFileSync(truncated, readFileSync(file));
    truncateSync(truncated, 10000);
    const flipped = join(dir, 'flipped.db');
    const bytes = readFileSync(file);
    bytes[4100] = bytes[4100]! ^ 0x10;
    writeFileSync(flipped, bytes);
    for (const bad of [truncated, flipped]) {
      await assert.rejects(snapshotStatus(bad), (err: Error) => !err.message.includes('\n') && /integrity|no integrity hash/.test(err.message));
      const target = join(dir, `restore-${bad.endsWith('truncated.db') ? 't' : 'f'}`);
      await assert.rejects(restoreSnapshot({ snapshotPath: bad, dataDir: target, name: 'x', initialCluster: new Map([['x', ['http://127.0.0.1:1']]]), initialClusterToken: 't', initialAdvertisePeerUrls: ['http://127.0.0.1:1'], skipHashCheck: false }));
      assert.ok(!existsSync(target), 'a refused restore must not leave a data dir');
    }
    kv.close();
    await member.stop();
  });

  it('answers the real etcdctl endpoint hashkv, defrag and alarm list', async () => {
    requireRealEtcd();
    const member = await startEtcdts();
    const ctl = (...args: string[]) => run(etcdctlBinary, ['--endpoints', member.endpoint, ...args]);
    await ctl('put', 'a', '1');
    const hashkv = await ctl('endpoint', 'hashkv', '-w', 'json');
    assert.equal(hashkv.code, 0, hashkv.stderr);
    assert.match(hashkv.stdout, /"hash":\d+/);
    assert.match((await ctl('defrag')).stdout, /Finished defragmenting etcd member/);
    const alarms = await ctl('alarm', 'list');
    assert.deepEqual([alarms.code, alarms.stdout], [0, '']);
    await member.stop();
  });
});
