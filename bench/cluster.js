#!/usr/bin/env node
// Cluster benchmark: a 3-member etcdts cluster against a 3-member real etcd
// 3.4.23 cluster, all members on loopback ports of this machine, same run,
// same load generator.
//
//   npm run build && node bench/cluster.js [--members 3] [--keys 100000] ...
//   node bench/cluster.js --help
//
// 1. Memory: each cluster, fresh, gets `keys` distinct keys (sequential, value
//    --val-size bytes) from 256 clients; every member's RSS (VmRSS) is read
//    before and after.
// 2. Throughput: put at 16 and 256 clients, linearizable range at 256 clients
//    (all members' endpoints, connections round-robin over them, or only the
//    leader's with --target leader), each scenario cut into --slices slices
//    alternating between the clusters and pooled per cluster.
// Not a test: nothing here asserts timings.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadBenchmarkLibrary, machineInfo, ms, options, printRequestTable, printTable, requestRatios, repoRoot, sleep, writeResults } from './lib/common.js';
import { runInterleaved, runRow } from './lib/interleave.js';
import { etcdtsUnavailableReason, putKey, startServer } from './lib/servers.js';

const opts = options({
  members: 3,
  servers: ['etcd', 'etcdts'],
  /** Scenarios as operation:clients. */
  scenarios: ['put:16', 'put:256', 'range:256'],
  keys: 100000,
  durationMs: 5000,
  warmupMs: 1000,
  /** Each run is cut into this many slices, alternating between the clusters. */
  slices: 4,
  /** Connections per run; 0 means min(clients, 16). */
  conns: 0,
  keySize: 8,
  valSize: 256,
  consistency: 'l',
  /** all: every member's endpoint; leader: the leader's only. */
  target: 'all',
  transport: 'frames',
  workers: 0,
});

const lib = await loadBenchmarkLibrary();
const before = machineInfo();
const clusters = [];
for (const kind of opts.servers) {
  const cluster = await startCluster(kind);
  if (cluster !== undefined) clusters.push(cluster);
}
if (clusters.length === 0) {
  console.error('no cluster to benchmark');
  process.exit(1);
}

const memory = [];
for (const cluster of clusters) memory.push(await fillKeys(cluster));

const runs = [];
for (const scenario of opts.scenarios) {
  const [operation, clients] = scenario.split(':');
  runs.push(...(await runScenario(operation, Number(clients))));
}
for (const cluster of clusters) await cluster.stop();

report();
const file = writeResults('cluster', { kind: 'cluster', options: opts, machineBefore: before, machineAfter: machineInfo(), memory, runs });
console.log(`\nresults: ${file}`);

async function startCluster(kind) {
  if (kind === 'etcdts') {
    const reason = etcdtsUnavailableReason();
    if (reason !== undefined) {
      console.log(`etcdts skipped: ${reason}`);
      return undefined;
    }
  }
  try {
    const cluster = await startServer(kind, opts.members, lib);
    let leader;
    try {
      leader = await checkCluster(cluster);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.loadEndpoints = opts.target === 'leader' ? [leader] : cluster.endpoints;
    await putKey(lib, cluster.loadEndpoints[0], 'foo', Buffer.alloc(opts.valSize, 0x61));
    return cluster;
  } catch (err) {
    if (kind === 'etcd') throw err;
    console.log(`etcdts skipped: ${err.message.split('\n').slice(0, 8).join('\n  ')}`);
    return undefined;
  }
}

async function loadRpc() {
  const dist = process.env.ETCDTS_DIST ?? join(repoRoot, 'dist');
  return import(pathToFileURL(join(dist, 'src', 'proto', 'gen', 'etcdserverpb', 'rpc.js')).href);
}

async function unaryDecode(endpoint, path, type) {
  const connection = await lib.FramedConnection.open(new URL(endpoint));
  try {
    return type.decode(await connection.unary(path, Buffer.alloc(5)));
  } finally {
    await connection.close();
  }
}

/**
 * Checks that the members form one cluster (each lists `members` members and
 * all name the same leader) and returns the leader's endpoint. A server that
 * accepts the cluster flags but runs each member alone would otherwise be
 * measured as if it replicated.
 */
async function checkCluster(cluster) {
  const rpc = await loadRpc();
  let problem = 'no answer';
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const statuses = [];
      for (const endpoint of cluster.endpoints) {
        const list = await unaryDecode(endpoint, '/etcdserverpb.Cluster/MemberList', rpc.MemberListResponse);
        if (list.members.length !== opts.members) throw new Error(`${endpoint} lists ${list.members.length} members`);
        statuses.push(await unaryDecode(endpoint, '/etcdserverpb.Maintenance/Status', rpc.StatusResponse));
      }
      const leaders = new Set(statuses.map((st) => st.leader));
      const leaderAt = statuses.findIndex((st) => st.leader !== 0n && st.leader === st.header?.memberId);
      if (leaders.size !== 1 || leaderAt < 0) throw new Error(`members name leaders ${[...leaders].map((l) => l.toString(16)).join(', ')}`);
      return cluster.endpoints[leaderAt];
    } catch (err) {
      problem = err.message;
    }
    await sleep(200);
  }
  throw new Error(`the members do not form one ${opts.members}-member cluster: ${problem}`);
}

