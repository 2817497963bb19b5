#!/usr/bin/env node
// etcd against etcdts, measured with etcd's own Go client (bench/go/etcd-load,
// built from Debian's clientv3 sources), 1 and 3 members, plaintext and TLS,
// in one run on this machine: each workload runs on etcd, then on etcdts (the
// order alternates from one workload to the next), and the table of ops/s,
// ratios and p99 goes to its section of bench/RESULTS.md (other sections are
// kept) with the machine it ran on.
//
//   npm run build && bench/go/build.sh && node bench/compare.js
//   node bench/compare.js --members 1 --tls false --workloads put:16,range-l:256 --duration 6s
//
// Not a test: nothing here asserts timings.

import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  etcdBinary, freePorts, machineInfo, processRssBytes, removeTempDir, repoRoot, runJs, sleep, startProcess, stopProcess, tempDir,
} from './lib/common.js';
import { writeSection } from './lib/results-file.js';

const etcdLoad = join(repoRoot, 'bench', 'go', 'bin', 'etcd-load');
const etcdctl = '/usr/bin/etcdctl';

const defaults = {
  members: '1,3',
  tls: 'false,true',
  duration: '6s',
  // workload:clients[:conns]; conns default min(clients, 16).
  workloads: 'put:1,put:16,put:256,txn-put:16,range-l:1,range-l:256,range-s:256,mixed:64,keepalive:64,watch:1',
  out: join(repoRoot, 'bench', 'RESULTS.md'),
};

function parseArgs(argv) {
  const o = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (m === null || !(m[1] in defaults)) throw new Error(`unknown argument ${argv[i]} (known: ${Object.keys(defaults).join(', ')})`);
    o[m[1]] = m[2] ?? argv[++i];
  }
  return o;
}

/** A CA, a member certificate and a client certificate, written with our own X.509 code. */
async function makePki(dir) {
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

/** Starts `size` members of `kind` with the same etcd flags; ready when etcdctl endpoint health says so on every member. */
async function startCluster(kind, size, pki) {
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
  for (const m of members) {
    const args = ['--name', m.name, '--data-dir', m.dataDir, '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl, '--initial-cluster', initial,
      '--initial-cluster-token', `compare-${kind}`, '--log-level', 'error', ...tlsFlags];
    m.proc = kind === 'etcd' ? startProcess(etcdBinary, args) : startProcess(process.execPath, [runJs, 'server', ...args]);
  }
  const cluster = {
    kind, members, pki, endpoints: members.map((m) => m.clientUrl),
    rssMiB: () => Math.max(...members.map((m) => processRssBytes(m.proc.pid))) / 2 ** 20,
    stop: async () => {
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
        await cluster.stop();
        throw new Error(`${kind} did not become healthy: ${err.stderr?.toString() ?? err.message}`);
      }
      await sleep(200);
    }
  }
}

function workloadArgs(spec) {
  const [workload, clientsText, connsText] = spec.split(':');
  const clients = Number(clientsText);
  const conns = connsText === undefined ? Math.min(clients, 16) : Number(connsText);
  const extra = workload === 'watch' ? ['-watchers', '1000', '-streams', '10', '-put-rate', '500'] : workload === 'keepalive' ? ['-leases', '1000'] : [];
  return { workload, clients, conns, args: ['-workload', workload, '-clients', String(clients), '-conns', String(conns), ...extra] };
}

