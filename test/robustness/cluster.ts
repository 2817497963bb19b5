import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/index.js';
import { runJs, portOpen } from '../support/etcdts.js';
import { FaultNetwork } from '../support/fault-proxy.js';
import { freePort } from '../support/ports.js';
import { kill9, start, tempDir, waitFor, type Spawned } from '../support/procs.js';

/**
 * A cluster of real `etcdts server` processes on loopback for the robustness
 * runner. Unlike the test clusters of support/cluster.ts, every member:
 * - is reached by its peers only through a fault proxy (the membership names
 *   the proxy's port; the member listens on another);
 * - has its failpoints reachable over HTTP (ETCDTS_FAILPOINTS_HTTP);
 * - is watched: an exit the runner did not ask for is a crash, recorded with
 *   its output, and the member is started again (as etcd's robustness suite
 *   restarts a member after a failpoint panic).
 */
export interface ClusterSettings {
  size: number;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
  compactionBatchLimit: number;
  /** WAL segment size (ETCDTS_WAL_SEGMENT_BYTES), small so that cuts and purges happen in a short run. */
  walSegmentBytes: number;
  maxWals: number;
  logLevel: 'info' | 'warn' | 'error';
}

export const clusterDefaults: ClusterSettings = {
  size: 3,
  snapshotCount: 100,
  snapshotCatchUpEntries: 50,
  compactionBatchLimit: 10,
  walSegmentBytes: 256 * 1024,
  maxWals: 3,
  logLevel: 'info',
};

/** How long the runner waits for a member to listen again after a start. */
const memberStartMs = 60_000;

export interface Member {
  name: string;
  clientUrl: string;
  clientPort: number;
  /** Where the member listens for peers. */
  peerPort: number;
  /** The port its peers dial: its fault proxy. */
  proxyPort: number;
  failpointPort: number;
  dataDir: string;
  proc: Spawned | undefined;
  /** Counts starts, so that probes can tell a restart from a replacement (wiped data). */
  incarnation: number;
  /** Bumped when the data dir is wiped (member replace, disaster recovery): revisions may start over. */
  generation: number;
  /** The runner stopped it on purpose (kill, remove): its exit is not a crash. */
  stopping: boolean;
  initialCluster: string;
  clusterState: 'new' | 'existing';
}

export interface Crash {
  member: string;
  at: number;
  exit: number | string;
  /** The failpoints armed on it when it died: without a panic among them, the crash was not expected. */
  armed: string;
  outputTail: string;
}

export class RobustCluster {
  readonly crashes: Crash[] = [];
  /** Restart members that crash (off while a scenario restarts them itself). */
  autoRestart = true;
  private readonly clients = new Map<string, Promise<Client>>();
  /** Failpoints armed at runtime per member: a restart forgets them, as the member does. */
  private readonly armedOn = new Map<string, string[]>();
  /** Environment for a member's next start only (a failpoint armed from the first instruction). */
  private readonly nextStartEnv = new Map<string, Record<string, string>>();
  private closed = false;

  private constructor(readonly settings: ClusterSettings, readonly members: Member[], readonly network: FaultNetwork, readonly token: string, private readonly base: string) {}