async function fillKeys(cluster) {
  await sleep(500);
  const rssBefore = cluster.rss();
  const result = await lib.runBenchmark({
    endpoints: cluster.loadEndpoints,
    conns: 16,
    clients: 256,
    transport: opts.transport,
    workers: opts.workers,
    workload: { ...lib.defaultWorkloadSpec, operation: 'put', keySize: opts.keySize, valSize: opts.valSize, keySpaceSize: opts.keys, sequentialKeys: true },
    total: opts.keys,
  });
  await sleep(1000); // let the apply loops and allocators settle before reading RSS
  const rssAfter = cluster.rss();
  const row = {
    server: cluster.kind,
    keys: opts.keys,
    errors: result.stats.errorCount,
    requestsPerSec: result.stats.requestsPerSec,
    members: rssAfter.map((m, i) => ({ name: m.name, rssBeforeBytes: rssBefore[i].rssBytes, rssAfterBytes: m.rssBytes })),
  };
  console.error(`${cluster.kind}: ${opts.keys} keys written at ${Math.round(row.requestsPerSec)} req/s, RSS ${row.members.map((m) => mib(m.rssAfterBytes)).join(' / ')} MiB`);
  return row;
}

async function runScenario(operation, clients) {
  const entries = await runInterleaved(lib, clusters, opts.slices, (cluster, slices) => ({
    endpoints: cluster.loadEndpoints,
    conns: opts.conns > 0 ? opts.conns : Math.min(clients, 16),
    clients,
    transport: opts.transport,
    workers: opts.workers,
    workload: {
      ...lib.defaultWorkloadSpec, operation, keySize: opts.keySize, valSize: opts.valSize, keySpaceSize: opts.keys,
      sequentialKeys: true, rangeKey: 'foo', serializable: opts.consistency === 's',
    },
    durationMs: opts.durationMs / slices,
    warmupMs: opts.warmupMs / slices,
  }));
  return entries.map((entry) => {
    const run = runRow(operation, clients, entry);
    console.error(`${operation} clients=${clients} ${run.server}: ${Math.round(run.requestsPerSec)} req/s p99 ${ms(run.p99Ms)} ms${run.errors ? ` errors ${run.errors}` : ''}`);
    return run;
  });
}

function mib(bytes) {
  return (bytes / 2 ** 20).toFixed(1);
}

function report() {
  console.log(`\nCluster benchmark, ${opts.members} members on loopback (${opts.durationMs} ms per run in ${opts.slices} slices, key ${opts.keySize} B, value ${opts.valSize} B, range consistency ${opts.consistency}, load on ${opts.target === 'leader' ? 'the leader' : 'all members'}, transport ${opts.transport})\n`);
  printRequestTable(runs, 'cluster µs/req');
  console.log(`\nMember RSS before and after writing ${opts.keys} keys (${opts.valSize} B values)\n`);
  printTable([
    { title: 'server', value: (r) => r.server, left: true },
    { title: 'member', value: (r) => r.name, left: true },
    { title: 'RSS before MiB', value: (r) => mib(r.rssBeforeBytes) },
    { title: 'RSS after MiB', value: (r) => mib(r.rssAfterBytes) },
    { title: 'write req/s', value: (r) => Math.round(r.requestsPerSec) },
  ], memory.flatMap((m) => m.members.map((member) => ({ server: m.server, requestsPerSec: m.requestsPerSec, ...member }))));
  const lines = requestRatios(runs, { cpu: false });
  const maxRss = (server) => Math.max(...(memory.find((m) => m.server === server)?.members.map((m) => m.rssAfterBytes) ?? [NaN]));
  if (memory.length === 2) lines.push(`  largest member RSS after ${opts.keys} keys: ${(maxRss('etcdts') / maxRss('etcd')).toFixed(2)}x`);
  if (lines.length > 0) console.log(`\netcdts / etcd:\n${lines.join('\n')}`);
}
