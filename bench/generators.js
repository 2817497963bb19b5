#!/usr/bin/env node
// How much does the load generator itself cost? Drives the real etcd with
// every transport of src/benchmark (and the cheapest one from worker
// threads), and reports req/s, latency, and the CPU time per request of the
// client (this process) and of etcd. On a 2-core machine every µs the client
// spends is taken from the server, so the transport with the lowest client
// µs/req gives the most faithful figures; this script is how that choice was
// made and how it can be re-checked.
//
//   npm run build && node bench/generators.js [--clients 1,16,256] [--duration-ms 3000]

import { loadBenchmarkLibrary, machineInfo, ms, options, printTable, writeResults } from './lib/common.js';
import { putKey, startServer } from './lib/servers.js';

const opts = options({
  transports: ['frames', 'http2', 'grpc-js-raw', 'grpc-js'],
  operations: ['put', 'range'],
  clients: [1, 16, 256],
  /** Worker-thread counts tried with the first transport at the largest client count. */
  workers: [1, 2],
  durationMs: 3000,
  warmupMs: 500,
  /** Connections per run; 0 means min(clients, 16). */
  conns: 0,
  valSize: 256,
});

const lib = await loadBenchmarkLibrary();
const etcd = await startServer('etcd', 1, lib);
await putKey(lib, etcd.endpoints[0], 'foo', Buffer.alloc(opts.valSize, 0x61));

const plan = [];
for (const operation of opts.operations) {
  for (const clients of opts.clients) {
    for (const transport of opts.transports) plan.push({ operation, clients, transport, workers: 0 });
  }
  const most = Math.max(...opts.clients);
  for (const workers of opts.workers) plan.push({ operation, clients: most, transport: opts.transports[0], workers });
}

const before = machineInfo();
const rows = [];
for (const p of plan) {
  const cpuBefore = etcd.cpuUs();
  const result = await lib.runBenchmark({
    endpoints: etcd.endpoints,
    conns: opts.conns > 0 ? opts.conns : Math.min(p.clients, 16),
    clients: p.clients,
    transport: p.transport,
    workers: p.workers,
    workload: { ...lib.defaultWorkloadSpec, operation: p.operation, valSize: opts.valSize, keySpaceSize: 100000, sequentialKeys: true, rangeKey: 'foo' },
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
  });
  const s = result.stats;
  const row = {
    ...p,
    requestsPerSec: s.requestsPerSec, p50Ms: s.percentilesMs['50'], p99Ms: s.percentilesMs['99'], maxMs: s.slowestMs, errors: s.errorCount,
    clientCpuUsPerRequest: s.clientCpuUsPerRequest, serverCpuUsPerRequest: (etcd.cpuUs() - cpuBefore) / result.completedAll,
  };
  rows.push(row);
  console.error(`${p.operation} clients=${p.clients} ${p.transport} workers=${p.workers}: ${Math.round(row.requestsPerSec)} req/s, client ${row.clientCpuUsPerRequest.toFixed(1)} µs/req`);
}
await etcd.stop();

console.log(`\nLoad generators against the real etcd (one member, ${opts.durationMs} ms per run, value ${opts.valSize} B, load average before ${before.loadavg.map((l) => l.toFixed(2)).join(' ')})\n`);
printTable([
  { title: 'op', value: (r) => r.operation, left: true },
  { title: 'clients', value: (r) => r.clients },
  { title: 'transport', value: (r) => r.transport, left: true },
  { title: 'workers', value: (r) => r.workers },
  { title: 'req/s', value: (r) => Math.round(r.requestsPerSec) },
  { title: 'p50 ms', value: (r) => ms(r.p50Ms) },
  { title: 'p99 ms', value: (r) => ms(r.p99Ms) },
  { title: 'errors', value: (r) => r.errors },
  { title: 'client µs/req', value: (r) => r.clientCpuUsPerRequest.toFixed(1) },
  { title: 'etcd µs/req', value: (r) => r.serverCpuUsPerRequest.toFixed(1) },
  { title: 'client ceiling req/s/core', value: (r) => Math.round(1e6 / r.clientCpuUsPerRequest) },
], rows);
const file = writeResults('generators', { kind: 'generators', options: opts, machineBefore: before, machineAfter: machineInfo(), rows });
console.log(`\nresults: ${file}`);