  static async start(settings: ClusterSettings): Promise<RobustCluster> {
    const base = tempDir('robustness-');
    const members: Member[] = [];
    for (let i = 1; i <= settings.size; i++) members.push(await newMember(`m${i}`, base));
    const initialCluster = members.map((m) => `${m.name}=${proxyUrl(m)}`).join(',');
    for (const m of members) m.initialCluster = initialCluster;
    const network = new FaultNetwork(members, (name) => members.find((m) => m.name === name)?.proc?.pid);
    await network.start();
    const cluster = new RobustCluster(settings, members, network, `robustness-${process.pid}-${Date.now()}`, base);
    for (const m of members) cluster.launch(m);
    await Promise.all(members.map((m) => cluster.waitListening(m)));
    return cluster;
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  live(): Member[] {
    return this.members.filter((m) => m.proc !== undefined);
  }

  endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** A client of one member only (lazy connection, no failover). */
  clientOf(name: string): Promise<Client> {
    let client = this.clients.get(name);
    if (client === undefined) {
      client = oneEndpointClient(this.member(name).clientUrl);
      this.clients.set(name, client);
    }
    return client;
  }

  /** SIGKILL, as a crash; the runner restarts it when it chooses. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    if (m.proc === undefined) return;
    m.stopping = true;
    await kill9(m.proc);
    m.proc = undefined;
    this.dropClient(name);
  }

  /** Starts a stopped member with its data dir (and the membership flags it was last given). */
  async restart(name: string): Promise<void> {
    await this.restartAll([name]);
  }

  /**
   * Starts several members at once and waits for all of them: after the whole cluster went
   * down a member serves clients only once a quorum is back, so they cannot start one by one.
   */
  async restartAll(names: string[]): Promise<void> {
    const members = names.map((n) => this.member(n));
    for (const m of members) if (m.proc !== undefined) await this.kill(m.name);
    for (const m of members) this.launch(m);
    await Promise.all(members.map((m) => this.waitListening(m)));
  }

  /** SIGSTOP / SIGCONT: a pause (GC, a frozen VM) rather than a crash. */
  signal(name: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.member(name).proc?.pid;
    if (pid !== undefined) process.kill(pid, signal);
  }

  /** Wipes a stopped member's data (member replace, disaster recovery). */
  wipe(name: string): void {
    const m = this.member(name);
    if (m.proc !== undefined) throw new Error(`wiping ${name} while it runs`);
    rmSync(m.dataDir, { recursive: true, force: true });
    m.generation++;
  }

  /** Sets the membership flags the member starts with next time (a re-added member joins an existing cluster). */
  rejoinAs(name: string, initialCluster: string, state: 'new' | 'existing'): void {
    const m = this.member(name);
    m.initialCluster = initialCluster;
    m.clusterState = state;
  }

  dataDirOf(name: string): string {
    return this.member(name).dataDir;
  }

  /** Arms a failpoint on a running member (`action` in failpoint.ts syntax, e.g. `1*panic`). */
  async armFailpoint(name: string, failpoint: string, action: string): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.member(name).failpointPort}/${failpoint}`, { method: 'PUT', body: action });
    if (res.status !== 204) throw new Error(`arming ${failpoint} on ${name}: HTTP ${res.status} ${await res.text()}`);
    this.armedOn.set(name, [...(this.armedOn.get(name) ?? []), `${failpoint}=${action}`]);
  }

  /** Starts the member with this environment next time (only then), e.g. ETCDTS_FAILPOINTS for a seam passed at startup. */
  envForNextStart(name: string, env: Record<string, string>): void {
    this.nextStartEnv.set(name, env);
  }

  /** The member will exit by itself (it was removed from the cluster): not a crash. */
  expectExit(name: string): void {
    this.member(name).stopping = true;
  }

  /** What is armed on a member ('' when nothing, or when it is down). */
  async armedFailpoints(name: string): Promise<string> {
    try {
      return (await (await fetch(`http://127.0.0.1:${this.member(name).failpointPort}/`)).text()).trim();
    } catch {
      return '';
    }
  }

  async disarmFailpoint(name: string, failpoint: string): Promise<void> {
    await fetch(`http://127.0.0.1:${this.member(name).failpointPort}/${failpoint}`, { method: 'DELETE' }).catch(() => undefined);
    this.armedOn.set(name, (this.armedOn.get(name) ?? []).filter((a) => !a.startsWith(`${failpoint}=`)));
  }

  /** The name of the member every live member agrees is the leader. */
  async leader(timeoutMs = 30_000): Promise<string> {
    return waitFor('a leader all live members agree on', async () => {
      const statuses = await Promise.all(this.live().map(async (m) => (await this.clientOf(m.name)).maintenance.status({ timeoutMs: 1000 }).catch(() => undefined)));
      const leaders = new Set(statuses.map((s) => s?.leader ?? 0n));
      if (leaders.size !== 1 || leaders.has(0n)) return undefined;
      const id = [...leaders][0];
      const index = statuses.findIndex((s) => s?.header?.memberId === id);
      return index >= 0 ? this.live()[index]!.name : undefined;
    }, timeoutMs, 100);
  }

  /** Waits until every live member answers a linearizable read through its own endpoint. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    let failing: string[] = [];
    try {
      await waitFor('every live member to answer a linearizable read', async () => {
        const answers = await Promise.all(this.live().map(async (m) => (await this.clientOf(m.name)).kv.get('health', { timeoutMs: 2000 }).then(() => '', (err: Error) => `${m.name}: ${err.message}`)));
        failing = answers.filter((a) => a !== '');
        return failing.length === 0;
      }, timeoutMs, 100);
    } catch (err) {
      const tails = this.members.map((m) => `--- ${m.name} (${m.proc === undefined ? 'down' : `pid ${m.proc.pid}`}):\n${(m.proc?.output() ?? '').slice(-1500)}`);
      throw new Error(`${(err as Error).message}; still failing: ${failing.join('; ')}\n${tails.join('\n')}`);
    }
  }

  /** The member whose process has this pid now. */
  nameOfPid(pid: number): string | undefined {
    return this.members.find((m) => m.proc?.pid === pid)?.name;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const m of this.members) {
      m.stopping = true;
      if (m.proc !== undefined) {
        // A paused member cannot die until it runs again.
        this.signal(m.name, 'SIGCONT');
        await kill9(m.proc);
      }
      m.proc = undefined;
    }
    for (const name of [...this.clients.keys()]) this.dropClient(name);
    await this.network.close();
  }

  /** Adds a member the runner will start later (member add during replace uses existing names). */
  async addMember(name: string): Promise<Member> {
    const m = await newMember(name, this.base);
    this.members.push(m);
    await this.network.add(m);
    return m;
  }

  private launch(m: Member): void {
    m.stopping = false;
    m.incarnation++;
    const once = this.nextStartEnv.get(m.name) ?? {};
    this.nextStartEnv.delete(m.name);
    this.armedOn.set(m.name, once['ETCDTS_FAILPOINTS'] === undefined ? [] : [once['ETCDTS_FAILPOINTS']]);
    const env = {
      ...process.env,
      ETCDTS_FAILPOINTS_HTTP: `127.0.0.1:${m.failpointPort}`,
      ETCDTS_WAL_SEGMENT_BYTES: String(this.settings.walSegmentBytes),
      ...once,
    };
    const proc = start(process.execPath, [runJs, 'server', ...this.flags(m)], { env });
    m.proc = proc;
    void proc.exited.then((exit) => this.onExit(m, proc, exit));
  }

  private flags(m: Member): string[] {
    const s = this.settings;
    return [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', proxyUrl(m),
      '--initial-cluster', m.initialCluster,
      '--initial-cluster-state', m.clusterState,
      '--initial-cluster-token', this.token,
      '--snapshot-count', String(s.snapshotCount),
      '--experimental-snapshot-catchup-entries', String(s.snapshotCatchUpEntries),
      '--experimental-compaction-batch-limit', String(s.compactionBatchLimit),
      '--experimental-watch-progress-notify-interval', '500ms',
      '--max-wals', String(s.maxWals),
      '--log-level', s.logLevel,
    ];
  }

  private async onExit(m: Member, proc: Spawned, exit: number | string): Promise<void> {
    if (m.proc !== proc) return;
    m.proc = undefined;
    this.dropClient(m.name);
    if (m.stopping || this.closed) return;
    this.crashes.push({ member: m.name, at: performance.now(), exit, armed: (this.armedOn.get(m.name) ?? []).join(';'), outputTail: proc.output().slice(-3000) });
    if (!this.autoRestart) return;
    this.launch(m);
    await this.waitListening(m).catch(() => undefined);
  }

  /** Waits until the member listens; fails at once if the process it started exits first. */
  private async waitListening(m: Member): Promise<void> {
    const proc = m.proc;
    const outcome = await waitFor(`${m.name} to listen on ${m.clientPort}`, async () => {
      if (m.proc !== proc || proc === undefined) return 'exited';
      return (await portOpen(m.clientPort)) ? 'listening' : undefined;
    }, memberStartMs, 50);
    if (outcome === 'exited') throw new Error(`${m.name} exited while starting: ${proc?.output().slice(-2000)}`);
  }

  private dropClient(name: string): void {
    void this.clients.get(name)?.then((c) => c.close());
    this.clients.delete(name);
  }
}

export function proxyUrl(m: Pick<Member, 'proxyPort'>): string {
  return `http://127.0.0.1:${m.proxyPort}`;
}

async function newMember(name: string, base: string): Promise<Member> {
  const clientPort = await freePort();
  return {
    name,
    clientUrl: `http://127.0.0.1:${clientPort}`,
    clientPort,
    peerPort: await freePort(),
    proxyPort: await freePort(),
    failpointPort: await freePort(),
    dataDir: join(base, `${name}.etcd`),
    proc: undefined,
    incarnation: 0,
    generation: 0,
    stopping: false,
    initialCluster: '',
    clusterState: 'new',
  };
}

/** A client of one endpoint that connects on first use and never fails over. */
export function oneEndpointClient(url: string, commandTimeoutMs = 5000): Promise<Client> {
  return Client.connect({ endpoints: [url], dialTimeoutMs: 0, commandTimeoutMs });
}
