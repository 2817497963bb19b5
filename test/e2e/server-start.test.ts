import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcdts, runJs, portOpen } from '../support/etcdts.js';
import { defaultPortNetwork } from '../support/netns.js';
import { killAll, removeTempDirs, run, start, tempDir, waitFor } from '../support/procs.js';
import { freePort } from '../support/ports.js';
import { RawKv } from '../support/raw-kv.js';

describe('etcdts server: startup, flags and shutdown', function () {
  this.timeout(60000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('starts with no flags at all on 127.0.0.1:2379 with data in ./default.etcd', async () => {
    // The default port must be ours whatever this machine runs: see support/netns.ts.
    const net = await defaultPortNetwork();
    try {
      const cwd = tempDir('default-start-');
      const proc = net.start(process.execPath, [runJs, 'server'], { cwd });
      await waitFor(`the default member to listen in ${net.where}`, () => net.portOpen(2379), 30000, 100);
      // The CLI with no --endpoints talks to the same default endpoint.
      const put = await net.run(process.execPath, [runJs, 'put', 'foo', 'bar']);
      assert.deepEqual({ code: put.code, stdout: put.stdout }, { code: 0, stdout: 'OK\n' }, put.stderr);
      const got = await net.run(process.execPath, [runJs, 'get', 'foo', '--print-value-only']);
      assert.deepEqual({ code: got.code, stdout: got.stdout }, { code: 0, stdout: 'bar\n' }, got.stderr);
      assert.ok(existsSync(join(cwd, 'default.etcd', 'member')));
      proc.child.kill('SIGTERM');
      assert.equal(await proc.exited, 0);
    } finally {
      await net.close();
    }
  });

  it('takes every setting from ETCD_* environment variables', async () => {
    const port = await freePort();
    const dataDir = join(tempDir('env-'), 'from-env');
    const proc = start(process.execPath, [runJs, 'server'], {
      env: { ...process.env, ETCD_NAME: 'envy', ETCD_DATA_DIR: dataDir, ETCD_LISTEN_CLIENT_URLS: `http://127.0.0.1:${port}`, ETCD_LISTEN_PEER_URLS: `http://127.0.0.1:${await freePort()}`, ETCD_LOG_LEVEL: 'error' },
    });
    await waitFor('the env-configured member', () => portOpen(port), 30000);
    const kv = new RawKv(`127.0.0.1:${port}`);
    await kv.put({ key: 'k', value: Buffer.from('v') });
    kv.close();
    assert.ok(existsSync(join(dataDir, 'member', 'snap', 'db')));
    proc.child.kill('SIGINT');
    assert.equal(await proc.exited, 0);
  });

  it('shuts down cleanly on SIGINT and SIGTERM and keeps the data', async () => {
    const member = await startEtcdts();
    const kv = new RawKv(member.endpoint);
    await kv.put({ key: 'kept', value: Buffer.from('yes') });
    kv.close();
    member.proc.child.kill('SIGINT');
    assert.equal(await member.proc.exited, 0);
    await member.restart();
    const again = new RawKv(member.endpoint);
    assert.equal((await again.range({ key: 'kept' })).kvs[0]?.value.toString(), 'yes');
    again.close();
    member.proc.child.kill('SIGTERM');
    assert.equal(await member.proc.exited, 0);
  });

  const badFlags: Array<[string, string[], RegExp]> = [
    ['an unknown cluster state', ['--initial-cluster-state', 'sideways'], /initial-cluster-state/],
    ['an invalid client URL', ['--listen-client-urls', 'not a url'], /listen-client-urls/],
    ['a name missing from the initial cluster', ['--name', 'x', '--initial-cluster', 'y=http://127.0.0.1:1'], /couldn't find local name "x"/],
    ['an election timeout shorter than 5 heartbeats', ['--heartbeat-interval', '100', '--election-timeout', '200'], /election-timeout/],
    ['a non-numeric snapshot count', ['--snapshot-count', 'many'], /snapshot-count/],
  ];
  for (const [name, args, message] of badFlags) {
    it(`refuses ${name} with a one-line error and a non-zero exit`, async () => {
      const dir = tempDir('badflag-');
      const result = await run(process.execPath, [runJs, 'server', '--data-dir', join(dir, 'd'), ...args]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes('    at '), `no stack trace expected:\n${result.stderr}`);
    });
  }

  it('answers /health and /version on the client port beside gRPC', async () => {
    const member = await startEtcdts();
    const health = await fetch(`${member.endpoint}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { health: 'true' });
    const version = await (await fetch(`${member.endpoint}/version`)).json() as Record<string, string>;
    assert.equal(version['etcdserver'], '3.4.23');
    const r = await run(process.execPath, [runJs, '--endpoints', member.endpoint, 'endpoint', 'health']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /is healthy: successfully committed proposal/);
    await member.stop();
  });
});
