import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { op } from '../../src/client/txn.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { killAll, removeTempDirs, start, waitFor, type Spawned } from '../support/procs.js';
import { requireRealEtcd, startRealEtcd, type RealEtcd } from '../support/real-etcd.js';
import { normalise, ourCliScript, runEtcdctl, runOurs } from './cli-harness.js';

/**
 * make-mirror from the real etcd 3.4.23 into etcdts (the migration path):
 * every key under the prefix arrives, later puts, deletes and txns follow
 * in order, nothing outside the prefix is copied. And `check perf` /
 * `check datascale` run their workloads and print etcdctl's verdict lines
 * (no timing is asserted: the verdict depends on the machine).
 */
describe('make-mirror and check', function () {
  this.timeout(180000);
  let etcd: RealEtcd;
  let etcdts: EtcdtsMember;
  let source: Client;
  let dest: Client;

  before(async function () {
    requireRealEtcd();
    [etcd, etcdts] = await Promise.all([startRealEtcd(), startEtcdts()]);
    [source, dest] = await Promise.all([Client.connect({ endpoints: [etcd.endpoint] }), Client.connect({ endpoints: [etcdts.endpoint] })]);
  });

  after(async () => {
    source?.close();
    dest?.close();
    await killAll();
    removeTempDirs();
  });

  const keyCount = async (client: Client, prefix: string): Promise<bigint> => (await client.kv.get(prefix, { prefix: true, countOnly: true })).count;

  describe('make-mirror from etcd into etcdts', () => {
    let mirror: Spawned;

    before(async () => {
      for (let i = 0; i < 1500; i += 100) {
        await source.kv.txn({ success: Array.from({ length: 100 }, (_, j) => op.put(`/app/k${String(i + j).padStart(4, '0')}`, `v${i + j}`)) });
      }
      await source.kv.put('/other/outside', 'not mirrored');
      mirror = start(process.execPath, [ourCliScript, 'make-mirror', '--prefix', '/app/', '--endpoints', etcd.endpoint, '--report-interval', '300ms', etcdts.endpoint]);
    });

    it('copies every key under the prefix, and nothing else', async () => {
      await waitFor('1500 keys at the destination', async () => (await keyCount(dest, '/app/')) === 1500n, 60000, 200);
      const [theirs, ours] = await Promise.all([source.kv.get('/app/', { prefix: true }), dest.kv.get('/app/', { prefix: true })]);
      assert.deepEqual(ours.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]), theirs.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
      assert.equal(await keyCount(dest, '/other/'), 0n);
    });

    it('follows later puts, deletes and txns, in order', async () => {
      await source.kv.put('/app/new', 'hello');
      await source.kv.delete('/app/k0001');
      await source.kv.txn({ success: [op.put('/app/k0002', 'changed'), op.delete('/app/k0003')] });
      for (let i = 0; i < 20; i++) await source.kv.put('/app/counter', String(i));
      await source.kv.delete('/app/k01', { prefix: true });
      await source.kv.put('/other/later', 'not mirrored');
      await waitFor('the updates at the destination', async () => (await dest.kv.get('/app/counter')).kvs[0]?.value.toString() === '19' && (await keyCount(dest, '/app/k01')) === 0n, 30000, 100);
      const [theirs, ours] = await Promise.all([source.kv.get('/app/', { prefix: true }), dest.kv.get('/app/', { prefix: true })]);
      assert.deepEqual(ours.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]), theirs.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
      assert.equal((await dest.kv.get('/app/k0002')).kvs[0]!.value.toString(), 'changed');
      assert.equal(await keyCount(dest, '/other/'), 0n);
    });

    it('prints the number of keys synced periodically, and stops on Ctrl-C', async () => {
      // 1500 base keys, then 1 + 1 + 2 + 20 changes and the 100 keys of the prefix delete.
      await waitFor('a report of every change', () => mirror.output().split('\n').includes('1624'), 10000, 100);
      assert.match(mirror.output(), /^(\d+\n)+$/);
      process.kill(mirror.pid, 'SIGINT');
      assert.equal(await mirror.exited, 0);
    });
  });

  it('make-mirror --dest-prefix puts the keys under another prefix', async () => {
    await source.kv.txn({ success: Array.from({ length: 10 }, (_, i) => op.put(`/cfg/${i}`, `c${i}`)) });
    const proc = start(process.execPath, [ourCliScript, 'make-mirror', '--prefix', '/cfg/', '--dest-prefix', '/copy/cfg/', '--endpoints', etcd.endpoint, etcdts.endpoint]);
    try {
      await waitFor('10 keys under /copy/cfg/', async () => (await keyCount(dest, '/copy/cfg/')) === 10n, 30000, 100);
      assert.equal((await dest.kv.get('/copy/cfg/3')).kvs[0]!.value.toString(), 'c3');
      assert.equal(await keyCount(dest, '/cfg/'), 0n);
    } finally {
      process.kill(proc.pid, 'SIGINT');
      await proc.exited;
    }
  });

  it('make-mirror argument errors are etcdctl\'s', async () => {
    for (const args of [['make-mirror'], ['make-mirror', 'a', 'b']]) {
      assert.deepEqual(normalise(await runOurs(args)), normalise(await runEtcdctl(args)), args.join(' '));
    }
    const both = ['make-mirror', '--dest-prefix', 'x', '--no-dest-prefix', '--endpoints', etcd.endpoint, etcdts.endpoint];
    assert.deepEqual(normalise(await runOurs(both)), { code: 128, stdout: '', stderr: 'Error: `--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one\n' });
  });

  describe('check', () => {
    it('check perf runs its load, prints etcdctl\'s verdict lines and removes its keys', async () => {
      const r = await runOurs(['check', 'perf', '--duration', '3s', '--auto-compact', '--auto-defrag', '--endpoints', etcdts.endpoint], { timeoutMs: 60000 });
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0]!, /^Compacting with revision \d+$/);
      assert.match(lines[1]!, /^Compacted with revision \d+$/);
      assert.deepEqual(lines.slice(2, 4), [`Defragmenting "${etcdts.endpoint}"`, `Defragmented "${etcdts.endpoint}"`]);
      const verdict = lines.slice(4);
      assert.match(verdict.join('\n'), /(PASS: Throughput is|FAIL: Throughput too low:) \d+ writes\/s\n(PASS: Slowest request took|Slowest request took too long:) \d+\.\d{6}s\n(PASS: Stddev is|Stddev too high:) \d+\.\d{6}s\n(PASS|FAIL)$/);
      assert.equal(r.code, verdict[verdict.length - 1] === 'PASS' ? 0 : 1);
      assert.match(r.stderr, /^latency p50 \S+, p90 \S+, p99 \S+, max \S+ over \d+ requests\n$/);
      assert.equal(await keyCount(dest, '/etcdctl-check-perf/'), 0n);
    });

    it('check perf refuses a prefix that has keys, and an unknown load, as etcdctl', async () => {
      await dest.kv.put('/etcdctl-check-perf/leftover', 'x');
      try {
        for (const args of [['check', 'perf'], ['check', 'perf', '--load', 'huge'], ['check', 'datascale', '--load', 'huge']]) {
          const withEndpoint = [...args, '--endpoints', etcdts.endpoint];
          assert.deepEqual(normalise(await runOurs(withEndpoint)), normalise(await runEtcdctl(withEndpoint)), args.join(' '));
        }
      } finally {
        await dest.kv.delete('/etcdctl-check-perf/leftover');
      }
    });

    it('check datascale writes its keys, reports the memory used and removes them', async () => {
      // It reads process_resident_memory_bytes from the member's /metrics, which the real etcd serves.
      const r = await runOurs(['check', 'datascale', '--endpoints', etcd.endpoint], { timeoutMs: 120000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Start data scale check for work load \[10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients\]\.\nPASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$/);
      assert.equal(await keyCount(source, '/etcdctl-check-datascale/'), 0n);
    });
  });
});
