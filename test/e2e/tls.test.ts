import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { Client } from '../../src/client/client.js';
import { startEtcdts, runJs, type EtcdtsMember } from '../support/etcdts.js';
import { TestPki, hoursFromNow, type IssuedCertificate } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, run, tempDir, waitFor } from '../support/procs.js';
import { etcdBinary, etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';
import { probePlainHttp2, probeTls } from '../support/tls-probe.js';

const read = (path: string): Buffer => readFileSync(path);
const etcdctl = (args: string[], timeoutMs = 20000) => run(etcdctlBinary, args, { timeoutMs });
const ours = (args: string[], options: { cwd?: string } = {}) => run(process.execPath, [runJs, ...args], { timeoutMs: 20000, ...options });

/** The client-side flags of etcdctl and the etcdts CLI for a certificate. */
function clientFlags(pki: TestPki, client?: IssuedCertificate): string[] {
  return ['--cacert', pki.caFile, ...(client === undefined ? [] : ['--cert', client.cert, '--key', client.key])];
}

/** Log lines (JSON) of a member whose msg is `msg`. */
function logLines(member: EtcdtsMember, msg: string): Array<Record<string, unknown>> {
  return member.proc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

describe('TLS on the client port', function () {
  this.timeout(120000);
  before(function () {
    requireRealEtcd();
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  describe('with --client-cert-auth, a trusted CA and a CRL', () => {
    let pki: TestPki;
    let member: EtcdtsMember;
    let client: IssuedCertificate;
    let revoked: IssuedCertificate;

    before(async () => {
      pki = new TestPki();
      const server = pki.issue('server');
      client = pki.issue('client');
      revoked = pki.issue('revoked-client');
      const crl = pki.crl([revoked.serial]);
      member = await startEtcdts({
        clientScheme: 'https',
        extraArgs: ['--cert-file', server.cert, '--key-file', server.key, '--trusted-ca-file', pki.caFile, '--client-cert-auth', '--client-crl-file', crl, '--log-level', 'info'],
      });
    });

    it('serves a client with a certificate from the trusted CA: etcdctl, the etcdts CLI, the etcd3 npm client and our client library', async () => {
      const put = await etcdctl(['--endpoints', member.endpoint, ...clientFlags(pki, client), 'put', 'tls-key', 'from etcdctl']);
      assert.equal(put.stdout, 'OK\n', put.stderr);
      const get = await ours(['--endpoints', member.endpoint, ...clientFlags(pki, client), 'get', 'tls-key', '--print-value-only']);
      assert.equal(get.stdout, 'from etcdctl\n', get.stderr);
      const etcd3 = new Etcd3({ hosts: member.endpoint, credentials: { rootCertificate: read(pki.caFile), privateKey: read(client.key), certChain: read(client.cert) } });
      try {
        await etcd3.put('tls-key').value('from etcd3');
        assert.equal(await etcd3.get('tls-key').string(), 'from etcd3');
      } finally {
        etcd3.close();
      }
      const library = await Client.connect({ endpoints: [member.endpoint], tls: { ca: read(pki.caFile), cert: read(client.cert), key: read(client.key) } });
      try {
        assert.equal((await library.kv.get('tls-key')).kvs[0]?.value.toString(), 'from etcd3');
      } finally {
        library.close();
      }
    });

    it('refuses a client without a certificate, with one from another CA, with a revoked one, or with an expired one', async () => {
      const other = new TestPki('another-ca').issue('stranger');
      const expired = pki.issue('expired-client', { notBefore: hoursFromNow(-48), notAfter: hoursFromNow(-1) });
      // OpenSSL refuses the first three in the handshake (its alert tells the client why); the CRL is
      // checked after it, as etcd does, with the revoked serial in the log.
      const cases: Array<[string, IssuedCertificate | undefined, RegExp | undefined]> = [
        ['no certificate', undefined, undefined],
        ['another CA', other, undefined],
        ['expired', expired, undefined],
        ['revoked', revoked, new RegExp(`certificate serial ${revoked.serial.toString(16)} revoked`)],
      ];
      for (const [what, cert, logged] of cases) {
        const rejectionsBefore = logLines(member, 'rejected connection').length;
        const probe = await probeTls(member.clientPort, { ca: read(pki.caFile), ...(cert === undefined ? {} : { cert: read(cert.cert), key: read(cert.key) }) });
        assert.equal(probe.outcome, 'refused', what);
        const r = await etcdctl(['--endpoints', member.endpoint, ...clientFlags(pki, cert), '--dial-timeout', '1s', '--command-timeout', '2s', 'get', 'tls-key']);
        assert.notEqual(r.code, 0, `${what}: etcdctl was served: ${r.stdout}`);
        await waitFor(`the member to log that it refused the client with ${what}`, () => {
          const rejections = logLines(member, 'rejected connection').slice(rejectionsBefore);
          return logged === undefined ? rejections.length > 0 : rejections.some((l) => logged.test(String(l.error)));
        }, 10000, 50);
      }
      assert.equal((await probeTls(member.clientPort, { ca: read(pki.caFile), cert: read(client.cert), key: read(client.key) })).outcome, 'served', 'the good client still is');
    });

    it('answers a plaintext gRPC client with a GOAWAY that says the port is TLS-only, and plain HTTP/1 with 400', async () => {
      const frames = await probePlainHttp2(member.clientPort);
      const goAway = frames.find((f) => f.type === 0x7);
      assert.ok(goAway, `no GOAWAY in ${JSON.stringify(frames.map((f) => f.type))}`);
      assert.equal(goAway.payload.readUInt32BE(4), 0x1, 'PROTOCOL_ERROR');
      assert.match(goAway.payload.subarray(8).toString(), /serves TLS only/);
      const response = await fetch(`http://127.0.0.1:${member.clientPort}/health`);
      assert.equal(response.status, 400);
      assert.match(await response.text(), /Client sent an HTTP request to an HTTPS server/);
      const r = await ours(['--endpoints', `http://127.0.0.1:${member.clientPort}`, '--dial-timeout', '1s', 'get', 'x']);
      assert.notEqual(r.code, 0);
    });

    it('serves /health and /metrics over HTTPS to a client with a certificate', async () => {
      const r = await run('curl', ['-s', '--cacert', pki.caFile, '--cert', client.cert, '--key', client.key, `https://127.0.0.1:${member.clientPort}/health`]);
      assert.equal(r.stdout, '{"health":"true"}');
      const h2 = await run('curl', ['-s', '--http2', '--cacert', pki.caFile, '--cert', client.cert, '--key', client.key, `https://127.0.0.1:${member.clientPort}/version`]);
      assert.match(h2.stdout, /"etcdserver":"3\.4\.23"/);
    });
  });

  it('uses a rotated certificate for new connections without a restart, and keeps it when the next rotation is broken', async () => {
    const pki = new TestPki();
    const first = pki.issue('server');
    const second = pki.issue('server');
    const dir = tempDir('rotate-');
    const certFile = join(dir, 'server.crt');
    const keyFile = join(dir, 'server.key');
    copyFileSync(first.cert, certFile);
    copyFileSync(first.key, keyFile);
    const member = await startEtcdts({ clientScheme: 'https', extraArgs: ['--cert-file', certFile, '--key-file', keyFile, '--log-level', 'info'] });
    const serialNow = async (): Promise<string | undefined> => (await probeTls(member.clientPort, { ca: read(pki.caFile) })).serverSerial;
    assert.equal(await serialNow(), first.serial.toString(16).toUpperCase().padStart(2, '0'));
    copyFileSync(second.cert, certFile);
    copyFileSync(second.key, keyFile);
    const secondSerial = second.serial.toString(16).toUpperCase().padStart(2, '0');
    await waitFor('the rotated certificate to be served', async () => (await serialNow()) === secondSerial, 10000, 50);
    // A half-done rotation: a certificate whose key has not been written yet.
    copyFileSync(pki.issue('server').cert, certFile);
    assert.equal(await serialNow(), secondSerial, 'a certificate without its key is not used');
    writeFileSync(certFile, 'not a certificate');
    assert.equal(await serialNow(), secondSerial);
    await waitFor('the member to log the failed reload', () => logLines(member, 'failed to reload TLS files; keeping the previous certificate').length > 0, 10000, 50);
    const put = await etcdctl(['--endpoints', member.endpoint, '--cacert', pki.caFile, 'put', 'still', 'served']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    // A client without a certificate of its own, as most etcd3 users connect.
    const etcd3 = new Etcd3({ hosts: member.endpoint, credentials: { rootCertificate: read(pki.caFile) } });
    try {
      assert.equal(await etcd3.get('still').string(), 'served');
    } finally {
      etcd3.close();
    }
  });

  it('--auto-tls serves a self-signed certificate kept in the data dir and reused after a restart', async () => {
    const member = await startEtcdts({ clientScheme: 'https', extraArgs: ['--auto-tls'] });
    const certFile = join(member.dataDir, 'fixtures', 'client', 'cert.pem');
    assert.ok(existsSync(certFile) && existsSync(join(member.dataDir, 'fixtures', 'client', 'key.pem')));
    // etcdctl uses TLS with --insecure-skip-tls-verify only together with --insecure-transport=false (global.go).
    const put = await etcdctl(['--endpoints', member.endpoint, '--insecure-transport=false', '--insecure-skip-tls-verify', 'put', 'auto', 'tls']);
    assert.equal(put.stdout, 'OK\n', put.stderr);
    const verified = await etcdctl(['--endpoints', member.endpoint, '--insecure-transport=false', '--dial-timeout', '1s', '--command-timeout', '2s', 'get', 'auto']);
    assert.notEqual(verified.code, 0, 'a self-signed certificate cannot be verified by a client');
    const before = readFileSync(certFile);
    await member.restart();
    assert.deepEqual(readFileSync(certFile), before);
    const get = await ours(['--endpoints', member.endpoint, '--insecure-skip-tls-verify', 'get', 'auto', '--print-value-only']);
    assert.equal(get.stdout, 'tls\n', get.stderr);
  });

  it('requires a client certificate when a trusted CA file is given, even without --client-cert-auth, as etcd does', async () => {
    const pki = new TestPki();
    const server = pki.issue('server');
    const client = pki.issue('client');
    const flags = ['--cert-file', server.cert, '--key-file', server.key, '--trusted-ca-file', pki.caFile];
    const member = await startEtcdts({ clientScheme: 'https', extraArgs: flags });
    const port = await freePort();
    const peer = await freePort();
    const { start } = await import('../support/procs.js');
    start(etcdBinary, ['--name', 'ref', '--data-dir', join(tempDir('ref-'), 'd'), '--listen-client-urls', `https://127.0.0.1:${port}`, '--advertise-client-urls', `https://127.0.0.1:${port}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `ref=http://127.0.0.1:${peer}`, ...flags]);
    await waitFor('etcd to serve', async () => (await probeTls(port, { ca: read(pki.caFile), cert: read(client.cert), key: read(client.key) })).outcome === 'served', 20000, 100);
    for (const target of [port, member.clientPort]) {
      assert.equal((await probeTls(target, { ca: read(pki.caFile) })).outcome, 'refused', `port ${target} served a client without a certificate`);
      assert.equal((await probeTls(target, { ca: read(pki.caFile), cert: read(client.cert), key: read(client.key) })).outcome, 'served');
    }
  });

  it('serves unix:// and unixs:// listen URLs as etcd names them (a socket file named host:port)', async () => {
    const pki = new TestPki();
    const server = pki.issue('server', { hosts: ['127.0.0.1', 'localhost'] });
    const cwd = tempDir('unix-');
    const [plain, secure] = [await freePort(), await freePort()];
    const member = await startEtcdts({
      cwd,
      extraArgs: ['--listen-client-urls', `http://127.0.0.1:${await freePort()},unix://localhost:${plain},unixs://localhost:${secure}`,
        '--cert-file', server.cert, '--key-file', server.key],
      waitReady: false,
    });
    await waitFor('the socket files', () => existsSync(join(cwd, `localhost:${plain}`)) && existsSync(join(cwd, `localhost:${secure}`)), 30000, 50);
    void member;
    const viaPlain = await run(etcdctlBinary, ['--endpoints', `unix://localhost:${plain}`, 'put', 'over', 'unix'], { cwd, timeoutMs: 20000 });
    assert.equal(viaPlain.stdout, 'OK\n', viaPlain.stderr);
    const viaTls = await run(etcdctlBinary, ['--endpoints', `unixs://localhost:${secure}`, '--cacert', pki.caFile, 'get', 'over', '--print-value-only'], { cwd, timeoutMs: 20000 });
    assert.equal(viaTls.stdout, 'unix\n', viaTls.stderr);
    const ourPlain = await ours(['--endpoints', `unix://localhost:${plain}`, 'get', 'over', '--print-value-only'], { cwd });
    assert.equal(ourPlain.stdout, 'unix\n', ourPlain.stderr);
  });

  it('negotiates only the cipher suites and versions it is given', async () => {
    const pki = new TestPki();
    const server = pki.issue('server');
    const member = await startEtcdts({
      clientScheme: 'https',
      extraArgs: ['--cert-file', server.cert, '--key-file', server.key, '--cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', '--tls-max-version', 'TLS1.2'],
    });
    const probe = await probeTls(member.clientPort, { ca: read(pki.caFile) });
    assert.deepEqual([probe.outcome, probe.protocol, probe.cipher], ['served', 'TLSv1.2', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    const other = await probeTls(member.clientPort, { ca: read(pki.caFile), ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' });
    assert.equal(other.outcome, 'refused');
    const tls13 = await probeTls(member.clientPort, { ca: read(pki.caFile), minVersion: 'TLSv1.3' });
    assert.equal(tls13.outcome, 'refused');
  });
});

describe('TLS flags the member cannot honour stop it at start with one line', function () {
  this.timeout(60000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const cases: Array<[string, (pki: TestPki, cert: IssuedCertificate) => string[], RegExp]> = [
    ['an https:// client URL without a certificate', () => ['--listen-client-urls', 'https://127.0.0.1:0'],
      /TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127\.0\.0\.1:0 with HTTPS scheme/],
    ['an https:// peer URL without a certificate', () => ['--listen-peer-urls', 'https://127.0.0.1:0', '--initial-advertise-peer-urls', 'https://127.0.0.1:0', '--initial-cluster', 'default=https://127.0.0.1:0'],
      /cannot listen on TLS for 127\.0\.0\.1:0: KeyFile and CertFile are not presented/],
    ['a certificate without its key', (_pki, cert) => ['--cert-file', cert.cert], /KeyFile and CertFile must both be present/],
    ['an unknown cipher suite', () => ['--cipher-suites', 'TLS_FAKE_SUITE'], /unexpected TLS cipher suite "TLS_FAKE_SUITE"/],
    ['an allowed CN and an allowed hostname together', () => ['--peer-cert-allowed-cn', 'a', '--peer-cert-allowed-hostname', 'b'], /AllowedCN and AllowedHostname are mutually exclusive/],
    ['a key that does not match its certificate', (pki, cert) => ['--listen-client-urls', 'https://127.0.0.1:0', '--cert-file', cert.cert, '--key-file', pki.issue('other').key],
      /client TLS: .*(key values mismatch|KEY_VALUES_MISMATCH)/i],
    ['TLS 1.3 only with cipher suites', () => ['--cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', '--tls-min-version', 'TLS1.3'],
      /cipher suites cannot be configured when only TLS1.3 is enabled/],
  ];
  for (const [what, flags, message] of cases) {
    it(what, async () => {
      const pki = new TestPki();
      const cert = pki.issue('server');
      const r = await ours(['server', '--data-dir', join(tempDir('bad-tls-'), 'd'), ...flags(pki, cert)]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('Error') || l.startsWith(' ›'));
      assert.match(r.stderr, message);
      assert.ok(errorLines.length >= 1, r.stderr);
    });
  }
});