function runLoad(cluster, spec, duration) {
  const { args } = workloadArgs(spec);
  const tls = cluster.pki === undefined ? [] : ['-cacert', cluster.pki.ca, '-cert', cluster.pki.client.cert, '-key', cluster.pki.client.key];
  const out = execFileSync(etcdLoad, ['-endpoints', cluster.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(','), '-duration', duration, ...tls, ...args],
    { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').at(-1));
}

function label(spec) {
  const { workload, clients } = workloadArgs(spec);
  const names = {
    put: 'put', 'txn-put': 'txn-put', 'range-l': 'linearizable range', 'range-s': 'serializable range', mixed: 'mixed 90% reads',
    keepalive: 'lease keep-alive, 1000 leases', watch: 'watch: 1000 watchers on 10 streams, 500 puts/s (events/s)',
  };
  return workload === 'watch' ? names.watch : `${names[workload]}, ${clients} client${clients === 1 ? '' : 's'}`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(etcdLoad)) throw new Error(`${etcdLoad} is missing: run bench/go/build.sh`);
  const info = machineInfo();
  const sections = [];
  for (const members of o.members.split(',').map(Number)) {
    for (const tls of o.tls.split(',').map((t) => t === 'true')) {
      const pki = tls ? await makePki(tempDir('compare-pki-')) : undefined;
      const clusters = { etcd: await startCluster('etcd', members, pki), etcdts: await startCluster('etcdts', members, pki) };
      const rows = [];
      try {
        for (const [i, spec] of o.workloads.split(',').entries()) {
          const order = i % 2 === 0 ? ['etcd', 'etcdts'] : ['etcdts', 'etcd'];
          const results = {};
          for (const kind of order) {
            try {
              results[kind] = runLoad(clusters[kind], spec, o.duration);
            } catch (err) {
              results[kind] = { opsPerSec: NaN, p99Ms: NaN, firstError: (err.stderr ?? err.message).toString().trim().split('\n').at(-1) };
            }
          }
          rows.push({ spec, label: label(spec), etcd: results.etcd, etcdts: results.etcdts });
          console.log(`${members} member(s), ${tls ? 'TLS' : 'plaintext'}, ${label(spec)}: etcd ${fmt(results.etcd.opsPerSec)}, etcdts ${fmt(results.etcdts.opsPerSec)} (${ratio(results)})`);
        }
        rows.push({ spec: 'rss', label: 'largest member RSS after the run (MiB)', etcd: { opsPerSec: clusters.etcd.rssMiB() }, etcdts: { opsPerSec: clusters.etcdts.rssMiB() } });
      } finally {
        await clusters.etcd.stop();
        await clusters.etcdts.stop();
      }
      sections.push({ members, tls, rows });
    }
  }
  writeSection(o.out, 'compare', report(o, info, sections));
  console.log(`wrote ${o.out}`);
}

const fmt = (n) => (Number.isFinite(n) ? (n >= 100 ? Math.round(n).toString() : n.toFixed(1)) : 'failed');
const ratio = (r) => (Number.isFinite(r.etcd.opsPerSec) && Number.isFinite(r.etcdts.opsPerSec) ? `${(r.etcdts.opsPerSec / r.etcd.opsPerSec).toFixed(2)}×` : '—');

function report(o, info, sections) {
  const lines = [
    '# etcdts against etcd 3.4.23, measured with a Go client',
    '',
    `Run on ${new Date().toISOString()}: ${info.cpus} × ${info.cpuModel}, Node ${info.node}, ${info.etcd}, load average before the run ${info.loadavg.map((l) => l.toFixed(2)).join(' ')}.`,
    `Load generator: bench/go/etcd-load (etcd's clientv3 from Debian's golang-etcd-server-dev), ${o.duration} per workload, etcd and etcdts alternating.`,
    `Command: \`node bench/compare.js --members ${o.members} --tls ${o.tls} --duration ${o.duration} --workloads ${o.workloads}\``,
    '',
  ];
  for (const { members, tls, rows } of sections) {
    lines.push(`## ${members} member${members === 1 ? '' : 's'}, ${tls ? 'TLS (client and peer, client certificates)' : 'plaintext'}`, '');
    lines.push('| workload | etcd | etcdts | ratio | p99 ms etcd / etcdts |', '| --- | --- | --- | --- | --- |');
    for (const r of rows) {
      const p99 = r.spec === 'rss' ? '' : `${fmt(r.etcd.p99Ms)} / ${fmt(r.etcdts.p99Ms)}`;
      const errors = [r.etcd.firstError, r.etcdts.firstError].filter(Boolean).join('; ');
      lines.push(`| ${r.label} | ${fmt(r.etcd.opsPerSec)} | ${fmt(r.etcdts.opsPerSec)} | ${ratio(r)} | ${p99}${errors ? ` (errors: ${errors})` : ''} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
