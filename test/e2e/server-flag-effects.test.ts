import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { startCluster } from '../support/cluster.js';
import { killAll, removeTempDirs, tempDir, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';

async function metric(member: EtcdtsMember, name: string): Promise<number> {
  const text = await (await fetch(`${member.endpoint}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m !== null, `${name} in /metrics`);
  return Number(m[1]);
}

async function puts(member: EtcdtsMember, n: number): Promise<void> {
  const kv = new RawKv(member.endpoint);
  for (let i = 0; i < n; i++) await kv.put({ key: `k${i}`, value: Buffer.from(String(i)) });
  kv.close();
}

describe('member flags take effect', function () {
  this.timeout(120000);
  afterEach(killAll);
  after(removeTempDirs);

  it('--backend-batch-limit=1 commits the backend after every write; a long --backend-batch-interval with a large limit defers them', async () => {
    const eager = await startEtcdts({ extraArgs: ['--backend-batch-limit=1'] });
    const lazy = await startEtcdts({ extraArgs: ['--backend-batch-interval=1h', '--backend-batch-limit=100000'] });
    const before = [await metric(eager, 'etcd_disk_backend_commit_duration_seconds_count'), await metric(lazy, 'etcd_disk_backend_commit_duration_seconds_count')];
    await puts(eager, 20);
    await puts(lazy, 20);
    assert.ok(await metric(eager, 'etcd_disk_backend_commit_duration_seconds_count') - before[0]! >= 20);
    assert.equal(await metric(lazy, 'etcd_disk_backend_commit_duration_seconds_count') - before[1]!, 0);
  });

  it('--unsafe-no-fsync: the WAL is written without a single fsync', async () => {
    const safe = await startEtcdts();
    const unsafe = await startEtcdts({ extraArgs: ['--unsafe-no-fsync'] });
    await puts(safe, 5);
    await puts(unsafe, 5);
    assert.ok(await metric(safe, 'etcd_disk_wal_fsync_duration_seconds_count') > 0);
    assert.equal(await metric(unsafe, 'etcd_disk_wal_fsync_duration_seconds_count'), 0);
  });

  it('--snapshot-count takes a snapshot every N entries; --max-snapshots keeps that many files (0 keeps all)', async () => {
    const snaps = (m: EtcdtsMember): string[] => readdirSync(join(m.dataDir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
    const kept = await startEtcdts({ extraArgs: ['--snapshot-count=5', '--max-snapshots=2'] });
    const all = await startEtcdts({ extraArgs: ['--snapshot-count=5', '--max-snapshots=0'] });
    await puts(kept, 40);
    await puts(all, 40);
    await waitFor('snapshots of every 5 entries', () => snaps(all).length >= 5, 20000, 100);
    assert.ok(snaps(kept).length <= 2, snaps(kept).join(','));
    assert.ok(snaps(kept).length >= 1);
  });

  it('--initial-election-tick-advance fast-forwards the first election once peers connect, and not when false', async () => {
    for (const advance of [true, false]) {
      const cluster = await startCluster({ size: 3, logLevel: 'info', extraArgs: [`--initial-election-tick-advance=${advance}`] });
      const out = cluster.members[0]!.proc!.output();
      if (advance) await waitFor('the advance', () => cluster.members[0]!.proc!.output().includes('initialized peer connections; fast-forwarding election ticks'), 10000, 100);
      else assert.match(out, /"msg":"skipping initial election tick advance"/);
      await cluster.stopAll();
    }
  });

  it('--log-outputs writes to a file; --log-format=console writes zap console lines', async () => {
    const file = join(tempDir('logs-'), 'etcd.log');
    const member = await startEtcdts({ extraArgs: ['--log-level=info', `--log-outputs=${file}`, '--log-format=console'] });
    await waitFor('the log file', () => existsSync(file) && readFileSync(file, 'utf8').includes('ready to serve client requests'), 10000, 100);
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.includes('ready to serve client requests'))!;
    assert.match(line, /^\S+\tinfo\t[\w.-]+\/[\w.-]+\.js:\d+\tready to serve client requests$/);
    assert.ok(!member.proc.output().includes('ready to serve client requests'), 'nothing on stderr');
  });

  it('--enable-pprof serves a CPU profile and a heap snapshot under /debug/pprof/', async () => {
    const member = await startEtcdts({ extraArgs: ['--enable-pprof'] });
    const profile = await (await fetch(`${member.endpoint}/debug/pprof/profile?seconds=1`)).json() as { nodes: unknown[] };
    assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0);
    const heap = await (await fetch(`${member.endpoint}/debug/pprof/heap`)).json() as { snapshot: { node_count: number } };
    assert.ok(heap.snapshot.node_count > 0);
    const off = await startEtcdts();
    assert.equal((await fetch(`${off.endpoint}/debug/pprof/heap`)).status, 404);
  });
});
