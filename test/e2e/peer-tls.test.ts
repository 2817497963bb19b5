import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { startEtcdts, runJs, type EtcdtsMember } from '../support/etcdts.js';
import { TestPki, type IssuedCertificate } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, start, tempDir, waitFor, type Spawned } from '../support/procs.js';
import { probeTls } from '../support/tls-probe.js';

const read = (path: string): Buffer => readFileSync(path);

/** A probe of a member's peer port presenting `cert` as its client certificate. */
function probePeer(member: EtcdtsMember, pki: TestPki, cert: IssuedCertificate) {
  return probeTls(member.peerPort, { ca: read(pki.caFile), cert: read(cert.cert), key: read(cert.key) });
}

interface TlsCluster {
  procs: Spawned[];
  clientUrls: string[];
}

/** Three members with peer TLS; `peerFlags` are given to every member. */
async function startPeerTlsCluster(peerFlags: string[]): Promise<TlsCluster> {
  const base = tempDir('peer-tls-');
  const members = await Promise.all(['p1', 'p2', 'p3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })));
  const initialCluster = members.map((m) => `${m.name}=https://127.0.0.1:${m.peer}`).join(',');
  const procs = members.map((m) => start(process.execPath, [runJs, 'server', '--name', m.name, '--data-dir', join(base, m.name),
    '--listen-client-urls', `http://127.0.0.1:${m.client}`, '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
    '--listen-peer-urls', `https://127.0.0.1:${m.peer}`, '--initial-advertise-peer-urls', `https://127.0.0.1:${m.peer}`,
    '--initial-cluster', initialCluster, '--initial-cluster-token', 'peer-tls', '--log-level', 'info', ...peerFlags]));
  return { procs, clientUrls: members.map((m) => `http://127.0.0.1:${m.client}`) };
}

describe('TLS between members', function () {
  this.timeout(120000);
  let pki: TestPki;
  let member: IssuedCertificate;

  before(() => {
    pki = new TestPki();
    member = pki.issue('member');
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const peerTlsFlags = (): string[] => ['--peer-cert-file', member.cert, '--peer-key-file', member.key, '--peer-trusted-ca-file', pki.caFile, '--peer-client-cert-auth'];

  it('forms a cluster over TLS when the peers\' CN is the allowed one, and refuses peers with another CN', async () => {
    const good = await startPeerTlsCluster([...peerTlsFlags(), '--peer-cert-allowed-cn', 'member']);
    const client = await Client.connect({ endpoints: good.clientUrls, dialTimeoutMs: 20000 });
    try {
      await waitFor('a write through the TLS cluster', () => client.kv.put('over', 'peer tls', { timeoutMs: 2000 }).then(() => true, () => false), 30000, 100);
    } finally {
      client.close();
    }
    const bad = await startPeerTlsCluster([...peerTlsFlags(), '--peer-cert-allowed-cn', 'someone-else']);
    await waitFor('every member to refuse its peers', () => bad.procs.every((p) => /client certificate authentication failed/.test(p.output())), 30000, 100);
    assert.ok(bad.procs.every((p) => !/became leader/.test(p.output())), 'no member can win an election without its peers');
  });

  it('forms a cluster with --peer-auto-tls: members cannot verify each other\'s self-signed certificates, and do not try', async () => {
    const auto = await startPeerTlsCluster(['--peer-auto-tls']);
    const client = await Client.connect({ endpoints: auto.clientUrls, dialTimeoutMs: 20000 });
    try {
      await waitFor('a write through the auto-TLS cluster', () => client.kv.put('auto', 'peer tls', { timeoutMs: 2000 }).then(() => true, () => false), 30000, 100);
    } finally {
      client.close();
    }
  });

  describe('checks on a peer\'s client certificate', () => {
    it('--peer-cert-allowed-hostname: a certificate valid for that name passes, others are refused', async () => {
      const allowed = await startEtcdts({ peerScheme: 'https', extraArgs: [...peerTlsFlags(), '--peer-cert-allowed-hostname', 'localhost'] });
      assert.equal((await probePeer(allowed, pki, member)).outcome, 'served');
      assert.equal((await probePeer(allowed, pki, pki.issue('elsewhere', { hosts: ['127.0.0.1', 'elsewhere.example'] }))).outcome, 'refused');
    });

    it('refuses a client certificate whose SANs do not name the address it connects from, unless told to skip the check', async () => {
      const farAway = pki.issue('far-away', { hosts: ['10.9.9.9'] });
      const noSans = pki.issue('no-sans', { hosts: [] });
      const checking = await startEtcdts({ peerScheme: 'https', extraArgs: [...peerTlsFlags(), '--log-level', 'warn'] });
      assert.equal((await probePeer(checking, pki, farAway)).outcome, 'refused');
      assert.equal((await probePeer(checking, pki, noSans)).outcome, 'served', 'a certificate without SANs is not checked, as in etcd');
      assert.equal((await probePeer(checking, pki, member)).outcome, 'served');
      await waitFor('the refusal in the log', () => /rejected connection.*valid for 10\.9\.9\.9, not 127\.0\.0\.1|valid for 10\.9\.9\.9, not 127\.0\.0\.1.*rejected connection/.test(checking.proc.output()), 10000, 50);
      const skipping = await startEtcdts({ peerScheme: 'https', extraArgs: [...peerTlsFlags(), '--experimental-peer-skip-client-san-verification'] });
      assert.equal((await probePeer(skipping, pki, farAway)).outcome, 'served');
    });

    it('--peer-crl-file refuses a revoked peer certificate', async () => {
      const revoked = pki.issue('revoked-member');
      const withCrl = await startEtcdts({ peerScheme: 'https', extraArgs: [...peerTlsFlags(), '--peer-crl-file', pki.crl([revoked.serial], 'peers.crl')] });
      assert.equal((await probePeer(withCrl, pki, revoked)).outcome, 'refused');
      assert.equal((await probePeer(withCrl, pki, member)).outcome, 'served');
    });

    it('--peer-client-cert-auth refuses a peer without a certificate', async () => {
      const strict = await startEtcdts({ peerScheme: 'https', extraArgs: peerTlsFlags() });
      assert.equal((await probeTls(strict.peerPort, { ca: read(pki.caFile) })).outcome, 'refused');
    });
  });
});
