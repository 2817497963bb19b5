#!/usr/bin/env node
// KV benchmark, one member: put and range throughput and latency of etcdts
// against the real etcd 3.4.23, same machine, same run, same load generator.
//
//   npm run build && node bench/kv.js [--clients 1,16,256] [--duration-ms 5000] ...
//   node bench/kv.js --help          (every option; BENCH_<NAME> env vars work too)
//
// Both servers run side by side on loopback (each with a fresh data dir).
// Every scenario is cut into --slices time slices that alternate between the
// servers (etcd, etcdts, etcdts, etcd, ...), and each server's slices are
// pooled, so that both see the same machine load even on a busy shared
// machine. Not a test: nothing here asserts timings.

import { loadBenchmarkLibrary, machineInfo, ms, options, printRequestTable, requestRatios, writeResults } from './lib/common.js';
import { runInterleaved, runRow } from './lib/interleave.js';
import { etcdtsUnavailableReason, putKey, startServer } from './lib/servers.js';

const opts = options({
  scenarios: ['put', 'range'],
  clients: [1, 16, 256],
  servers: ['etcd', 'etcdts'],
  /** Measured time per run; 0 to use --total instead. */
  durationMs: 5000,
  total: 0,
  warmupMs: 1000,
  /** Connections per run; 0 means min(clients, 16). */
  conns: 0,
  keySize: 8,
  valSize: 256,
  keySpaceSize: 100000,
  sequentialKeys: true,
  consistency: 'l',
  rangeKey: 'foo',
  transport: 'frames',
  workers: 0,
  /** Each run is cut into this many slices, alternating between the servers. */
  slices: 4,
  /** Repeat everything; the run with the median req/s is reported. */
  rounds: 1,
});

const lib = await loadBenchmarkLibrary();
const servers = await startServers();
if (servers.length === 0) {
  console.error('no server to benchmark');
  process.exit(1);
}
for (const server of servers) await putKey(lib, server.endpoints[0], opts.rangeKey, Buffer.alloc(opts.valSize, 0x61));

const before = machineInfo();
const runs = [];
for (let round = 0; round < opts.rounds; round++) {
  for (const scenario of opts.scenarios) {
    for (const clients of opts.clients) runs.push(...(await runScenario(scenario, clients, round)));
  }
}
const rss = servers.flatMap((s) => s.rss().map((m) => ({ server: s.kind, ...m })));
for (const server of servers) await server.stop();

const reported = pickMedians(runs);
report(reported, rss);
const file = writeResults('kv', { kind: 'kv', options: opts, machineBefore: before, machineAfter: machineInfo(), runs, reported, rss });
console.log(`\nresults: ${file}`);

async function startServers() {
  const started = [];
  for (const kind of opts.servers) {
    if (kind === 'etcdts') {
      const reason = etcdtsUnavailableReason();
      if (reason !== undefined) {
        console.log(`etcdts skipped: ${reason}`);
        continue;
      }
    }
    try {
      started.push(await startServer(kind, 1, lib));
    } catch (err) {
      if (kind === 'etcd') throw err;
      console.log(`etcdts skipped: ${err.message}`);
    }
  }
  return started;
}

function workloadFor(scenario) {
  return {
    ...lib.defaultWorkloadSpec,
    operation: scenario,
    keySize: opts.keySize,
    valSize: opts.valSize,
    keySpaceSize: opts.keySpaceSize,
    sequentialKeys: opts.sequentialKeys,
    rangeKey: opts.rangeKey,
    serializable: opts.consistency === 's',
  };
}

/** One scenario against every server, in alternating slices; one pooled run per server. */
async function runScenario(scenario, clients, round) {
  const entries = await runInterleaved(lib, servers, opts.slices, (server, slices) => ({
    endpoints: server.endpoints,
    conns: opts.conns > 0 ? opts.conns : Math.min(clients, 16),
    clients,
    transport: opts.transport,
    workers: opts.workers,
    workload: workloadFor(scenario),
    total: opts.durationMs > 0 ? undefined : Math.max(1, Math.round(opts.total / slices)),
    durationMs: opts.durationMs > 0 ? opts.durationMs / slices : undefined,
    warmupMs: opts.warmupMs / slices,
  }));
  return entries.map((entry) => {
    const run = runRow(scenario, clients, entry, { round });
    console.error(`${scenario} clients=${clients} ${run.server}: ${Math.round(run.requestsPerSec)} req/s p99 ${ms(run.p99Ms)} ms${run.errors ? ` errors ${run.errors}` : ''}`);
    return run;
  });
}

function pickMedians(all) {
  const groups = new Map();
  for (const run of all) {
    const key = `${run.scenario}/${run.clients}/${run.server}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((g) => [...g].sort((a, b) => a.requestsPerSec - b.requestsPerSec)[Math.floor(g.length / 2)]);
}

function report(rows, rssRows) {
  console.log(`\nKV benchmark, one member (${opts.durationMs > 0 ? `${opts.durationMs} ms` : `${opts.total} requests`} per run in ${opts.slices} slices, key ${opts.keySize} B, value ${opts.valSize} B, range consistency ${opts.consistency}, transport ${opts.transport})\n`);
  printRequestTable(rows);
  const ratios = requestRatios(rows);
  if (ratios.length > 0) console.log(`\netcdts / etcd:\n${ratios.join('\n')}`);
  console.log(`\nRSS at the end: ${rssRows.map((m) => `${m.name} ${(m.rssBytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
}
