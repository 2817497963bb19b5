import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { startMember } from '../support/admin-cluster.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { freePort } from '../support/ports.js';
import { kill9, killAll, removeTempDirs, start, tempDir, waitFor } from '../support/procs.js';
import { requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';
import { normalise, ourCliScript, runEtcdctl, runOurs } from './cli-harness.js';

/**
 * snapshot save / status / restore with an etcdts member: the file is the
 * member's database plus a trailing SHA-256 (etcd's layout); save is atomic
 * (a killed or interrupted save leaves nothing at the target path); status
 * and restore refuse damaged files with one line; a restored data dir
 * starts a new member holding every key with its revisions.
 */
describe('snapshot save, status and restore (etcdts)', function () {
  this.timeout(120000);
  let server: EtcdtsMember;
  let client: Client;
  let dir: string;
  let saved: string;

  before(async function () {
    requireRealEtcd();
    server = await startEtcdts();
    client = await Client.connect({ endpoints: [server.endpoint] });
    for (let i = 0; i < 50; i++) await client.kv.put(`/data/k${i}`, `value ${i}`);
    await client.kv.put('/data/k7', 'second version');
    await client.kv.delete('/data/k8');
    dir = tempDir('snapshot-cli-');
    saved = join(dir, 'backup.db');
    const r = await runOurs(['snapshot', 'save', saved, '--endpoints', server.endpoint]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    client?.close();
    await killAll();
    removeTempDirs();
  });

  const ep = (): string[] => ['--endpoints', server.endpoint];
  const oneErrorLine = (stderr: string): boolean => /^Error: [^\n]+\n$/.test(stderr);

  it('save prints etcdctl\'s line on stdout, the revision and size on stderr, and leaves no .part', async () => {
    const revision = (await client.kv.get('x')).header!.revision;
    const again = join(dir, 'again.db');
    const r = await runOurs(['snapshot', 'save', again, ...ep()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Snapshot saved at ${again}\n`);
    assert.match(r.stderr, new RegExp(`^Saved a snapshot of ${server.endpoint} at revision ${revision}: \\S+ \\S+ \\(\\d+ bytes, sha256 verified\\)\\n$`));
    assert.deepEqual(readdirSync(dir).sort(), ['again.db', 'backup.db']);
    assert.equal(statSync(again).size % 512, 32);
    assert.deepEqual(readFileSync(again), readFileSync(saved), 'two snapshots of an idle member are the same bytes');
  });

  it('status reads it: revision, keys, size, in every format', async () => {
    const revision = (await client.kv.get('x')).header!.revision;
    const json = await runOurs(['snapshot', 'status', saved, '-w', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as { hash: number; revision: number; totalKey: number; totalSize: number };
    assert.equal(BigInt(status.revision), revision);
    assert.ok(status.totalKey >= 49);
    assert.equal(status.totalSize, statSync(saved).size - 32);
    const simple = await runOurs(['snapshot', 'status', saved]);
    assert.match(simple.stdout, new RegExp(`^${status.hash.toString(16)}, ${status.revision}, ${status.totalKey}, \\d+(\\.\\d)? [kMG]?B\\n$`));
    const table = await runOurs(['snapshot', 'status', saved, '-w', 'table']);
    assert.match(Buffer.from(table.stdout, 'latin1').toString('utf8'), /HASH +│ REVISION │ TOTAL KEYS │ TOTAL SIZE/);
    const protobuf = normalise(await runOurs(['snapshot', 'status', saved, '-w', 'protobuf']));
    assert.deepEqual(protobuf, { code: 4, stdout: '', stderr: 'Error: protobuf not supported as output format\n' });
  });

  it('the real etcdctl saves the same snapshot from an etcdts member', async () => {
    const theirs = join(dir, 'by-etcdctl.db');
    const r = await runEtcdctl(['snapshot', 'save', theirs, ...ep()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Snapshot saved at ${theirs}\n`);
    const [a, b] = await Promise.all([runOurs(['snapshot', 'status', saved, '-w', 'json']), runOurs(['snapshot', 'status', theirs, '-w', 'json'])]);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout));
  });

  it('save refuses several endpoints and needs one argument, as etcdctl (exit 5, 128)', async () => {
    for (const args of [['snapshot', 'save', join(dir, 'x.db'), '--endpoints', `${server.endpoint},127.0.0.1:1`], ['snapshot', 'save']]) {
      const [theirs, ours] = [normalise(await runEtcdctl(args)), normalise(await runOurs(args))];
      assert.deepEqual(ours, theirs);
    }
    assert.equal(existsSync(join(dir, 'x.db')), false);
  });

  it('restore builds a data dir from which a new member serves every key with its revisions', async () => {
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const dataDir = join(tempDir('restored-'), 'r1.etcd');
    const args = ['snapshot', 'restore', saved, '--name', 'r1', '--data-dir', dataDir, '--initial-cluster', `r1=${peerUrl}`, '--initial-cluster-token', 'restored', '--initial-advertise-peer-urls', peerUrl];
    const r = await runOurs(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^Restored ${saved} at revision \\d+ into ${dataDir}: member [0-9a-f]+ "r1" of new cluster [0-9a-f]+\\n$`));
    const restored = startMember('etcdts', { name: 'r1', peerUrl, clientPort: await freePort(), initialCluster: `r1=${peerUrl}`, state: 'new', token: 'restored', dataDir });
    const restoredClient = await waitFor('the restored member to serve', async () => {
      const c = await Client.connect({ endpoints: [restored.clientUrl], dialTimeoutMs: 1000 }).catch(() => undefined);
      return c;
    }, 30000, 200);
    try {
      const status = JSON.parse((await runOurs(['snapshot', 'status', saved, '-w', 'json'])).stdout) as { revision: number };
      const atSnapshot = await client.kv.get('/data/', { prefix: true, revision: BigInt(status.revision) });
      const got = await waitFor('keys', async () => restoredClient.kv.get('/data/', { prefix: true, timeoutMs: 2000 }), 20000, 200);
      assert.equal(got.kvs.length, 49);
      assert.deepEqual(got.kvs, atSnapshot.kvs);
      assert.equal(got.header!.revision, BigInt(status.revision));
    } finally {
      restoredClient.close();
      await restored.stop();
    }
  });

  it('restore never writes into a non-empty data dir (etcdctl\'s message, exit 1)', async () => {
    const dataDir = tempDir('occupied-');
    writeFileSync(join(dataDir, 'something'), 'x');
    const r = normalise(await runOurs(['snapshot', 'restore', saved, '--data-dir', dataDir]));
    assert.deepEqual(r, { code: 1, stdout: '', stderr: `Error: data-dir "${dataDir}" exists\n` });
    assert.deepEqual(readdirSync(dataDir), ['something']);
  });

  it('restore --wal-dir puts the WAL there', async () => {
    const base = tempDir('waldir-');
    const [dataDir, walDir] = [join(base, 'd.etcd'), join(base, 'wal')];
    const r = await runOurs(['snapshot', 'restore', saved, '--data-dir', dataDir, '--wal-dir', walDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readdirSync(walDir).length > 0);
    assert.equal(existsSync(join(dataDir, 'member', 'wal')), false);
    assert.ok(existsSync(join(dataDir, 'member', 'snap', 'db')));
  });

  it('a truncated or bit-flipped snapshot is refused by status and restore with one line', async () => {
    const truncated = join(dir, 'truncated.db');
    copyFileSync(saved, truncated);
    truncateSync(truncated, Math.floor(statSync(saved).size / 2));
    const flipped = join(dir, 'flipped.db');
    const bytes = readFileSync(saved);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x10;
    writeFileSync(flipped, bytes);
    for (const file of [truncated, flipped]) {
      const status = await runOurs(['snapshot', 'status', file]);
      assert.equal(status.code, 1, file);
      assert.ok(oneErrorLine(status.stderr), status.stderr);
      const target = join(tempDir('bad-restore-'), 'x.etcd');
      const restore = await runOurs(['snapshot', 'restore', file, '--data-dir', target]);
      assert.equal(restore.code, 1, file);
      assert.ok(oneErrorLine(restore.stderr), restore.stderr);
      assert.equal(existsSync(target), false);
    }
  });

  it('against the real etcd, save writes the very bytes etcdctl writes; status reads them as etcdctl does', async () => {
    const etcd = await startRealEtcd();
    try {
      await runEtcdctl(['put', 'k', 'v', '--endpoints', etcd.endpoint]);
      const [bolt, ours] = [join(dir, 'etcd.db'), join(dir, 'etcd-by-etcdts.db')];
      assert.equal((await runEtcdctl(['snapshot', 'save', bolt, '--endpoints', etcd.endpoint])).code, 0);
      const r = await runOurs(['snapshot', 'save', ours, '--endpoints', etcd.endpoint]);
      assert.deepEqual({ code: r.code, stdout: r.stdout }, { code: 0, stdout: `Snapshot saved at ${ours}\n` });
      assert.deepEqual(readFileSync(ours), readFileSync(bolt));
      const status = normalise(await runOurs(['snapshot', 'status', bolt]));
      assert.deepEqual(status, normalise(await runEtcdctl(['snapshot', 'status', bolt])));
    } finally {
      await etcd.stop();
    }
  });

  describe('an interrupted save leaves no file at the target path', () => {
    before(async () => {
      // About 24 MB, so the transfer is still running when the test interrupts it.
      const value = Buffer.alloc(96 * 1024, 0x61);
      for (let i = 0; i < 256; i += 16) await Promise.all(Array.from({ length: 16 }, (_, j) => client.kv.put(`/big/${i + j}`, value)));
    });

    /** Starts a save, waits until data arrives, then freezes the server so the save cannot finish. */
    async function stalledSave(target: string): Promise<ReturnType<typeof start>> {
      const proc = start(process.execPath, [ourCliScript, 'snapshot', 'save', target, ...ep()]);
      await waitFor('the download to start', () => existsSync(`${target}.part`) && statSync(`${target}.part`).size > 0, 20000, 1);
      process.kill(server.proc.pid, 'SIGSTOP');
      return proc;
    }

    it('kill -9 mid-way', async () => {
      const target = join(dir, 'killed.db');
      const proc = await stalledSave(target);
      try {
        await kill9(proc);
      } finally {
        process.kill(server.proc.pid, 'SIGCONT');
      }
      assert.equal(existsSync(target), false);
    });

    it('Ctrl-C mid-way: exit 5, the partial file removed', async () => {
      const target = join(dir, 'interrupted.db');
      const proc = await stalledSave(target);
      let code: number | string;
      try {
        process.kill(proc.pid, 'SIGINT');
        code = await proc.exited;
      } finally {
        process.kill(server.proc.pid, 'SIGCONT');
      }
      assert.equal(code, 5);
      assert.match(proc.output(), /Error: snapshot save interrupted by SIGINT; nothing was saved at /);
      assert.equal(existsSync(target), false);
      assert.equal(existsSync(`${target}.part`), false);
    });
  });
});
