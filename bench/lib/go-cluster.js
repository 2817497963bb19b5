// Clusters of etcd or etcdts started with the same etcd flags, and etcd's Go
// client (bench/go/bin/etcd-load) and etcdctl run against them: what
// bench/compare.js measures and bench/profile.js profiles.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  etcdBinary, freePorts, processRssBytes, removeTempDir, repoRoot, runJs, sleep, startProcess, stopProcess, tempDir,
} from './common.js';

export const etcdLoad = join(repoRoot, 'bench', 'go', 'bin', 'etcd-load');
export const etcdctl = '/usr/bin/etcdctl';

/** A CA, a member certificate and a client certificate, written with our own X.509 code. */
export async function makePki(dir) {
  const { generateKeyPairSync } = await import('node:crypto');
  const { createCertificate, toPem, KeyUsage } = await import(pathToFileURL(join(repoRoot, 'dist', 'src', 'server', 'tls', 'x509.js')).href);
  const hour = 3600_000;
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = { commonName: 'bench-ca' };
  const files = { ca: join(dir, 'ca.crt') };
  writeFileSync(files.ca, toPem(createCertificate({
    subject: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + 48 * hour),
    isCa: true, keyUsage: [KeyUsage.KeyCertSign, KeyUsage.CrlSign, KeyUsage.DigitalSignature],
  }), 'CERTIFICATE'));
  for (const name of ['member', 'client']) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    files[name] = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    writeFileSync(files[name].cert, toPem(createCertificate({
      subject: { commonName: name }, publicKey: key.publicKey, signingKey: ca.privateKey, issuer: { name: caName, publicKey: ca.publicKey },
      notBefore: new Date(Date.now() - hour), notAfter: new Date(Date.now() + 48 * hour), keyUsage: [KeyUsage.DigitalSignature, KeyUsage.KeyEncipherment],
      serverAuth: true, clientAuth: true, hosts: ['127.0.0.1', 'localhost'],
    }), 'CERTIFICATE'));
    writeFileSync(files[name].key, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  return files;
}

/**
 * Starts `size` members of `kind` with the same etcd flags (etcdts members with `nodeArgs(i)` given
 * to node, e.g. --cpu-prof, which NODE_OPTIONS does not allow); ready when etcdctl endpoint health says so on every member.
 */
