import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { start, tempDir, waitFor, kill9, type Spawned } from './procs.js';
import { connect } from 'node:net';

/** The repository root, found from this file's place in dist/test/support or .build/<x>/out/test/support. */
export const repoRoot = findRepoRoot();
export const runJs = join(repoRoot, 'bin', 'run.js');

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (dir.endsWith('/dist') || dir.endsWith('/.build')) return dirname(dir);
    dir = dirname(dir);
  }
  return process.cwd();
}

export interface EtcdtsMember {
  name: string;
  endpoint: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: Spawned;
  args: string[];
  stop(): Promise<void>;
  /** Starts the member again with the same flags and data dir (after stop or kill). */
  restart(): Promise<void>;
}

export interface StartOptions {
  name?: string;
  dataDir?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  waitReady?: boolean;
  /** URL schemes of the client and peer listeners (default http). */
  clientScheme?: 'http' | 'https';
  peerScheme?: 'http' | 'https';
  /** Working directory of the server process. */
  cwd?: string;
  /** A command the server runs under, e.g. ['prlimit', '--nofile=400:400'] (it must exec the server, keeping its PID). */
  wrapper?: string[];
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Starts a one-member etcdts server (`bin/run.js server`) on free loopback ports. */
export async function startEtcdts(options: StartOptions = {}): Promise<EtcdtsMember> {
  const name = options.name ?? 'default';
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dataDir = options.dataDir ?? join(tempDir('etcdts-'), `${name}.etcd`);
  const clientUrl = `${options.clientScheme ?? 'http'}://127.0.0.1:${clientPort}`;
  const peerUrl = `${options.peerScheme ?? 'http'}://127.0.0.1:${peerPort}`;
  const extra = options.extraArgs ?? [];
  const defaults: [string, string][] = [
    ['--name', name],
    ['--data-dir', dataDir],
    ['--listen-client-urls', clientUrl],
    ['--advertise-client-urls', clientUrl],
    ['--listen-peer-urls', peerUrl],
    ['--initial-advertise-peer-urls', peerUrl],
    ['--initial-cluster', `${name}=${peerUrl}`],
    ['--log-level', 'error'],
  ];
  // A flag may be given only once: the caller's extraArgs win over these defaults.
  const args = [runJs, 'server', ...defaults.filter(([flag]) => !extra.includes(flag)).flat(), ...extra];
  const env = { ...process.env, ...(options.env ?? {}) };
  const wrapper = options.wrapper ?? [];
  const launch = (): Spawned => wrapper.length === 0
    ? start(process.execPath, args, { env, cwd: options.cwd })
    : start(wrapper[0]!, [...wrapper.slice(1), process.execPath, ...args], { env, cwd: options.cwd });
  const member: EtcdtsMember = {
    name,
    endpoint: clientUrl,
    clientPort,
    peerPort,
    dataDir,
    args,
    proc: launch(),
    stop: () => kill9(member.proc),
    restart: async () => {
      await kill9(member.proc);
      member.proc = launch();
      await waitFor(`etcdts ${name} to listen again`, () => portOpen(clientPort), 30000, 50);
    },
  };
  if (options.waitReady !== false) {
    await waitFor(`etcdts ${name} to listen on ${clientPort}`, async () => {
      if (member.proc.child.exitCode !== null) throw new Error(`server exited: ${member.proc.output()}`);
      return portOpen(clientPort);
    }, 30000, 50);
  }
  return member;
}
