import { join } from 'node:path';
import { freePort } from './ports.js';
import { kill9, start, tempDir, waitFor, type Spawned } from './procs.js';
import { portOpen, runJs } from './etcdts.js';
import { etcdBinary } from './real-etcd.js';
import { RawKv } from './raw-kv.js';
import { scheme, serverTlsFlags } from './transport-mode.js';

/**
 * Multi-member clusters on loopback for tests: etcdts members (`bin/run.js
 * server`) or real etcd 3.4.23 members, started with etcd's own flags on free
 * ports, each member restartable with the same flags and data dir.
 */
export type ServerKind = 'etcdts' | 'etcd';

export interface ClusterMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  clientPort: number;
  dataDir: string;
  proc: Spawned | undefined;
  /** The flags it was started with (initial-cluster-state may change on restart: it is ignored once data exists). */
  args: string[];
}

export interface Cluster {
  kind: ServerKind;
  members: ClusterMember[];
  token: string;
  endpoints(): string[];
  /** Kills a member with SIGKILL. */
  kill(name: string): Promise<void>;
  /** Starts a killed member again with its flags and data dir. */
  restart(name: string): Promise<void>;
  /** Starts a new member with --initial-cluster-state=existing, on the peer URL given to `member add`. */
  join(name: string, peerUrl: string, initialCluster: string, extraArgs?: string[]): Promise<ClusterMember>;
  stopAll(): Promise<void>;
}

export interface ClusterOptions {
  size?: number;
  kind?: ServerKind;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait until every member accepts client connections (default true). */
  waitReady?: boolean;
  /** Server log level (default error, to keep test output clean). */
  logLevel?: string;
}

function command(kind: ServerKind): { bin: string; prefix: string[] } {
  return kind === 'etcdts' ? { bin: process.execPath, prefix: [runJs, 'server'] } : { bin: etcdBinary, prefix: [] };
}

function memberArgs(m: Pick<ClusterMember, 'name' | 'dataDir' | 'clientUrl' | 'peerUrl'>, initialCluster: string, state: 'new' | 'existing', token: string, extra: string[], logLevel = 'error'): string[] {
  return [
    '--name', m.name,
    '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientUrl,
    '--advertise-client-urls', m.clientUrl,
    '--listen-peer-urls', m.peerUrl,
    '--initial-advertise-peer-urls', m.peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', state,
    '--initial-cluster-token', token,
    '--log-level', logLevel,
    ...serverTlsFlags(),
    ...extra,
  ];
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const size = options.size ?? 3;
  const kind = options.kind ?? 'etcdts';
  const extra = options.extraArgs ?? [];
  const token = `cluster-${Math.random().toString(36).slice(2, 8)}`;
  const base = tempDir(`${kind}-cluster-`);
  const members: ClusterMember[] = [];
  for (let i = 1; i <= size; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({ name: `m${i}`, clientUrl: `${scheme()}://127.0.0.1:${clientPort}`, peerUrl: `${scheme()}://127.0.0.1:${peerPort}`, clientPort, dataDir: join(base, `m${i}.etcd`), proc: undefined, args: [] });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const { bin, prefix } = command(kind);
  const env = { ...process.env, ...(options.env ?? {}) };
  const launch = (m: ClusterMember): void => {
    m.proc = start(bin, [...prefix, ...m.args], { env });
  };
  for (const m of members) {
    m.args = memberArgs(m, initialCluster, 'new', token, extra, options.logLevel);
    launch(m);
  }
  const cluster: Cluster = {
    kind,
    members,
    token,
    endpoints: () => members.filter((m) => m.proc !== undefined).map((m) => m.clientUrl),
    kill: async (name) => {
      const m = members.find((x) => x.name === name);
      if (m?.proc !== undefined) await kill9(m.proc);
      if (m !== undefined) m.proc = undefined;
    },
    restart: async (name) => {
      const m = members.find((x) => x.name === name);
      if (m === undefined) throw new Error(`no member ${name}`);
      if (m.proc !== undefined) await kill9(m.proc);
      launch(m);
      await waitFor(`${name} to serve again`, () => portOpen(m.clientPort), 60000, 50);
    },
    join: async (name, peerUrl, joinCluster, extraArgs = []) => {
      const clientPort = await freePort();
      const m: ClusterMember = { name, clientUrl: `${scheme()}://127.0.0.1:${clientPort}`, peerUrl, clientPort, dataDir: join(base, `${name}.etcd`), proc: undefined, args: [] };
      m.args = memberArgs(m, joinCluster, 'existing', token, [...extra, ...extraArgs], options.logLevel);
      members.push(m);
      launch(m);
      await waitFor(`${name} to serve`, () => portOpen(clientPort), 120000, 100);
      return m;
    },
    stopAll: async () => {
      for (const m of members) if (m.proc !== undefined) await kill9(m.proc);
    },
  };
  if (options.waitReady !== false) {
    await Promise.all(members.map((m) => waitFor(`${m.name} to serve`, async () => {
      if (m.proc?.child.exitCode !== null && m.proc?.child.exitCode !== undefined) throw new Error(`${m.name} exited: ${m.proc.output()}`);
      return portOpen(m.clientPort);
    }, 60000, 50)));
  }
  return cluster;
}

/** The peer URL a new member will use, for `member add --peer-urls` before it starts. */
export async function reservePeerUrl(): Promise<string> {
  return `${scheme()}://127.0.0.1:${await freePort()}`;
}

/** The name of the member that reports itself leader, waiting up to 30 s for one to be elected. */
export async function leaderOf(cluster: Cluster): Promise<string> {
  return waitFor('a leader', async () => {
    for (const m of cluster.members) {
      if (m.proc === undefined) continue;
      const kv = new RawKv(m.clientUrl, 1000);
      try {
        const s = await kv.status();
        if (s.leader !== 0n && s.leader === s.header?.memberId) return m.name;
      } catch {
        // Down or not ready.
      } finally {
        kv.close();
      }
    }
    return undefined;
  }, 30000, 100);
}