export async function startCluster(kind, size, pki, nodeArgs = () => []) {
  const root = tempDir(`compare-${kind}-`);
  const scheme = pki === undefined ? 'http' : 'https';
  const ports = await freePorts(2 * size);
  const members = Array.from({ length: size }, (_, i) => ({
    name: `${kind}${i}`, dataDir: join(root, `${kind}${i}.etcd`), clientUrl: `${scheme}://127.0.0.1:${ports[2 * i]}`, peerUrl: `${scheme}://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const tlsFlags = pki === undefined ? [] : [
    '--cert-file', pki.member.cert, '--key-file', pki.member.key, '--trusted-ca-file', pki.ca, '--client-cert-auth',
    '--peer-cert-file', pki.member.cert, '--peer-key-file', pki.member.key, '--peer-trusted-ca-file', pki.ca, '--peer-client-cert-auth',
  ];
  for (const [i, m] of members.entries()) {
    const args = ['--name', m.name, '--data-dir', m.dataDir, '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl, '--initial-cluster', initial,
      '--initial-cluster-token', `compare-${kind}`, '--log-level', 'error', ...tlsFlags];
    m.proc = kind === 'etcd' ? startProcess(etcdBinary, args) : startProcess(process.execPath, [...nodeArgs(i), runJs, 'server', ...args]);
  }
  const cluster = {
    kind, members, pki, endpoints: members.map((m) => m.clientUrl),
    rssMiB: () => Math.max(...members.map((m) => processRssBytes(m.proc.pid))) / 2 ** 20,
    /** Kills every member; `graceful` sends SIGTERM first and waits (up to 20 s), so that --cpu-prof writes its profile. */
    stop: async ({ graceful = false } = {}) => {
      if (graceful) await Promise.all(members.map((m) => stopGracefully(m.proc)));
      await Promise.all(members.map((m) => stopProcess(m.proc)));
      removeTempDir(root);
    },
  };
  const clientTls = pki === undefined ? [] : ['--cacert', pki.ca, '--cert', pki.client.cert, '--key', pki.client.key];
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execFileSync(etcdctl, ['--endpoints', cluster.endpoints.join(','), ...clientTls, 'endpoint', 'health', '--command-timeout', '2s'], { stdio: 'pipe' });
      return cluster;
    } catch (err) {
      if (Date.now() > deadline) {
        const outputs = members.map((m) => `${m.name}: ${m.proc.output().trim().split('\n').slice(-5).join('\n')}`).join('\n');
        await cluster.stop();
        throw new Error(`${kind} did not become healthy: ${err.stderr?.toString() ?? err.message}\n${outputs}`);
      }
      await sleep(200);
    }
  }
}

// The watch workloads keep the event rate of the table (about 500k events/s):
// 1000 watchers at 500 puts/s, and 10,000 watchers on 100 streams at 50 puts/s.
async function stopGracefully(proc) {
  if (!proc.running()) return;
  process.kill(proc.pid, 'SIGTERM');
  await Promise.race([proc.exited, sleep(20_000)]);
}

export const workloadExtraArgs = {
  watch: ['-watchers', '1000', '-streams', '10', '-put-rate', '500'],
  'watch-10k': ['-workload', 'watch', '-watchers', '10000', '-streams', '100', '-put-rate', '50'],
  keepalive: ['-leases', '1000'],
};

export function workloadArgs(spec) {
  const [body, target] = spec.split('@');
  const [workload, clientsText, connsText] = body.split(':');
  const clients = Number(clientsText);
  const conns = connsText === undefined ? Math.min(clients, 16) : Number(connsText);
  const args = ['-workload', workload, '-clients', String(clients), '-conns', String(conns), ...(workloadExtraArgs[workload] ?? [])];
  return { workload, clients, conns, target, args };
}

export const clientTlsArgs = (pki) => (pki === undefined ? [] : ['--cacert', pki.ca, '--cert', pki.client.cert, '--key', pki.client.key]);

/** The client URL of the cluster's leader, or of a follower, as etcdctl endpoint status reports them. */
export function memberEndpoint(cluster, role) {
  const out = execFileSync(etcdctl, ['--endpoints', cluster.endpoints.join(','), ...clientTlsArgs(cluster.pki), 'endpoint', 'status', '-w', 'json'], { encoding: 'utf8' });
  const statuses = JSON.parse(out);
  const isLeader = (s) => BigInt(s.Status.leader) === BigInt(s.Status.header.member_id);
  const found = statuses.find((s) => (role === 'leader' ? isLeader(s) : !isLeader(s)));
  if (found === undefined) throw new Error(`no ${role} among ${cluster.endpoints.join(', ')}`);
  return found.Endpoint;
}

export function runLoad(cluster, spec, duration) {
  const { args, target } = workloadArgs(spec);
  const endpoints = target === undefined ? cluster.endpoints : [memberEndpoint(cluster, target)];
  const tls = cluster.pki === undefined ? [] : ['-cacert', cluster.pki.ca, '-cert', cluster.pki.client.cert, '-key', cluster.pki.client.key];
  const out = execFileSync(etcdLoad, ['-endpoints', endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(','), '-duration', duration, ...tls, ...args],
    { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').at(-1));
}

/**
 * `etcdctl check perf --load s` (60 s of puts at a fixed rate): the writes/s it reports as
 * opsPerSec and its slowest request as p99Ms (etcdctl prints no percentile), with PASS/FAIL.
 */
export function runCheckPerf(cluster) {
  let out;
  try {
    out = execFileSync(etcdctl, ['--endpoints', cluster.endpoints.join(','), ...clientTlsArgs(cluster.pki), 'check', 'perf', '--load', 's'],
      { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // FAIL exits non-zero; its report is still on stdout (client retries log to stderr).
    out = `${err.stdout ?? ''}`;
  }
  const throughput = /Throughput (?:is|too low:) (\d+) writes\/s/.exec(out);
  const slowest = /Slowest request took (?:too long: )?([\d.]+)s/.exec(out);
  const errors = /^FAIL: (too many errors|ERROR.*)$/m.exec(out);
  const verdict = /^(PASS|FAIL)$/m.exec(out)?.[1];
  return {
    opsPerSec: throughput === null ? NaN : Number(throughput[1]),
    p99Ms: slowest === null ? NaN : Number(slowest[1]) * 1000,
    verdict: verdict === undefined ? 'no verdict' : errors === null ? verdict : `${verdict} (${errors[1]})`,
  };
}

