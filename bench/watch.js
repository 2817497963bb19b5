#!/usr/bin/env node
// Watch latency (put → event) with many watchers, etcdts against the real
// etcd 3.4.23, same machine, same run, same load generator.
//
//   npm run build && node bench/watch.js [--watchers 1,100,1000] [--modes rate,full] ...
//   node bench/watch.js --help          (every option; BENCH_<NAME> env vars work too)
//
// Two modes, as in etcd's `benchmark watch-latency` (rate) and `benchmark
// watch` with --put-rate 0 (full):
//   rate  a putter writes --put-rate values per second, on schedule, to the
//         key every watcher watches: the latency of a watch system at a
//         given load (events/s is then just rate × watchers);
//   full  --put-clients closed-loop putters write as fast as they are
//         answered: how many events per second the server fans out, and
//         how late they arrive when it cannot keep up.
// Latency is from the put's send to the socket read that brings the event to
// each watcher, one sample per (put, watcher). Every watcher must see every
// put exactly once, in revision order: missed / duplicated / out-of-order
// are counted and must be 0. Not a test: nothing here asserts timings.

import { loadBenchmarkLibrary, machineInfo, ms, options, printTable, writeResults } from './lib/common.js';
import { medianRows, runSlices } from './lib/interleave.js';
import { startServers } from './lib/servers.js';

const opts = options({
  watchers: [1, 100, 1000],
  modes: ['rate', 'full'],
  servers: ['etcd', 'etcdts'],
  /** Watch streams; 0 means min(watchers, 10) (etcd's watch-latency default is 10 streams). */
  streams: 0,
  /** Connections carrying the streams; 0 means one per stream, at most 16. The putter has its own. */
  conns: 0,
  /** rate mode: puts per second, and puts per run (all slices together). */
  putRate: 100,
  ratePuts: 500,
  /** full mode: puts per run are fullEvents / watchers, at most fullPutsMax. */
  fullEvents: 1000000,
  fullPutsMax: 5000,
  putClients: 16,
  /** Share of each slice's puts that warm up (delivered and checked, not measured). */
  warmupFraction: 0.1,
  key: 'bench/watch/key',
  prefix: false,
  keySpaceSize: 100,
  valSize: 32,
  prevKv: false,
  settleTimeoutMs: 5000,
  /** Each run is cut into this many slices, alternating between the servers. */
  slices: 4,
  /** Repeat everything; per scenario and server the round with the median is reported. */
  rounds: 1,
  /** First run one unrecorded slice of every scenario on every server (JIT, caches, heaps). */
  serverWarmup: true,
});

const lib = await loadBenchmarkLibrary();
const servers = await startServers(opts.servers, lib);

if (opts.serverWarmup) await warmUp();
const before = machineInfo();
const runs = [];
for (let round = 0; round < opts.rounds; round++) {
  for (const mode of opts.modes) {
    for (const watchers of opts.watchers) runs.push(...(await runScenario(mode, watchers, round)));
  }
}
const rss = servers.flatMap((s) => s.rss().map((m) => ({ server: s.kind, ...m })));
for (const server of servers) await server.stop();

// rate: the round with the median p50; full: the one with the median events/s.
const reported = medianRows(runs, (r) => `${r.mode}/${r.watchers}/${r.server}`, (r) => (r.mode === 'rate' ? r.p50Ms : r.eventsPerSec));
report(reported, rss);
const file = writeResults('watch', { kind: 'watch', options: opts, machineBefore: before, machineAfter: machineInfo(), runs, reported, rss });
console.log(`\nresults: ${file}`);

function layout(watchers) {
  const streams = opts.streams > 0 ? Math.min(opts.streams, watchers) : Math.min(watchers, 10);
  if (watchers % streams !== 0) throw new Error(`${watchers} watchers do not split evenly over ${streams} streams`);
  return { streams, watchersPerStream: watchers / streams, conns: opts.conns > 0 ? opts.conns : Math.min(streams, 16) };
}

function slicePuts(mode, watchers) {
  const perRun = mode === 'rate' ? opts.ratePuts : Math.min(opts.fullPutsMax, Math.ceil(opts.fullEvents / watchers));
  return Math.max(2, Math.round(perRun / opts.slices));
}

function watchOptions(server, mode, watchers) {
  const { streams, watchersPerStream, conns } = layout(watchers);
  const putTotal = slicePuts(mode, watchers);
  return {
    endpoints: server.endpoints,
    conns,
    streams,
    watchersPerStream,
    key: Buffer.from(opts.key),
    prefix: opts.prefix,
    keySpaceSize: opts.keySpaceSize,
    valSize: opts.valSize,
    prevKv: opts.prevKv,
    putTotal,
    putRate: mode === 'rate' ? opts.putRate : 0,
    putClients: opts.putClients,
    warmupPuts: Math.min(putTotal - 1, Math.ceil(putTotal * opts.warmupFraction)),
    settleTimeoutMs: opts.settleTimeoutMs,
  };
}

async function warmUp() {
  for (const server of servers) {
    for (const mode of opts.modes) for (const watchers of opts.watchers) await lib.runWatchLatency(watchOptions(server, mode, watchers));
  }
  console.error('server warm-up done');
}

