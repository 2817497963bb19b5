import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, start, tempDir, waitFor } from '../support/procs.js';
import { etcdBinary, requireRealEtcd, requireTool } from '../support/real-etcd.js';
import { normalise, runEtcdctl, runOurs, type CliRun } from './cli-harness.js';

/**
 * The TLS flags (--cacert, --cert, --key, --insecure-skip-tls-verify,
 * --insecure-transport=false, https:// endpoints) against a real etcd that
 * requires client certificates, with certificates made by openssl.
 */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=etcdts-test-ca');
  for (const name of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', 'san.cnf');
  }
}

describe('etcdts CLI against etcdctl 3.4.23 over TLS', function () {
  this.timeout(120000);
  let endpoint = '';
  let certs = '';

  before(async function () {
    requireRealEtcd();
    requireTool('/usr/bin/openssl', 'openssl');
    certs = tempDir('etcd-tls-');
    makeCertificates(certs);
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    endpoint = `https://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    start(etcdBinary, [
      '--name', 'tls', '--data-dir', join(certs, 'data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `tls=${peer}`,
      '--cert-file', join(certs, 'server.crt'), '--key-file', join(certs, 'server.key'),
      '--client-cert-auth', '--trusted-ca-file', join(certs, 'ca.crt'), '--log-level', 'error',
    ]);
    await waitFor('etcd to serve over TLS', async () => (await runEtcdctl(['endpoint', 'health', ...tlsFlags()])).code === 0, 20000, 100);
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const tlsFlags = (): string[] => ['--endpoints', endpoint, '--cacert', join(certs, 'ca.crt'), '--cert', join(certs, 'client.crt'), '--key', join(certs, 'client.key')];

  async function same(args: string[], input?: string): Promise<CliRun> {
    const [theirs, ours] = (await Promise.all([runEtcdctl(args, { input }), runOurs(args, { input })])).map(normalise) as [CliRun, CliRun];
    assert.deepEqual(ours, theirs);
    return ours;
  }

  it('puts and gets with a CA and a client certificate', async () => {
    await same(['put', 'tls-a', 'one', ...tlsFlags()]);
    const ours = await same(['get', 'tls-', '--prefix', ...tlsFlags()]);
    assert.equal(ours.stdout, 'tls-a\none\n');
  });

  it('uses TLS for a bare host:port with --insecure-transport=false', async () => {
    const flags = tlsFlags();
    flags[1] = endpoint.replace('https://', '');
    await same(['get', 'tls-a', '--insecure-transport=false', ...flags]);
  });

  it('skips server verification with --insecure-skip-tls-verify', async () => {
    await same(['get', 'tls-a', '--endpoints', endpoint, '--insecure-skip-tls-verify', '--cert', join(certs, 'client.crt'), '--key', join(certs, 'client.key')]);
  });

  it('fails without a client certificate, saying why', async () => {
    const args = ['get', 'tls-a', '--endpoints', endpoint, '--cacert', join(certs, 'ca.crt'), '--dial-timeout', '1s', '--command-timeout', '1s'];
    const [theirs, ours] = (await Promise.all([runEtcdctl(args), runOurs(args)])).map(normalise) as [CliRun, CliRun];
    assert.equal(ours.code, theirs.code);
    assert.match(ours.stderr, /^Error: context deadline exceeded \(https:\/\/127\.0\.0\.1:\d+: TLS handshake failed: .*\)\n$/);
  });

  it('reports a missing certificate file like etcdctl (exit 128)', async () => {
    await same(['get', 'tls-a', '--endpoints', endpoint, '--cacert', join(certs, 'missing.crt')]);
  });
});
