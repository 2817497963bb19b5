import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs, run, tempDir } from '../support/procs.js';

/**
 * etcdctl 3.4 dials its per-endpoint maintenance calls with the endpoint
 * exactly as typed, so `--endpoints http://127.0.0.1:port` puts
 * "http://127.0.0.1:port" in `:authority`. These run the real etcdctl both
 * ways against our server (our HPACK decoding takes any :authority).
 */
describe('etcdctl endpoints with a scheme (:authority as etcdctl writes it)', function () {
  this.timeout(120000);
  let member: EtcdtsMember;

  before(async function () {
    requireRealEtcd();
    member = await startEtcdts();
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const withScheme = (...args: string[]) => run(etcdctlBinary, ['--endpoints', member.endpoint, ...args]);
  const withoutScheme = (...args: string[]) => run(etcdctlBinary, ['--endpoints', `127.0.0.1:${member.clientPort}`, ...args]);

  it('endpoint hashkv answers on an http:// endpoint, with the same hash as on host:port', async () => {
    assert.equal((await withScheme('put', 'a', '1')).code, 0);
    const viaUrl = await withScheme('endpoint', 'hashkv', '-w', 'json');
    assert.equal(viaUrl.code, 0, viaUrl.stderr);
    const viaHost = await withoutScheme('endpoint', 'hashkv', '-w', 'json');
    assert.equal(viaHost.code, 0, viaHost.stderr);
    const hash = (stdout: string): number => JSON.parse(stdout)[0].HashKV.hash;
    assert.equal(hash(viaUrl.stdout), hash(viaHost.stdout));
    assert.equal(JSON.parse(viaUrl.stdout)[0].Endpoint, member.endpoint);
  });

  it('defrag answers on an http:// endpoint', async () => {
    const result = await withScheme('defrag');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `Finished defragmenting etcd member[${member.endpoint}]\n`);
  });

  it('endpoint status and snapshot save answer on an http:// endpoint', async () => {
    const status = await withScheme('endpoint', 'status', '-w', 'json');
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout)[0].Endpoint, member.endpoint);
    const file = join(tempDir('authority-'), 'snap.db');
    const saved = await withScheme('snapshot', 'save', file);
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stdout, /Snapshot saved at/);
  });

  it('keeps serving ordinary requests on both kinds of endpoint', async () => {
    assert.equal((await withScheme('put', 'b', '2')).code, 0);
    assert.equal((await withoutScheme('get', 'b', '--print-value-only')).stdout, '2\n');
    assert.equal((await withScheme('get', 'a', '--print-value-only')).stdout, '1\n');
  });
});
