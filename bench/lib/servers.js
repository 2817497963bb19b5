// Starting the servers under test on loopback: the real etcd and etcdts, one
// member or a cluster, each member with its own fresh data dir, both given
// the same etcd flags. A server is ready when every member answers a
// linearizable Range.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  etcdBinary, freePorts, portOpen, processCpuUs, processRssBytes, removeTempDir, runJs,
  sleep, startProcess, stopProcess, tempDir,
} from './common.js';

const readyTimeoutMs = 30_000;

/** Why etcdts cannot be benchmarked in this checkout, or undefined if it may be. */
export function etcdtsUnavailableReason() {
  if (!existsSync(runJs)) return `${runJs} is missing`;
  const serverJs = join(dirname(runJs), '..', 'dist', 'src', 'commands', 'server.js');
  if (!existsSync(serverJs)) return `the server command is not built (${serverJs} missing)`;
  return undefined;
}

function memberArgs(member, cluster, token, extra) {
  return [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', cluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', token,
    '--log-level', 'error',
    ...extra,
  ];
}

/**
 * Starts `size` members of `kind` ('etcd' | 'etcdts') and waits until each
 * serves. `lib` is the benchmark library (its FramedConnection probes readiness).
 */
export async function startServer(kind, size, lib, extraArgs = []) {
  const root = tempDir(`bench-${kind}-`);
  const ports = await freePorts(2 * size);
  const members = Array.from({ length: size }, (_, i) => ({
    name: `${kind}-${i}`,
    dataDir: join(root, `${kind}-${i}.etcd`),
    clientPort: ports[2 * i],
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const cluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) {
    const args = memberArgs(m, cluster, `bench-${kind}-${process.pid}`, extraArgs);
    m.proc = kind === 'etcd' ? startProcess(etcdBinary, args) : startProcess(process.execPath, [runJs, ...['server', ...args]]);
    m.pid = m.proc.pid;
  }
  const server = {
    kind,
    members,
    endpoints: members.map((m) => m.clientUrl),
    cpuUs: () => members.reduce((sum, m) => sum + processCpuUs(m.pid), 0),
    rss: () => members.map((m) => ({ name: m.name, rssBytes: processRssBytes(m.pid) })),
    stop: async () => {
      await Promise.all(members.map((m) => stopProcess(m.proc)));
      removeTempDir(root);
    },
  };
  try {
    await Promise.all(members.map((m) => waitServing(m, lib)));
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

async function waitServing(member, lib) {
  const deadline = Date.now() + readyTimeoutMs;
  const probe = lib.encodeRangeFrame(Buffer.from('bench-ready'), Buffer.alloc(0), false);
  let lastError = 'not listening';
  while (Date.now() < deadline) {
    if (!member.proc.running()) {
      throw new Error(`${member.name} exited before serving:\n${member.proc.output().trim().split('\n').slice(-15).join('\n')}`);
    }
    if (await portOpen(member.clientPort)) {
      let connection;
      try {
        connection = await lib.FramedConnection.open(new URL(member.clientUrl));
        await connection.unary('/etcdserverpb.KV/Range', probe);
        return;
      } catch (err) {
        lastError = err.message;
      } finally {
        await connection?.close();
      }
    }
    await sleep(100);
  }
  throw new Error(`${member.name} did not serve within ${readyTimeoutMs} ms (${lastError})`);
}

/** Writes one key through the first endpoint (the key a range benchmark reads). */
export async function putKey(lib, endpoint, key, value) {
  const connection = await lib.FramedConnection.open(lib.endpointUrl(endpoint));
  try {
    await connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(Buffer.from(key), value));
  } finally {
    await connection.close();
  }
}

/**
 * Starts one member of each kind in `kinds` ('etcd', 'etcdts'); etcdts is
 * skipped with a message when it is not built or does not come up, the real
 * etcd failing is fatal.
 */
export async function startServers(kinds, lib, extraArgs = []) {
  const started = [];
  for (const kind of kinds) {
    if (kind === 'etcdts') {
      const reason = etcdtsUnavailableReason();
      if (reason !== undefined) {
        console.log(`etcdts skipped: ${reason}`);
        continue;
      }
    }
    try {
      started.push(await startServer(kind, 1, lib, extraArgs));
    } catch (err) {
      if (kind === 'etcd') throw err;
      console.log(`etcdts skipped: ${err.message}`);
    }
  }
  if (started.length === 0) throw new Error('no server to benchmark');
  return started;
}
