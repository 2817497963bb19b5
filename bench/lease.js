#!/usr/bin/env node
// Lease benchmark, one member: keep-alive throughput and latency, and the
// unary grant and revoke rates, etcdts against the real etcd 3.4.23, same
// machine, same run, same load generator.
//
//   npm run build && node bench/lease.js [--streams 1,16,256] [--leases 1000] ...
//   node bench/lease.js --help          (every option; BENCH_<NAME> env vars work too)
//
// keepalive   --leases leases are granted first (TTL --lease-ttl); then
//             --streams LeaseKeepAlive streams, each with --depth keep-alives
//             in flight, send the next as soon as one is answered (etcd's
//             `benchmark lease-keepalive`, but on long-lived streams as a
//             client's keep-alive loop uses them). Every answer must name
//             its lease with a TTL above 0.
// grant       --grant-clients closed-loop clients grant leases (client-chosen
//             ids), then as many revokes remove them again (revoke), each a
//             write through consensus.
// Slices alternate between the servers as in kv.js. Not a test: nothing
// here asserts timings.

import { loadBenchmarkLibrary, machineInfo, ms, options, printRequestTable, requestRatios, writeResults } from './lib/common.js';
import { medianRows, runSlices } from './lib/interleave.js';
import { startServers } from './lib/servers.js';

const opts = options({
  scenarios: ['keepalive', 'grant'],
  streams: [1, 16, 256],
  depth: 1,
  leases: 1000,
  leaseTtl: 3600,
  grantClients: [16, 256],
  grantTtl: 600,
  servers: ['etcd', 'etcdts'],
  /** Measured time per run (all slices together); the revokes of a grant run are as many as its grants. */
  durationMs: 5000,
  warmupMs: 1000,
  /** Connections per run; 0 means min(streams or clients, 16). */
  conns: 0,
  /** Each run is cut into this many slices, alternating between the servers. */
  slices: 4,
  /** Repeat everything; per scenario and server the round with the median req/s is reported. */
  rounds: 1,
  /** First run one unrecorded slice of every scenario on every server (JIT, caches, heaps). */
  serverWarmup: true,
});

const lib = await loadBenchmarkLibrary();
const servers = await startServers(opts.servers, lib);
const leaseIds = new Map();
if (opts.scenarios.includes('keepalive')) {
  for (const server of servers) leaseIds.set(server, await lib.grantLeases(server.endpoints, opts.leases, opts.leaseTtl));
}

let nextLeaseBase = 1n;
if (opts.serverWarmup) await warmUp();
const before = machineInfo();
const runs = [];
for (let round = 0; round < opts.rounds; round++) {
  if (opts.scenarios.includes('keepalive')) for (const streams of opts.streams) runs.push(...(await keepAliveScenario(streams, round)));
  if (opts.scenarios.includes('grant')) for (const clients of opts.grantClients) runs.push(...(await grantScenario(clients, round)));
}
const rss = servers.flatMap((s) => s.rss().map((m) => ({ server: s.kind, ...m })));
for (const server of servers) await server.stop();

const reported = medianRows(runs, (r) => `${r.scenario}/${r.clients}/${r.server}`, (r) => r.requestsPerSec);
report(reported, rss);
const file = writeResults('lease', { kind: 'lease', options: opts, machineBefore: before, machineAfter: machineInfo(), runs, reported, rss });
console.log(`\nresults: ${file}`);

function conns(n) {
  return opts.conns > 0 ? opts.conns : Math.min(n, 16);
}

function row(scenario, clients, server, result, cpuUs, round) {
  const s = result.stats;
  return {
    scenario, clients, server: server.kind, round,
    requestsPerSec: s.requestsPerSec, count: s.count, errors: s.errorCount, errorMessages: s.errors,
    p50Ms: s.percentilesMs['50'], p90Ms: s.percentilesMs['90'], p99Ms: s.percentilesMs['99'], maxMs: s.slowestMs,
    averageMs: s.averageMs, clientCpuUsPerRequest: s.clientCpuUsPerRequest,
    serverCpuUsPerRequest: cpuUs / result.completedAll,
  };
}

function log(r) {
  console.error(`${r.scenario} ${r.clients} ${r.server}: ${Math.round(r.requestsPerSec)} req/s p99 ${ms(r.p99Ms)} ms${r.errors ? ` errors ${r.errors} ${JSON.stringify(r.errorMessages)}` : ''}`);
  return r;
}

function keepAliveOptions(server, streams) {
  return {
    endpoints: server.endpoints,
    conns: conns(streams),
    streams,
    depth: opts.depth,
    leaseIds: leaseIds.get(server),
    durationMs: opts.durationMs / opts.slices,
    warmupMs: opts.warmupMs / opts.slices,
  };
}

async function warmUp() {
  for (const server of servers) {
    if (opts.scenarios.includes('keepalive')) for (const streams of opts.streams) await lib.runLeaseKeepAlive(keepAliveOptions(server, streams));
    if (opts.scenarios.includes('grant')) for (const clients of opts.grantClients) await grantSlice(server, clients);
  }
  console.error('server warm-up done');
}

async function keepAliveScenario(streams, round) {
  const entries = await runSlices(servers, opts.slices, (server) => lib.runLeaseKeepAlive(keepAliveOptions(server, streams)));
  return entries.map(({ server, results, cpuUs }) => log(row('keepalive', streams * opts.depth, server, lib.mergeResults(results), cpuUs, round)));
}

/** One slice: grants for a while, then revokes exactly those leases; both measured. */
async function grantSlice(server, clients) {
  const leaseIdBase = nextLeaseBase;
  nextLeaseBase += 1n << 28n;
  const common = { endpoints: server.endpoints, conns: conns(clients), clients, transport: 'frames', workers: 0 };
  const workload = { ...lib.defaultWorkloadSpec, leaseTtl: opts.grantTtl, leaseIdBase };
  const cpu0 = server.cpuUs();
  const grant = await lib.runBenchmark({ ...common, workload: { ...workload, operation: 'lease-grant' }, durationMs: opts.durationMs / opts.slices, warmupMs: opts.warmupMs / opts.slices });
  const cpu1 = server.cpuUs();
  const revoke = await lib.runBenchmark({ ...common, workload: { ...workload, operation: 'lease-revoke' }, total: grant.completedAll });
  return { grant, revoke, grantCpuUs: cpu1 - cpu0, revokeCpuUs: server.cpuUs() - cpu1 };
}

async function grantScenario(clients, round) {
  const entries = await runSlices(servers, opts.slices, (server) => grantSlice(server, clients));
  return entries.flatMap(({ server, results }) => {
    const sum = (pick) => results.reduce((n, r) => n + pick(r), 0);
    return [
      log(row('grant', clients, server, lib.mergeResults(results.map((r) => r.grant)), sum((r) => r.grantCpuUs), round)),
      log(row('revoke', clients, server, lib.mergeResults(results.map((r) => r.revoke)), sum((r) => r.revokeCpuUs), round)),
    ];
  });
}

function report(rows, rssRows) {
  console.log(`\nLease benchmark, one member (${opts.durationMs} ms per run in ${opts.slices} slices; keep-alive: ${opts.leases} leases, ${opts.depth} in flight per stream; clients = streams × depth)\n`);
  printRequestTable(rows);
  const ratios = requestRatios(rows);
  if (ratios.length > 0) console.log(`\netcdts / etcd:\n${ratios.join('\n')}`);
  console.log(`\nRSS at the end: ${rssRows.map((m) => `${m.name} ${(m.rssBytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
}
