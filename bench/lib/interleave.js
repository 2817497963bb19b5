// Running one load against several servers fairly on a busy shared machine:
// the run is cut into slices that alternate between the servers (A B, B A,
// A B, ...), and each server's slices are pooled into one result, so that a
// change in the machine's load hits every server alike.

/**
 * `optionsFor(server, slices)` gives runBenchmark's options for one slice of
 * `server`. Resolves to one entry per server: the merged result and the
 * server's CPU time (all its members) per call served, warm-up included.
 */
export async function runInterleaved(lib, servers, slices, optionsFor) {
  const results = servers.map(() => []);
  const cpuUs = servers.map(() => 0);
  for (let slice = 0; slice < slices; slice++) {
    const order = servers.map((_, i) => i);
    if (slice % 2 === 1) order.reverse();
    for (const i of order) {
      const cpuBefore = servers[i].cpuUs();
      results[i].push(await lib.runBenchmark(optionsFor(servers[i], slices)));
      cpuUs[i] += servers[i].cpuUs() - cpuBefore;
    }
  }
  return servers.map((server, i) => {
    const result = lib.mergeResults(results[i]);
    return { server, result, serverCpuUsPerRequest: cpuUs[i] / result.completedAll };
  });
}

/** The row the scripts print and save for one server's pooled run. */
export function runRow(scenario, clients, entry, extra = {}) {
  const s = entry.result.stats;
  return {
    scenario, clients, server: entry.server.kind, ...extra,
    requestsPerSec: s.requestsPerSec, count: s.count, errors: s.errorCount, errorMessages: s.errors,
    p50Ms: s.percentilesMs['50'], p90Ms: s.percentilesMs['90'], p99Ms: s.percentilesMs['99'], maxMs: s.slowestMs,
    averageMs: s.averageMs, clientCpuUsPerRequest: s.clientCpuUsPerRequest,
    serverCpuUsPerRequest: entry.serverCpuUsPerRequest,
  };
}

/**
 * The general form: `runSlice(server, slice)` runs one slice against one
 * server and resolves to anything. Resolves to one entry per server with
 * its slice results in order and the server's CPU time (all members) over
 * its slices, for scripts whose runs are not runBenchmark's (watch, lease).
 */
export async function runSlices(servers, slices, runSlice) {
  const results = servers.map(() => []);
  const cpuUs = servers.map(() => 0);
  for (let slice = 0; slice < slices; slice++) {
    const order = servers.map((_, i) => i);
    if (slice % 2 === 1) order.reverse();
    for (const i of order) {
      const cpuBefore = servers[i].cpuUs();
      results[i].push(await runSlice(servers[i], slice));
      cpuUs[i] += servers[i].cpuUs() - cpuBefore;
    }
  }
  return servers.map((server, i) => ({ server, results: results[i], cpuUs: cpuUs[i] }));
}

/** Of several rounds' rows of the same scenario and server, the one with the median of `value`. */
export function medianRows(rows, keyOf, value) {
  const groups = new Map();
  for (const row of rows) {
    const key = keyOf(row);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()].map((g) => [...g].sort((a, b) => value(a) - value(b))[Math.floor(g.length / 2)]);
}