async function runScenario(mode, watchers, round) {
  const { streams, watchersPerStream } = layout(watchers);
  const entries = await runSlices(servers, opts.slices, (server) => lib.runWatchLatency(watchOptions(server, mode, watchers)));
  return entries.map(({ server, results, cpuUs }) => {
    const r = lib.mergeWatchResults(results);
    const row = rowOf(mode, watchers, streams, watchersPerStream, server, r, cpuUs, round);
    console.error(`${mode} watchers=${watchers} ${row.server}: ${Math.round(row.eventsPerSec)} events/s, p50 ${ms(row.p50Ms)} p99 ${ms(row.p99Ms)} ms, put p50 ${ms(row.putP50Ms)} ms, missed ${row.missed} dup ${row.duplicated}${row.watchErrors.length ? ` errors: ${row.watchErrors.slice(0, 3).join('; ')}` : ''}`);
    return row;
  });
}

function rowOf(mode, watchers, streams, watchersPerStream, server, r, cpuUs, round) {
  const e = r.events;
  return {
    mode, watchers, streams, watchersPerStream, server: server.kind, round,
    putRate: mode === 'rate' ? opts.putRate : 0, puts: r.puts,
    putsPerSec: r.put.requestsPerSec, eventsPerSec: e.requestsPerSec,
    p50Ms: e.percentilesMs['50'], p90Ms: e.percentilesMs['90'], p99Ms: e.percentilesMs['99'], maxMs: e.slowestMs, averageMs: e.averageMs,
    putP50Ms: r.put.percentilesMs['50'], putP99Ms: r.put.percentilesMs['99'], putErrors: r.put.errorCount, putErrorMessages: r.put.errors,
    eventsExpected: r.eventsExpected, eventsReceived: r.eventsReceived,
    missed: r.missed, duplicated: r.duplicated, outOfOrder: r.outOfOrder, unexpected: r.unexpected, watchErrors: r.watchErrors,
    clientCpuUsPerEvent: e.clientCpuUsPerRequest,
    // Setup (creating the watchers) included: it is small next to the events.
    serverCpuUsPerEvent: cpuUs / r.eventsReceived,
    setupMs: r.setupMs,
  };
}

function report(rows, rssRows) {
  console.log(`\nWatch latency, one member: put sent → event read by each watcher (rate: ${opts.putRate} puts/s, ${opts.ratePuts} puts per run; full: ${opts.putClients} closed-loop putters; ${opts.slices} slices, key ${opts.key}${opts.prefix ? ' (prefix)' : ''}, value ${opts.valSize} B)\n`);
  printTable([
    { title: 'mode', value: (r) => r.mode, left: true },
    { title: 'watchers', value: (r) => r.watchers },
    { title: 'streams', value: (r) => `${r.streams}x${r.watchersPerStream}` },
    { title: 'server', value: (r) => r.server, left: true },
    { title: 'puts/s', value: (r) => Math.round(r.putsPerSec) },
    { title: 'events/s', value: (r) => Math.round(r.eventsPerSec) },
    { title: 'p50 ms', value: (r) => ms(r.p50Ms) },
    { title: 'p90 ms', value: (r) => ms(r.p90Ms) },
    { title: 'p99 ms', value: (r) => ms(r.p99Ms) },
    { title: 'max ms', value: (r) => ms(r.maxMs) },
    { title: 'put p50', value: (r) => ms(r.putP50Ms) },
    { title: 'put p99', value: (r) => ms(r.putP99Ms) },
    { title: 'missed', value: (r) => r.missed },
    { title: 'dup', value: (r) => r.duplicated },
    { title: 'order', value: (r) => r.outOfOrder },
    { title: 'client µs/ev', value: (r) => r.clientCpuUsPerEvent.toFixed(2) },
    { title: 'server µs/ev', value: (r) => r.serverCpuUsPerEvent.toFixed(2) },
  ], rows);
  const bad = rows.filter((r) => r.missed || r.duplicated || r.outOfOrder || r.unexpected || r.watchErrors.length || r.putErrors);
  for (const r of bad) console.log(`\n!! ${r.mode} ${r.watchers} ${r.server}: missed ${r.missed}, duplicated ${r.duplicated}, out of order ${r.outOfOrder}, unexpected ${r.unexpected}, put errors ${r.putErrors}${r.watchErrors.length ? `, ${r.watchErrors.join('; ')}` : ''}`);
  const ratios = [];
  for (const r of rows.filter((x) => x.server === 'etcdts')) {
    const ref = rows.find((x) => x.server === 'etcd' && x.mode === r.mode && x.watchers === r.watchers);
    if (ref === undefined) continue;
    ratios.push(`  ${r.mode} ${r.watchers} watchers: events/s ${(r.eventsPerSec / ref.eventsPerSec).toFixed(2)}x, p50 ${(r.p50Ms / ref.p50Ms).toFixed(2)}x, p99 ${(r.p99Ms / ref.p99Ms).toFixed(2)}x, server CPU/event ${(r.serverCpuUsPerEvent / ref.serverCpuUsPerEvent).toFixed(2)}x`);
  }
  if (ratios.length > 0) console.log(`\netcdts / etcd:\n${ratios.join('\n')}`);
  console.log(`\nRSS at the end: ${rssRows.map((m) => `${m.name} ${(m.rssBytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
}
