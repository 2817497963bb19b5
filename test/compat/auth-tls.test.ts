import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEtcdts } from '../support/etcdts.js';
import { TestPki, type IssuedCertificate } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, start, tempDir, waitFor } from '../support/procs.js';
import { etcdBinary, requireRealEtcd } from '../support/real-etcd.js';
import { normaliseStderr, runEtcdctl, type CliRun } from './cli-harness.js';

/**
 * With --client-cert-auth, a verified client certificate's CN is the user of
 * a request without a token, as in etcd: the same script of the real
 * etcdctl 3.4.23, with a certificate per user, against etcd and etcdts over
 * TLS, must print the same and exit the same.
 */
describe('certificate CNs as users (--client-cert-auth), etcdts against etcd 3.4.23', function () {
  this.timeout(120000);
  let pki: TestPki;
  const endpoints: Record<'etcd' | 'etcdts', string> = { etcd: '', etcdts: '' };
  const certs: Record<string, IssuedCertificate> = {};

  before(async function () {
    requireRealEtcd();
    pki = new TestPki();
    const server = pki.issue('server');
    for (const user of ['root', 'alice', 'nobody']) certs[user] = pki.issue(user);
    const flags = ['--cert-file', server.cert, '--key-file', server.key, '--trusted-ca-file', pki.caFile, '--client-cert-auth'];
    const member = await startEtcdts({ clientScheme: 'https', extraArgs: flags });
    endpoints.etcdts = member.endpoint;
    const [client, peer] = [await freePort(), await freePort()];
    endpoints.etcd = `https://127.0.0.1:${client}`;
    start(etcdBinary, ['--name', 'ref', '--data-dir', join(tempDir('ref-cn-'), 'd'), '--listen-client-urls', endpoints.etcd, '--advertise-client-urls', endpoints.etcd,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `ref=http://127.0.0.1:${peer}`,
      '--log-level', 'error', ...flags]);
    await waitFor('etcd to serve over TLS', async () => (await as('etcd', 'root', ['endpoint', 'health'])).code === 0, 20000, 100);
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  function as(server: 'etcd' | 'etcdts', user: string, args: string[]): Promise<CliRun> {
    const cert = certs[user]!;
    return runEtcdctl(['--endpoints', endpoints[server], '--cacert', pki.caFile, '--cert', cert.cert, '--key', cert.key, '--dial-timeout', '3s', ...args]);
  }

  const steps: Array<[user: string, args: string[]]> = [
    ['root', ['user', 'add', 'root', '--new-user-password', 'rootpw']],
    ['root', ['role', 'add', 'root']],
    ['root', ['user', 'grant-role', 'root', 'root']],
    ['root', ['user', 'add', 'alice', '--no-password']],
    ['root', ['role', 'add', 'reader']],
    ['root', ['role', 'grant-permission', 'reader', 'read', 'app/', '--prefix']],
    ['root', ['user', 'grant-role', 'alice', 'reader']],
    ['root', ['put', 'app/x', 'visible']],
    ['root', ['put', 'other', 'hidden']],
    ['root', ['auth', 'enable']],
    ['alice', ['get', 'app/x']],
    ['alice', ['get', 'app/', '--prefix', '-w', 'json']],
    ['alice', ['put', 'app/x', 'changed']],
    ['alice', ['get', 'other']],
    ['alice', ['member', 'list']],
    ['alice', ['user', 'list']],
    // etcd answers "password was given for no password user", telling a guesser the user exists; we
    // answer as to any failed login (the exit code is the same).
    ['alice', ['--user', 'alice:guess', 'get', 'app/x']],
    ['nobody', ['get', 'app/x']],
    ['root', ['get', 'other']],
    ['root', ['user', 'get', 'alice']],
    ['root', ['auth', 'disable']],
    ['nobody', ['get', 'other']],
  ];

  it('gives every user exactly what etcd gives it', async () => {
    for (const [user, args] of steps) {
      const [theirs, ours] = await Promise.all([as('etcd', user, args), as('etcdts', user, args)]);
      // Member lists name different members and URLs: what must agree is that the call was allowed, and how many.
      const stdout = (r: CliRun) => (args[0] === 'member' ? `${r.stdout.split('\n').length} lines` : r.stdout.replace(/"(cluster_id|member_id|raft_term)":\d+/g, '"$1":0'));
      const shown = (r: CliRun) => ({ code: r.code, stdout: stdout(r), stderr: normaliseStderr(r.stderr) });
      const expected = shown(theirs);
      if (args.includes('alice:guess')) expected.stderr = 'Error: etcdserver: authentication failed, invalid user ID or password\n';
      assert.deepEqual(shown(ours), expected, `as ${user}: etcdctl ${args.join(' ')}`);
    }
  });
});
