import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { startEtcdts, runJs, type EtcdtsMember } from '../support/etcdts.js';
import { etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs, run, start, tempDir, waitFor } from '../support/procs.js';

/**
 * The client port on our own gRPC transport (src/server/api/grpc-server),
 * driven by clients that frame HTTP/2 each their own way: the real etcdctl
 * (grpc-go), the grpc-js client, and the benchmark's hand-made framing.
 */

const id = (b: Buffer) => b;
const probeService = {
  call: { path: '/nope.Service/Call', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
};
const ProbeClient = makeGenericClientConstructor(probeService, 'Probe');

/** The status an unknown method gets: it tells which transport answered. */
function unknownMethodStatus(member: EtcdtsMember): Promise<{ code: number; details: string }> {
  const client = new ProbeClient(`127.0.0.1:${member.clientPort}`, credentials.createInsecure()) as unknown as {
    call: (req: Buffer, cb: (err: ServiceError | null) => void) => void; close(): void;
  };
  return new Promise((resolve) => {
    client.call(Buffer.alloc(0), (err) => {
      client.close();
      resolve({ code: err?.code ?? 0, details: err?.details ?? '' });
    });
  });
}

/** The server's first SETTINGS frame, read over a raw connection. */
function serverSettings(port: number): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    let bytes = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (bytes.length < 9 || bytes.length < 9 + bytes.readUIntBE(0, 3)) return;
      const settings = new Map<number, number>();
      for (let p = 9; p < 9 + bytes.readUIntBE(0, 3); p += 6) settings.set(bytes.readUInt16BE(p), bytes.readUInt32BE(p + 2));
      socket.destroy();
      resolve(settings);
    });
    socket.on('error', reject);
  });
}

describe('the client port on our gRPC transport', function () {
  this.timeout(120000);
  let member: EtcdtsMember;
  const etcdctl = (...args: string[]) => run(etcdctlBinary, ['--endpoints', member.endpoint, ...args]);

  before(async () => {
    member = await startEtcdts();
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('answers with our transport: its SETTINGS and grpc-go\'s status text for an unknown service', async () => {
    const settings = await serverSettings(member.clientPort);
    assert.equal(settings.get(3), 2 ** 32 - 1, 'SETTINGS_MAX_CONCURRENT_STREAMS: etcd --max-concurrent-streams default');
    assert.deepEqual(await unknownMethodStatus(member), { code: 12, details: 'unknown service nope.Service' });
  });

  describe('the real etcdctl (grpc-go)', function () {
    before(function () {
      requireRealEtcd();
    });

    it('puts, gets and runs a txn, on an http:// endpoint and on host:port', async () => {
      assert.equal((await etcdctl('put', 'k1', 'v1')).stdout, 'OK\n');
      const txn = await run(etcdctlBinary, ['--endpoints', `127.0.0.1:${member.clientPort}`, 'txn'], { input: 'value("k1") = "v1"\n\nput k1 v2\n\nput k1 v3\n\n' });
      assert.equal(txn.stdout, 'SUCCESS\n\nOK\n');
      const got = await etcdctl('get', 'k1', '-w', 'json');
      assert.equal(Buffer.from(JSON.parse(got.stdout).kvs[0].value, 'base64').toString(), 'v2');
    });

    it('watches: a put made meanwhile arrives on the watch stream', async () => {
      const watcher = start(etcdctlBinary, ['--endpoints', member.endpoint, 'watch', 'w1']);
      // etcdctl prints nothing when its watch is created: put until one value comes through.
      let n = 0;
      await waitFor('a put to reach the watch', async () => {
        assert.equal((await etcdctl('put', 'w1', `seen-${n++}`)).code, 0);
        return watcher.output().includes('seen-');
      }, 30_000, 200);
      await waitFor('the last put to arrive', () => watcher.output().includes(`seen-${n - 1}\n`), 10_000);
      const values = watcher.output().split('\n').filter((l) => l !== '');
      // Every put made after the watch was created, in order, each as etcdctl prints it.
      const first = Number(/seen-(\d+)/.exec(values[2]!)?.[1]);
      const expected = Array.from({ length: n - first }, (_, i) => ['PUT', 'w1', `seen-${first + i}`]).flat();
      assert.deepEqual(values, expected);
    });

    it('grants a lease, keeps it alive over the stream, and reads its TTL', async () => {
      const grant = await etcdctl('lease', 'grant', '60');
      const lease = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1];
      assert(lease !== undefined, grant.stdout + grant.stderr);
      const keep = await etcdctl('lease', 'keep-alive', '--once', lease);
      assert.equal(keep.stdout, `lease ${lease} keepalived with TTL(60)\n`);
      assert.match((await etcdctl('lease', 'timetolive', lease)).stdout, /granted with TTL\(60s\)/);
    });

    it('saves a snapshot (server streaming), lists members, reports endpoint status and hashkv', async () => {
      for (let i = 0; i < 200; i++) await etcdctl('put', `s${i}`, 'x'.repeat(2000)).then((r) => assert.equal(r.code, 0));
      const file = join(tempDir('grpc-server-e2e-'), 'snap.db');
      const saved = await etcdctl('snapshot', 'save', file);
      assert.equal(saved.code, 0, saved.stderr);
      // The file is ours (not bbolt): our CLI checks it, integrity hash included.
      const status = await run(process.execPath, [runJs, 'snapshot', 'status', file, '-w', 'json']);
      assert(JSON.parse(status.stdout).totalKey >= 200, status.stdout + status.stderr);
      assert.match((await etcdctl('member', 'list')).stdout, /started, default, /);
      const endpoint = JSON.parse((await etcdctl('endpoint', 'status', '-w', 'json')).stdout);
      assert.equal(endpoint[0].Endpoint, member.endpoint);
      assert.equal(endpoint[0].Status.version, '3.4.23');
      assert.equal((await etcdctl('endpoint', 'hashkv')).code, 0);
    });

    it('prints our error text like etcd\'s for a rejected request', async () => {
      const result = await etcdctl('put', '', 'v');
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /etcdserver: key is not provided/);
    });
  });

  it('serves the benchmark client (its own HTTP/2 framing) without errors', async () => {
    const result = await run(process.execPath, [
      runJs, 'benchmark', 'put', '--endpoints', `127.0.0.1:${member.clientPort}`, '--conns', '4', '--clients', '32',
      '--total', '3000', '--val-size', '256', '--transport', 'frames', '-w', 'json',
    ], { timeoutMs: 60000 });
    assert.equal(result.code, 0, result.stderr);
    const { stats } = JSON.parse(result.stdout);
    assert.deepEqual(stats.errors, {});
    assert.equal(stats.count, 3000);
  });

  it('delivers every watch event to the benchmark\'s watch streams, once and in order', async () => {
    const result = await run(process.execPath, [
      runJs, 'benchmark', 'watch-latency', '--endpoints', `127.0.0.1:${member.clientPort}`, '--conns', '2', '--streams', '4',
      '--watchers-per-stream', '5', '--put-total', '300', '--put-rate', '0', '--put-clients', '4', '-w', 'json',
    ], { timeoutMs: 60000 });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout);
    assert.deepEqual([report.missed, report.duplicated, report.outOfOrder], [0, 0, 0]);
  });
});
