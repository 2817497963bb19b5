#!/usr/bin/env node
// Server CPU per do-nothing unary gRPC call, for three transports: our own
// HTTP/2 + gRPC server (src/server/api/grpc-server), grpc-js's Server, and
// node:http2 with a thin gRPC layer written here. Each server runs in its own
// process (bench/lib/grpc-cpu-server.js) and reports its own
// process.cpuUsage(); the same closed-loop load drives each one: `conns`
// node:http2 client sessions, `streams` calls in flight on each, every call
// an empty request answered by an empty response. The figure that justifies
// owning the stack is µs of server CPU per call.
//
//   npm run build && node bench/grpc-server-cpu.js
//   node bench/grpc-server-cpu.js --servers etcdts --duration-ms 10000 --rounds 5
//   ETCDTS_DIST=/tmp/other-build/dist node bench/grpc-server-cpu.js --servers etcdts
//
// Rounds alternate the servers, so that a noisy neighbour on the machine
// spreads over all of them; the table shows the median round.

import { fork } from 'node:child_process';
import { connect, constants } from 'node:http2';
import { join } from 'node:path';
import { freePorts, machineInfo, options, printTable, repoRoot, sleep, writeResults } from './lib/common.js';

const opts = options({
  servers: ['etcdts', 'grpc-js', 'http2'],
  conns: 4,
  streams: 64,
  warmupMs: 2000,
  durationMs: 5000,
  rounds: 3,
});

const request = Buffer.from([0, 0, 0, 0, 0]);
const headers = {
  [constants.HTTP2_HEADER_METHOD]: 'POST',
  [constants.HTTP2_HEADER_PATH]: '/bench.Null/Call',
  [constants.HTTP2_HEADER_SCHEME]: 'http',
  [constants.HTTP2_HEADER_AUTHORITY]: 'localhost',
  'content-type': 'application/grpc',
  te: 'trailers',
};

/** Starts one server process; resolves once it listens. */
async function startServer(kind) {
  const [port] = await freePorts(1);
  const child = fork(join(repoRoot, 'bench', 'lib', 'grpc-cpu-server.js'), [kind, String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const cpuUs = () => new Promise((resolve) => {
    child.once('message', (usage) => resolve(usage.user + usage.system));
    child.send('cpu');
  });
  return { kind, port, cpuUs, stop: () => child.kill('SIGKILL') };
}

/**
 * Drives `conns` sessions with `streams` calls each in flight until `until`;
 * counts completed calls (grpc-status 0) and failures.
 */
function drive(port, until) {
  const totals = { calls: 0, failures: 0 };
  const sessions = [];
  const loops = [];
  for (let c = 0; c < opts.conns; c++) {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    sessions.push(session);
    for (let s = 0; s < opts.streams; s++) {
      loops.push(new Promise((resolve) => {
        const next = () => {
          if (Date.now() >= until || session.destroyed) {
            resolve();
            return;
          }
          const stream = session.request(headers);
          let ok = false;
          stream.on('trailers', (trailers) => {
            ok = trailers['grpc-status'] === '0';
          });
          stream.on('data', () => undefined);
          stream.on('error', () => undefined);
          stream.on('close', () => {
            if (ok) totals.calls++;
            else totals.failures++;
            next();
          });
          stream.end(request);
        };
        next();
      }));
    }
  }
  return Promise.all(loops).then(() => {
    for (const session of sessions) session.close();
    return totals;
  });
}

async function measure(kind) {
  const server = await startServer(kind);
  try {
    await drive(server.port, Date.now() + opts.warmupMs);
    await sleep(200);
    const cpuBefore = await server.cpuUs();
    const startedAt = Date.now();
    const totals = await drive(server.port, startedAt + opts.durationMs);
    const cpu = (await server.cpuUs()) - cpuBefore;
    const seconds = (Date.now() - startedAt) / 1000;
    return { server: kind, calls: totals.calls, failures: totals.failures, callsPerSec: totals.calls / seconds, serverCpuUsPerCall: cpu / totals.calls };
  } finally {
    server.stop();
  }
}

const rounds = new Map(opts.servers.map((s) => [s, []]));
for (let round = 0; round < opts.rounds; round++) {
  for (const kind of opts.servers) rounds.get(kind).push(await measure(kind));
}
const median = (rows) => [...rows].sort((a, b) => a.serverCpuUsPerCall - b.serverCpuUsPerCall)[Math.floor(rows.length / 2)];
const rows = opts.servers.map((kind) => ({ ...median(rounds.get(kind)), all: rounds.get(kind).map((r) => r.serverCpuUsPerCall.toFixed(1)).join(' ') }));
printTable([
  { title: 'server', value: (r) => r.server, left: true },
  { title: 'calls/s', value: (r) => Math.round(r.callsPerSec) },
  { title: 'failures', value: (r) => r.failures },
  { title: 'server µs/call (median)', value: (r) => r.serverCpuUsPerCall.toFixed(1) },
  { title: 'all rounds', value: (r) => r.all, left: true },
], rows);
const file = writeResults('grpc-server-cpu', { options: opts, machine: machineInfo(), etcdtsDist: process.env.ETCDTS_DIST ?? join(repoRoot, 'dist'), rounds: Object.fromEntries(rounds) });
console.log(`\nresults: ${file}`);
process.exit(0);
