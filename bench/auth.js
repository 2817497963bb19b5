#!/usr/bin/env node
// Authenticate benchmark, one member: how many Authenticate calls per second
// etcdts and the real etcd 3.4.23 answer at a given bcrypt cost (default 10,
// both servers' default), same machine, same run. bcrypt is the whole cost of
// an Authenticate; this tells what a password guesser (or a fleet of clients
// reconnecting at once) gets out of one member.
//
//   npm run build && node bench/auth.js [--cost 10] [--clients 1,8] [--duration-ms 5000]
//
// Not a test: nothing here asserts timings.

import { credentials, Metadata } from '@grpc/grpc-js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadBenchmarkLibrary, options, repoRoot } from './lib/common.js';
import { startServers } from './lib/servers.js';

const opts = options({ cost: 10, clients: [1, 8], durationMs: 5000, servers: ['etcd', 'etcdts'] });
const { AuthClient } = await import(pathToFileURL(join(repoRoot, 'dist', 'src', 'proto', 'gen', 'etcdserverpb', 'rpc.js')).href);

const unary = (client, method, req, token) => new Promise((resolve, reject) => {
  const md = new Metadata();
  if (token !== undefined) md.set('token', token);
  client[method](req, md, { deadline: Date.now() + 30_000 }, (err, res) => (err ? reject(err) : resolve(res)));
});

async function provision(client) {
  await unary(client, 'userAdd', { name: 'root', password: 'root-pw', options: { noPassword: false }, hashedPassword: '' });
  await unary(client, 'roleAdd', { name: 'root' });
  await unary(client, 'userGrantRole', { user: 'root', role: 'root' });
  for (let i = 0; i < 64; i++) await unary(client, 'userAdd', { name: `u${i}`, password: `pw-${i}`, options: { noPassword: false }, hashedPassword: '' });
  await unary(client, 'authEnable', {});
}

/** `clients` loops, each authenticating its own user (right password) until the time is up. */
async function measure(client, clients, durationMs) {
  const latencies = [];
  const end = Date.now() + durationMs;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (Date.now() < end) {
      const t0 = performance.now();
      await unary(client, 'authenticate', { name: `u${c % 64}`, password: `pw-${c % 64}` });
      latencies.push(performance.now() - t0);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { rate: latencies.length / (durationMs / 1000), p50: latencies[Math.floor(latencies.length / 2)], p99: latencies[Math.floor(latencies.length * 0.99)] };
}

const lib = await loadBenchmarkLibrary();
const servers = await startServers(opts.servers, lib, ['--bcrypt-cost', String(opts.cost)]);
try {
  console.log(`Authenticate, bcrypt cost ${opts.cost}, ${opts.durationMs} ms per row`);
  for (const server of servers) {
    const client = new AuthClient(server.endpoints[0].replace(/^https?:\/\//, ''), credentials.createInsecure());
    await provision(client);
    for (const clients of opts.clients) {
      const r = await measure(client, clients, opts.durationMs);
      console.log(`${server.kind.padEnd(7)} clients ${String(clients).padStart(3)}: ${r.rate.toFixed(1).padStart(6)}/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms`);
    }
    client.close();
  }
} finally {
  for (const s of servers) await s.stop();
}
