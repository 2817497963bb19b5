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

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo, repoRoot, tempDir, stringArgs } from './lib/common.js';
import {
  etcdLoad, makePki, runCheckPerf, runLoad, startCluster, workloadArgs,
} from './lib/go-cluster.js';
import { writeSection } from './lib/results-file.js';

const defaults = {
  members: '1,3',
  tls: 'false,true',
  duration: '6s',
  // workload:clients[:conns][@leader|@follower]; conns default min(clients, 16); without
  // @, the Go client balances over every member's endpoint, as clientv3 does.
  workloads: 'put:1,put:16,put:256,txn-put:16,range-l:1,range-l:256,range-s:256,mixed:64,keepalive:64@leader,keepalive:64@follower,watch:1,watch-10k:1',
  // `etcdctl check perf --load s` against each cluster (60 s each), in every section.
  'check-perf': 'true',
  out: join(repoRoot, 'bench', 'RESULTS.md'),
  // The RESULTS.md section written: another name keeps an earlier table (e.g. the one before a change).
  section: 'compare',
};

function parseArgs(argv) {
  return stringArgs(defaults, argv);
}

function label(spec) {
  const names = {
    put: 'put', 'txn-put': 'txn-put', 'range-l': 'linearizable range', 'range-s': 'serializable range', mixed: 'mixed 90% reads',
    keepalive: 'lease keep-alive, 1000 leases', watch: 'watch: 1000 watchers on 10 streams, 500 puts/s (events/s)',
    'watch-10k': 'watch: 10,000 watchers on 100 streams, 50 puts/s (events/s)',
  };
  const { workload, clients, target } = workloadArgs(spec);
  if (workload.startsWith('watch')) return names[workload];
  return `${names[workload]}, ${clients} client${clients === 1 ? '' : 's'}${target === undefined ? '' : ` through the ${target}`}`;
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
        const specs = o.workloads.split(',').filter((spec) => members > 1 || !spec.endsWith('@follower'));
        for (const [i, spec] of specs.entries()) {
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
        if (o['check-perf'] === 'true') {
          const results = { etcd: runCheckPerf(clusters.etcd), etcdts: runCheckPerf(clusters.etcdts) };
          rows.push({ spec: 'check-perf', label: `etcdctl check perf --load s (writes/s; slowest ms; ${results.etcd.verdict} / ${results.etcdts.verdict})`, ...results });
          console.log(`${members} member(s), ${tls ? 'TLS' : 'plaintext'}, check perf: etcd ${fmt(results.etcd.opsPerSec)}, etcdts ${fmt(results.etcdts.opsPerSec)}`);
        }
        rows.push({ spec: 'rss', label: 'largest member RSS after the run (MiB)', etcd: { opsPerSec: clusters.etcd.rssMiB() }, etcdts: { opsPerSec: clusters.etcdts.rssMiB() } });
      } finally {
        await clusters.etcd.stop();
        await clusters.etcdts.stop();
      }
      sections.push({ members, tls, rows });
    }
  }
  writeSection(o.out, o.section, report(o, info, sections), o.section === 'compare' ? undefined : `bench/compare.js --section ${o.section}`);
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
    `Command: \`node bench/compare.js --members ${o.members} --tls ${o.tls} --duration ${o.duration} --workloads ${o.workloads} --check-perf ${o['check-perf']}${o.section === 'compare' ? '' : ` --section ${o.section}`}\``,
    'Rows without "through the …" spread the clients over every member (clientv3 balances over its endpoints); "through the leader/follower" gives the client that member only.',
    'p99 of the watch rows is the delay from put to event; check perf reports its slowest request, not a p99.',
    '',
  ];
  for (const { members, tls, rows } of sections) {
    lines.push(`## ${members} member${members === 1 ? '' : 's'}, ${tls ? 'TLS (client and peer, client certificates)' : 'plaintext'}`, '');
    lines.push('| workload | etcd | etcdts | ratio | p99 ms etcd / etcdts |', '| --- | --- | --- | --- | --- |');
    for (const r of rows) {
      const p99 = r.spec === 'rss' ? '' : `${fmt(r.etcd.p99Ms)} / ${fmt(r.etcdts.p99Ms)}`;
      const errors = [['etcd', r.etcd.firstError], ['etcdts', r.etcdts.firstError]].filter(([, e]) => e).map(([k, e]) => `${k}: ${e}`).join('; ');
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
