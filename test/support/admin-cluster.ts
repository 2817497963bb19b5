import { join } from 'node:path';
import { startCluster, type Cluster, type ServerKind } from './cluster.js';
import { runJs } from './etcdts.js';
import { kill9, run, start, tempDir, waitFor, type Spawned } from './procs.js';
import { etcdBinary, etcdctlBinary } from './real-etcd.js';

/**
 * What the cluster-administration tests add to support/cluster.ts: a
 * readiness wait that needs a working quorum (etcdctl's health check), the
 * strict-reconfiguration wait, the server kinds to run against, and one
 * member started on a given data dir (a restored snapshot) with exact flags.
 */
export type { ServerKind };

export interface ClusterMember {
  kind: ServerKind;
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: Spawned;
  /** SIGKILL. */
  stop(): Promise<void>;
}

export interface MemberSpec {
  name: string;
  peerUrl: string;
  clientPort: number;
  initialCluster: string;
  state: 'new' | 'existing';
  token: string;
  dataDir?: string;
  extraArgs?: string[];
}

/** The server kinds a test file runs against: ETCDTS_CLUSTER_SERVER=etcd|etcdts picks one, default both. */
export function serverKindsFromEnv(): ServerKind[] {
  const only = process.env.ETCDTS_CLUSTER_SERVER;
  return only === 'etcd' || only === 'etcdts' ? [only] : ['etcd', 'etcdts'];
}

/** Starts one member (it serves once a quorum exists; see waitHealthy). */
export function startMember(kind: ServerKind, spec: MemberSpec): ClusterMember {
  const clientUrl = `http://127.0.0.1:${spec.clientPort}`;
  const dataDir = spec.dataDir ?? join(tempDir(`${kind}-${spec.name}-`), `${spec.name}.etcd`);
  const flags = [
    '--name', spec.name,
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', spec.peerUrl,
    '--initial-advertise-peer-urls', spec.peerUrl,
    '--initial-cluster', spec.initialCluster,
    '--initial-cluster-state', spec.state,
    '--initial-cluster-token', spec.token,
    '--log-level', 'error',
    ...(spec.extraArgs ?? []),
  ];
  const env = { ...process.env, ETCD_UNSUPPORTED_ARCH: '' };
  const proc = kind === 'etcd' ? start(etcdBinary, flags, { env }) : start(process.execPath, [runJs, 'server', ...flags], { env });
  const member: ClusterMember = { kind, name: spec.name, clientUrl, peerUrl: spec.peerUrl, dataDir, proc, stop: () => kill9(member.proc) };
  return member;
}

/** A cluster of the shared kind (support/cluster.ts) once every member answers a linearizable read. */
export interface HealthyCluster {
  cluster: Cluster;
  /** When every member answered (Date.now()). */
  healthyAt: number;
}

export async function startHealthyCluster(kind: ServerKind, size: number): Promise<HealthyCluster> {
  const cluster = await startCluster({ kind, size });
  await waitHealthy(cluster.endpoints(), cluster.members.map((m) => m.proc).filter((p) => p !== undefined));
  return { cluster, healthyAt: Date.now() };
}

/**
 * etcd refuses membership changes (strict reconfiguration check, "unhealthy
 * cluster") until every member has been connected for 5 seconds.
 */
export async function waitReconfigurable(healthy: HealthyCluster): Promise<void> {
  const ready = healthy.healthyAt + 6000;
  if (Date.now() < ready) await new Promise((resolve) => setTimeout(resolve, ready - Date.now()));
}

/** Waits until etcdctl's health check passes on every endpoint (each answers a linearizable read). */
export async function waitHealthy(endpoints: string[], procs: Spawned[] = [], timeoutMs = 30000): Promise<void> {
  await waitFor(`members ${endpoints.join(',')} to be healthy`, async () => {
    for (const proc of procs) {
      if (proc.child.exitCode !== null) throw new Error(`a member exited: ${proc.output().slice(-2000)}`);
    }
    const r = await run(etcdctlBinary, ['--endpoints', endpoints.join(','), '--command-timeout', '2s', 'endpoint', 'health'], { timeoutMs: 10000, env: cleanEtcdctlEnv() });
    return r.code === 0;
  }, timeoutMs, 200);
}

/** The environment without ETCDCTL_* variables. */
export function cleanEtcdctlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('ETCDCTL_')) env[key] = value;
  return env;
}
