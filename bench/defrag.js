#!/usr/bin/env node
// Writes during a defragmentation of the leader: a 3-member cluster of etcd
// and one of etcdts are filled with about 1 GB (`--keys` × `--val-size`), then
// etcd's Go client puts with `--clients` clients for `--duration`, once
// undisturbed and once while `etcdctl defrag` runs against the leader
// (started `--defrag-after` into the run). The put p99 and max of the first run
// and of the puts in flight during the defrag, and how long the defrag took,
// go to the "defrag" section of bench/RESULTS.md.
//
//   node bench/defrag.js
//   node bench/defrag.js --keys 2000 --servers etcdts      # a quick look
//
// Not a test: nothing here asserts timings.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { machineInfo, removeTempDir, repoRoot, sleep, tempDir, stringArgs } from './lib/common.js';
import { clientTlsArgs, etcdLoad, etcdctl, memberEndpoint, startCluster } from './lib/go-cluster.js';
import { writeSection } from './lib/results-file.js';

const run = promisify(execFile);

const defaults = {
  servers: 'etcd,etcdts',
  members: '3',
  // 16,384 values of 64 KiB: 1 GiB of values.
  keys: '16384',
  'val-size': '65536',
  clients: '16',
  duration: '20s',
  'defrag-after': '3s',
  out: join(repoRoot, 'bench', 'RESULTS.md'),
};

function parseArgs(argv) {
  return stringArgs(defaults, argv);
}

const hostPorts = (urls) => urls.map((e) => e.replace(/^https?:\/\//, '')).join(',');

async function load(cluster, args) {
  const { stdout } = await run(etcdLoad, ['-endpoints', hostPorts(cluster.endpoints), ...args], { timeout: 1_800_000, maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

function dbSizeMiB(cluster, endpoint) {
  const out = execFileSync(etcdctl, ['--endpoints', endpoint, ...clientTlsArgs(cluster.pki), 'endpoint', 'status', '-w', 'json'], { encoding: 'utf8' });
  return JSON.parse(out)[0].Status.dbSize / 2 ** 20;
}

async function measure(kind, o) {
  const cluster = await startCluster(kind, Number(o.members), undefined);
  try {
    const fill = await load(cluster, ['-workload', 'fill', '-keys', o.keys, '-val-size', o['val-size'], '-clients', '16', '-conns', '4']);
    if (fill.errors > 0) throw new Error(`${kind}: fill failed: ${fill.firstError}`);
    const leader = memberEndpoint(cluster, 'leader');
    const before = dbSizeMiB(cluster, leader);
    const puts = ['-workload', 'put', '-clients', o.clients, '-conns', String(Math.min(16, Number(o.clients))), '-duration', o.duration];
    const normal = await load(cluster, puts);
    const logDir = tempDir('defrag-latencies-');
    const log = join(logDir, 'during.txt');
    const during = load(cluster, [...puts, '-latency-log', log]);
    await sleep(Number.parseFloat(o['defrag-after']) * 1000);
    const startedMs = Date.now();
    const defrag = await run(etcdctl, ['--endpoints', leader, '--command-timeout', '600s', 'defrag'], { timeout: 900_000 })
      .then(() => 'ok', (err) => `failed: ${(err.stderr ?? err.message).toString().trim().split('\n').at(-1)}`);
    const endedMs = Date.now();
    const withDefrag = await during;
    const window = inWindow(readFileSync(log, 'utf8'), startedMs, endedMs);
    removeTempDir(logDir);
    return { kind, fill, before, after: dbSizeMiB(cluster, leader), normal, withDefrag, window, defrag, defragSeconds: (endedMs - startedMs) / 1000 };
  } finally {
    await cluster.stop();
  }
}

/** Latencies of the puts that were in flight at some point while the defrag ran: their count, p99 and max. */
function inWindow(logText, fromMs, toMs) {
  const latencies = [];
  for (const line of logText.split('\n')) {
    if (line === '') continue;
    const [start, latency] = line.split(' ').map(Number);
    if (start < toMs && start + latency > fromMs) latencies.push(latency);
  }
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return { count: n, p99Ms: n === 0 ? NaN : latencies[Math.floor((n * 99) / 100)], maxMs: n === 0 ? NaN : latencies[n - 1] };
}

const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : '—');

function report(o, info, results) {
  const lines = [
    '# Puts during a defragmentation of the leader',
    '',
    `Run on ${new Date().toISOString()}: ${info.cpus} × ${info.cpuModel}, Node ${info.node}, ${info.etcd}, load average before the run ${info.loadavg.map((l) => l.toFixed(2)).join(' ')}.`,
    `Command: \`node bench/defrag.js --servers ${o.servers} --members ${o.members} --keys ${o.keys} --val-size ${o['val-size']} --clients ${o.clients} --duration ${o.duration} --defrag-after ${o['defrag-after']}\``,
    `${o.members} members filled with ${o.keys} keys of ${o['val-size']} bytes; then put (256-byte values, ${o.clients} clients over every member) for ${o.duration}, undisturbed and with \`etcdctl defrag\` of the leader started ${o['defrag-after']} in.`,
    '',
    'Puts "in the defrag" are those in flight at some point while `etcdctl defrag` ran (from the latency log of the second run); the whole-run figures dilute a stall with the undisturbed seconds around it.',
    '',
    '| server | db MiB before / after | defrag s | puts/s normal / whole run with defrag | puts in the defrag | p99 ms normal / in the defrag | max ms normal / in the defrag | p99 in the defrag ÷ normal |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    lines.push(`| ${r.kind} | ${f1(r.before)} / ${f1(r.after)} | ${f1(r.defragSeconds)}${r.defrag === 'ok' ? '' : ` (${r.defrag})`} | ${Math.round(r.normal.opsPerSec)} / ${Math.round(r.withDefrag.opsPerSec)} | ${r.window.count} | ${f1(r.normal.p99Ms)} / ${f1(r.window.p99Ms)} | ${f1(r.normal.maxMs)} / ${f1(r.window.maxMs)} | ${(r.window.p99Ms / r.normal.p99Ms).toFixed(1)}× |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(etcdLoad)) throw new Error(`${etcdLoad} is missing: run bench/go/build.sh`);
  const info = machineInfo();
  const results = [];
  for (const kind of o.servers.split(',')) {
    const r = await measure(kind, o);
    console.log(`${kind}: defrag ${f1(r.defragSeconds)} s (${r.defrag}), p99 ${f1(r.normal.p99Ms)} -> ${f1(r.window.p99Ms)} ms in the defrag (${r.window.count} puts), max ${f1(r.normal.maxMs)} -> ${f1(r.window.maxMs)} ms`);
    results.push(r);
  }
  writeSection(o.out, 'defrag', report(o, info, results));
  console.log(`wrote ${o.out}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack ?? err);
  process.exit(1);
});
