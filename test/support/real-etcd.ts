import { existsSync } from 'node:fs';
import { freePort } from './ports.js';
import { start, tempDir, waitFor, run, kill9, type Spawned } from './procs.js';

/** The reference implementation from Debian's etcd-server / etcd-client packages. */
export const etcdBinary = '/usr/bin/etcd';
export const etcdctlBinary = '/usr/bin/etcdctl';

export function realEtcdAvailable(): boolean {
  return existsSync(etcdBinary) && existsSync(etcdctlBinary);
}

/**
 * For the `before` hook of every test that compares with the real etcd or
 * drives the real etcdctl: without them the tests fail, saying what to
 * install, rather than skip (a green run must mean they ran).
 */
export function requireRealEtcd(): void {
  if (!realEtcdAvailable()) {
    throw new Error(`${etcdBinary} and ${etcdctlBinary} are needed (the real etcd and etcdctl 3.4.23): install Debian's etcd-server and etcd-client packages, as .ci/run does`);
  }
}

/** The same for other tools a test runs (openssl, curl, tmux, ...). */
export function requireTool(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is needed by this test: install Debian's ${pkg} package, as .ci/run does`);
}

export interface RealEtcd {
  endpoint: string;
  clientPort: number;
  dataDir: string;
  proc: Spawned;
  stop(): Promise<void>;
}

/** Starts a one-member real etcd 3.4.23 on free loopback ports and waits until it serves. */
export async function startRealEtcd(extraArgs: string[] = []): Promise<RealEtcd> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = tempDir('real-etcd-');
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const proc = start(etcdBinary, [
    '--name', 'ref',
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `ref=${peerUrl}`,
    '--log-level', 'error',
    ...extraArgs,
  ], { env: { ...process.env, ETCD_UNSUPPORTED_ARCH: '' } });
  await waitFor('real etcd to serve', async () => {
    const r = await run(etcdctlBinary, ['--endpoints', clientUrl, 'endpoint', 'health'], { timeoutMs: 5000 });
    return r.code === 0;
  }, 20000, 100);
  return {
    endpoint: clientUrl,
    clientPort,
    dataDir,
    proc,
    stop: () => kill9(proc),
  };
}
