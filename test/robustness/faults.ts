import { performance } from 'node:perf_hooks';
import { Client } from '../../src/client/index.js';
import type { Prng } from '../../src/server/raft/prng.js';
import { runJs } from '../support/etcdts.js';
import { freePort } from '../support/ports.js';
import { run, tempDir } from '../support/procs.js';
import { proxyUrl, type RobustCluster } from './cluster.js';
import { dropUnsyncedWalTail } from './power-loss.js';
import type { Traffic } from './traffic.js';
import type { WatchRecorder } from './watches.js';

/**
 * The faults, one per scenario (reliability-anchors §8 rows 3-10, after
 * etcd's tests/robustness/failpoint): process kills and pauses, every
 * failpoint seam with what makes it fire, network faults on the peer links,
 * membership changes, maintenance under traffic, a stalled disk and power
 * loss. A fault's inject() returns once the fault is over (the member runs
 * again, the network is healed); the session then waits for the cluster to
 * serve every member before the next one.
 */
export interface FaultContext {
  cluster: RobustCluster;
  traffic: Traffic;
  watches: WatchRecorder;
  prng: Prng;
  log(line: string): void;
}

export interface FaultOutcome {
  member?: string;
  /** The fault took effect (a failpoint fired, a member crashed where told). */
  fired: boolean;
  detail?: string;
}

export interface Scenario {
  name: string;
  description: string;
  inject(ctx: FaultContext): Promise<FaultOutcome>;
}

/** How long a trigger may take to make a failpoint fire. */
const triggerMs = 30_000;
/** Past the 1 s election timeout: followers give up on the leader. */
const pauseMs = 2_000;
const networkFaultMs = 2_000;
const stallMs = 1_000;
const walFillValueBytes = 8 * 1024;
/** After the first member of a whole-cluster power loss died: how long the others get to reach the failpoint. */
const powerLossStragglersMs = 3_000;

type Role = 'leader' | 'follower' | 'any';

async function pick(ctx: FaultContext, role: Role): Promise<string> {
  const leader = await ctx.cluster.leader();
  if (role === 'leader') return leader;
  const names = ctx.cluster.live().map((m) => m.name).filter((n) => role === 'any' || n !== leader);
  return names[ctx.prng.nextInt(names.length)]!;
}

/** Polls until `check` holds or the time is up; false on timeout (a fault that did not fire is reported, not thrown). */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}

async function clusterClient(ctx: FaultContext, except?: string): Promise<Client> {
  const endpoints = ctx.cluster.live().filter((m) => m.name !== except).map((m) => m.clientUrl);
  return Client.connect({ endpoints, dialTimeoutMs: 5000, commandTimeoutMs: 10_000 });
}

// ---- process faults ----

async function killAndRestart(ctx: FaultContext, role: Role): Promise<FaultOutcome> {
  const member = await pick(ctx, role);
  await ctx.cluster.kill(member);
  await ctx.cluster.restart(member);
  return { member, fired: true };
}

async function pauseLeader(ctx: FaultContext): Promise<FaultOutcome> {
  const member = await pick(ctx, 'leader');
  ctx.cluster.signal(member, 'SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, pauseMs));
  ctx.cluster.signal(member, 'SIGCONT');
  return { member, fired: true };
}

// ---- failpoints ----

/** Arms `failpoint=1*panic` on a member, runs the trigger, and waits for the crash and the automatic restart. */
async function panicAt(ctx: FaultContext, failpoint: string, member: string, trigger: () => Promise<void> = async () => undefined): Promise<FaultOutcome> {
  const before = ctx.cluster.crashes.length;
  await ctx.cluster.armFailpoint(member, failpoint, '1*panic');
  const crashed = () => ctx.cluster.crashes.slice(before).some((c) => c.member === member);
  await trigger();
  const fired = await eventually(crashed, triggerMs);
  if (!fired) await ctx.cluster.disarmFailpoint(member, failpoint);
  else await eventually(() => ctx.cluster.member(member).proc !== undefined, triggerMs);
  return { member, fired };
}

/** Recorded puts of large values until `done` (WAL segments fill, cuts and purges follow). */
async function fillWal(ctx: FaultContext, done: () => boolean): Promise<void> {
  const deadline = performance.now() + triggerMs;
  for (let n = 0; !done() && performance.now() < deadline; n++) {
    await ctx.traffic.scenarioPut(`bulk/${n % 8}`, `bulk.${performance.now().toFixed(3)}.${n}.`.padEnd(walFillValueBytes, 'x'));
  }
}

/** Cuts a follower off until the leader has compacted its log past it, so that it must be sent a snapshot. */
async function blackholeUntilSnapshot(ctx: FaultContext, follower: string): Promise<void> {
  const leader = await pick(ctx, 'leader');
  const client = await ctx.cluster.clientOf(leader);
  const applied = async () => (await client.maintenance.status({ timeoutMs: 2000 }).catch(() => undefined))?.raftAppliedIndex ?? 0n;
  const start = await applied();
  const s = ctx.cluster.settings;
  const needed = start + BigInt(s.snapshotCount + s.snapshotCatchUpEntries + 20);
  ctx.cluster.network.inject(follower, { kind: 'blackhole' });
  try {
    let reached = false;
    const filling = fillWal(ctx, () => reached);
    reached = await eventually(async () => (await applied()) >= needed, triggerMs, 100);
    await filling;
  } finally {
    ctx.cluster.network.heal();
  }
}

/** A compaction every member applies, at a revision no open watch still needs. */
async function compact(ctx: FaultContext): Promise<boolean> {
  // Enough revisions since the last compaction for several batches of the small batch limit.
  const wanted = ctx.watches.compactedRevision + 4 * ctx.cluster.settings.compactionBatchLimit;
  await eventually(() => ctx.watches.oldestNeeded() - 2 > wanted, triggerMs);
  const target = Math.min(ctx.watches.oldestNeeded(), ctx.traffic.latestRevision) - 2;
  if (target <= ctx.watches.compactedRevision) return false;
  ctx.watches.compactedRevision = target;
  const client = await clusterClient(ctx);
  try {
    await client.kv.compact(BigInt(target));
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

async function defrag(ctx: FaultContext, member: string): Promise<boolean> {
  const client = await ctx.cluster.clientOf(member);
  return client.maintenance.defragment({ timeoutMs: 30_000 }).then(() => true, () => false);
}

/**
 * A learner added and removed again: two conf changes every member applies. Sent through the
 * other members, since `armed` may die while applying the first; the learner is found by its
 * peer URL, whether or not the answer to the add arrived.
 */
async function confChange(ctx: FaultContext, armed: string): Promise<void> {
  const client = await clusterClient(ctx, armed);
  try {
    // A learner nobody starts: its peer URL only has to be unique.
    const spare = `http://127.0.0.1:${await freePort()}`;
    await client.cluster.memberAdd([spare], { isLearner: true }).catch(() => undefined);
    await eventually(async () => {
      const learner = (await client.cluster.memberList().catch(() => undefined))?.members.find((m) => m.peerURLs.includes(spare));
      if (learner === undefined) return true;
      await client.cluster.memberRemove(learner.ID).catch(() => undefined);
      return false;
    }, triggerMs, 200);
  } finally {
    client.close();
  }
}

interface FailpointSpec {
  name: string;
  role: Role;
  /** What makes it fire once armed. */
  trigger: 'traffic' | 'snapshot' | 'compaction' | 'defrag' | 'conf-change' | 'wal-fill';
}

/** Every failpoint seam of the server (src/server/failpoint.ts callers), with what makes it fire. */
export const failpointSpecs: FailpointSpec[] = [
  { name: 'raftBeforeSave', role: 'any', trigger: 'traffic' },
  { name: 'raftAfterSave', role: 'any', trigger: 'traffic' },
  { name: 'walBeforeSync', role: 'any', trigger: 'traffic' },
  { name: 'walAfterSync', role: 'any', trigger: 'traffic' },
  { name: 'beforeCommit', role: 'any', trigger: 'traffic' },
  { name: 'afterCommit', role: 'any', trigger: 'traffic' },
  { name: 'applyBeforeRequest', role: 'any', trigger: 'traffic' },
  { name: 'raftBeforeLeaderSend', role: 'leader', trigger: 'traffic' },
  { name: 'raftBeforeFollowerSend', role: 'follower', trigger: 'traffic' },
  { name: 'beforeSendWatchResponse', role: 'any', trigger: 'traffic' },
  { name: 'snapBeforeRename', role: 'any', trigger: 'wal-fill' },
  { name: 'snapAfterSave', role: 'any', trigger: 'wal-fill' },
  { name: 'walBeforeCut', role: 'any', trigger: 'wal-fill' },
  { name: 'walAfterCut', role: 'any', trigger: 'wal-fill' },
  { name: 'walBeforePurge', role: 'any', trigger: 'wal-fill' },
  { name: 'raftBeforeSaveSnap', role: 'follower', trigger: 'snapshot' },
  { name: 'raftAfterSaveSnap', role: 'follower', trigger: 'snapshot' },
  { name: 'raftBeforeReceiveSnapRename', role: 'follower', trigger: 'snapshot' },
  { name: 'raftBeforeApplySnap', role: 'follower', trigger: 'snapshot' },
  { name: 'raftAfterApplySnap', role: 'follower', trigger: 'snapshot' },
  { name: 'compactBeforeCommitBatch', role: 'any', trigger: 'compaction' },
  { name: 'compactAfterCommitBatch', role: 'any', trigger: 'compaction' },
  { name: 'compactBeforeSetFinishedCompact', role: 'any', trigger: 'compaction' },
  { name: 'compactAfterSetFinishedCompact', role: 'any', trigger: 'compaction' },
  { name: 'defragBeforeCopy', role: 'any', trigger: 'defrag' },
  { name: 'defragBeforeRename', role: 'any', trigger: 'defrag' },
  { name: 'beforeApplyOneConfChange', role: 'any', trigger: 'conf-change' },
];

function failpointScenario(spec: FailpointSpec): Scenario {
  return {
    name: `failpoint-${spec.name}`,
    description: `${spec.name}=panic on ${spec.role === 'any' ? 'a member' : `the ${spec.role}`}, fired by ${spec.trigger}`,
    inject: async (ctx) => {
      const member = await pick(ctx, spec.role);
      let crashed = false;
      const before = ctx.cluster.crashes.length;
      const isDown = () => (crashed ||= ctx.cluster.crashes.slice(before).some((c) => c.member === member));
      const triggers: Record<FailpointSpec['trigger'], () => Promise<void>> = {
        traffic: async () => undefined,
        'wal-fill': () => fillWal(ctx, isDown),
        snapshot: () => blackholeUntilSnapshot(ctx, member),
        compaction: async () => void (await compact(ctx)),
        defrag: async () => void (await defrag(ctx, member)),
        'conf-change': () => confChange(ctx, member),
      };
      return panicAt(ctx, spec.name, member, triggers[spec.trigger]);
    },
  };
}

/** A stalled disk: the failpoint sleeps once, 1 s, on the leader's write path. */
function stallScenario(name: string, failpoint: string, description: string): Scenario {
  return {
    name,
    description,
    inject: async (ctx) => {
      const member = await pick(ctx, 'leader');
      await ctx.cluster.armFailpoint(member, failpoint, `1*sleep(${stallMs})`);
      const fired = await eventually(async () => (await ctx.cluster.armedFailpoints(member)).includes(`${failpoint}=0*`), triggerMs);
      await ctx.cluster.disarmFailpoint(member, failpoint);
      return { member, fired };
    },
  };
}

// ---- network ----

function networkScenario(name: string, role: Role, fault: Parameters<RobustCluster['network']['inject']>[1], description: string): Scenario {
  return {
    name,
    description,
    inject: async (ctx) => {
      const member = await pick(ctx, role);
      const dropped = ctx.cluster.network.stats.chunksDropped + ctx.cluster.network.stats.chunksDelayed;
      ctx.cluster.network.inject(member, fault);
      await new Promise((resolve) => setTimeout(resolve, networkFaultMs));
      ctx.cluster.network.heal();
      const affected = ctx.cluster.network.stats.chunksDropped + ctx.cluster.network.stats.chunksDelayed - dropped;
      return { member, fired: affected > 0, detail: `${affected} chunks dropped or delayed` };
    },
  };
}

// ---- membership ----

/** etcd's MemberReplace: remove a member, wipe its data, add it back with the same peer URL, start it as a new member. */
async function memberReplace(ctx: FaultContext, walCreateFailpoint: boolean): Promise<FaultOutcome> {
  const member = await pick(ctx, 'follower');
  const client = await clusterClient(ctx, member);
  try {
    const id = (await client.cluster.memberList()).members.find((m) => m.name === member)!.ID;
    ctx.cluster.expectExit(member);
    await client.cluster.memberRemove(id);
    const stopped = await eventually(() => ctx.cluster.member(member).proc === undefined, triggerMs);
    if (!stopped) await ctx.cluster.kill(member);
    ctx.cluster.wipe(member);
    const added = await client.cluster.memberAdd([proxyUrl(ctx.cluster.member(member))]);
    const initialCluster = added.members.map((m) => `${m.name === '' ? member : m.name}=${m.peerURLs[0]}`).join(',');
    ctx.cluster.rejoinAs(member, initialCluster, 'existing');
    let fired = true;
    if (walCreateFailpoint) {
      // The new member panics while creating its WAL, is started again (without it) and must recover.
      const before = ctx.cluster.crashes.length;
      ctx.cluster.envForNextStart(member, { ETCDTS_FAILPOINTS: 'walBeforeCreateRename=1*panic' });
      await ctx.cluster.restart(member).catch(() => undefined);
      fired = await eventually(() => ctx.cluster.crashes.slice(before).some((c) => c.member === member), triggerMs);
      await eventually(() => ctx.cluster.member(member).proc !== undefined, triggerMs);
    } else {
      await ctx.cluster.restart(member);
    }
    return { member, fired, detail: stopped ? 'stopped itself when removed' : 'killed after removal' };
  } finally {
    client.close();
  }
}

/**
 * Disaster recovery: traffic quiesces, a snapshot is saved, every member is
 * lost, one member is restored from the snapshot and the two others join it
 * empty. Every write acknowledged before the snapshot must be there.
 */
async function disasterRecovery(ctx: FaultContext): Promise<FaultOutcome> {
  const { cluster } = ctx;
  await ctx.traffic.pause();
  try {
    const leader = await pick(ctx, 'leader');
    const file = `${tempDir('robustness-snapshot-')}/backup.db`;
    const saved = await run(process.execPath, [runJs, '--endpoints', cluster.member(leader).clientUrl, 'snapshot', 'save', file], { timeoutMs: 60_000 });
    if (saved.code !== 0) throw new Error(`snapshot save failed: ${saved.stderr}`);
    for (const m of cluster.members) {
      await cluster.kill(m.name);
      cluster.wipe(m.name);
    }
    const [first, ...rest] = cluster.members;
    const restored = await run(process.execPath, [runJs, 'snapshot', 'restore', file, '--name', first!.name, '--data-dir', first!.dataDir,
      '--initial-cluster', `${first!.name}=${proxyUrl(first!)}`, '--initial-advertise-peer-urls', proxyUrl(first!), '--initial-cluster-token', cluster.token], { timeoutMs: 60_000 });
    if (restored.code !== 0) throw new Error(`snapshot restore failed: ${restored.stderr}`);
    cluster.rejoinAs(first!.name, `${first!.name}=${proxyUrl(first!)}`, 'new');
    await cluster.restart(first!.name);
    await cluster.waitHealthy();
    let joined = [`${first!.name}=${proxyUrl(first!)}`];
    for (const m of rest) {
      const client = await clusterClient(ctx);
      try {
        await eventually(async () => client.cluster.memberAdd([proxyUrl(m)]).then(() => true, () => false), triggerMs, 500);
      } finally {
        client.close();
      }
      joined = [...joined, `${m.name}=${proxyUrl(m)}`];
      cluster.rejoinAs(m.name, joined.join(','), 'existing');
      await cluster.restart(m.name);
      await cluster.waitHealthy();
    }
    return { fired: true, detail: 'restored one member from a snapshot, two joined empty' };
  } finally {
    ctx.traffic.unpause();
  }
}

// ---- power loss ----

/**
 * Members die at walBeforeSync, lose the sectors of their unsynced WAL batch, and start
 * again. For the whole cluster: once the first member died, the others may stop writing
 * (no quorum, no new entries); those still up a moment later are killed plainly, their
 * disks having flushed everything (a power loss may be that lucky).
 */
async function powerLoss(ctx: FaultContext, who: 'one' | 'all'): Promise<FaultOutcome> {
  const { cluster } = ctx;
  const victims = who === 'all' ? cluster.live().map((m) => m.name) : [await pick(ctx, 'any')];
  cluster.autoRestart = false;
  const before = cluster.crashes.length;
  const diedAtFailpoint = (v: string) => cluster.crashes.slice(before).some((c) => c.member === v);
  try {
    for (const v of victims) await cluster.armFailpoint(v, 'walBeforeSync', '1*panic');
    const fired = await eventually(() => victims.some(diedAtFailpoint), triggerMs);
    await eventually(() => victims.every(diedAtFailpoint), powerLossStragglersMs);
    let dropped = 0;
    const lost: string[] = [];
    for (const v of victims) {
      if (!diedAtFailpoint(v)) {
        await cluster.disarmFailpoint(v, 'walBeforeSync');
        if (who === 'all') await cluster.kill(v);
        continue;
      }
      lost.push(v);
      dropped += (await dropUnsyncedWalTail(cluster.dataDirOf(v), () => ctx.prng.nextFloat()))?.droppedBytes ?? 0;
    }
    await cluster.restartAll(victims.filter((v) => cluster.member(v).proc === undefined));
    return { member: victims.join(','), fired, detail: `${lost.join(',') || 'none'} lost ${dropped} unsynced WAL bytes` };
  } finally {
    cluster.autoRestart = true;
  }
}

// ---- maintenance under traffic ----

async function defragEach(ctx: FaultContext): Promise<FaultOutcome> {
  let ok = 0;
  for (const m of ctx.cluster.live()) if (await defrag(ctx, m.name)) ok++;
  return { fired: ok === ctx.cluster.live().length, detail: `${ok} members defragmented` };
}

export const scenarios: Scenario[] = [
  { name: 'kill-leader', description: 'SIGKILL the leader, start it again', inject: (ctx) => killAndRestart(ctx, 'leader') },
  { name: 'kill-follower', description: 'SIGKILL a follower, start it again', inject: (ctx) => killAndRestart(ctx, 'follower') },
  { name: 'pause-leader', description: `SIGSTOP the leader for ${pauseMs} ms (past the election timeout), then SIGCONT`, inject: pauseLeader },
  ...failpointSpecs.map(failpointScenario),
  stallScenario('stall-wal-fsync', 'walBeforeSync', `the leader's WAL fsync stalls ${stallMs} ms (the rest of the process runs on)`),
  stallScenario('stall-backend-commit', 'beforeCommit', `the leader stalls ${stallMs} ms in a backend commit (the whole process waits)`),
  networkScenario('blackhole-leader', 'leader', { kind: 'blackhole' }, `every peer link of the leader dropped for ${networkFaultMs} ms`),
  networkScenario('blackhole-follower', 'follower', { kind: 'blackhole' }, `every peer link of a follower dropped for ${networkFaultMs} ms`),
  networkScenario('delay-peers', 'any', { kind: 'delay', baseMs: 75, jitterMs: 50 }, `75 +/- 50 ms on every peer link of a member for ${networkFaultMs} ms`),
  networkScenario('drop-peers', 'any', { kind: 'drop', percent: 50 }, `50% of the chunks on every peer link of a member dropped for ${networkFaultMs} ms`),
  {
    name: 'blackhole-until-snapshot',
    description: 'a follower cut off until the leader compacted its log past it, then healed: it catches up from a snapshot',
    inject: async (ctx) => {
      const member = await pick(ctx, 'follower');
      await blackholeUntilSnapshot(ctx, member);
      return { member, fired: true };
    },
  },
  { name: 'member-replace', description: 'remove a member, wipe its data, add it back, start it empty', inject: (ctx) => memberReplace(ctx, false) },
  { name: 'member-replace-wal-create', description: 'member replace whose new member panics at walBeforeCreateRename on its first start', inject: (ctx) => memberReplace(ctx, true) },
  { name: 'disaster-recovery', description: 'snapshot, lose every member, restore one from the snapshot, two join empty', inject: disasterRecovery },
  { name: 'defrag', description: 'defragment every member in turn under traffic', inject: defragEach },
  { name: 'compaction', description: 'compact below every open watch under traffic', inject: async (ctx) => ({ fired: await compact(ctx) }) },
  { name: 'power-loss', description: 'a member dies before a WAL fsync and loses the unsynced sectors of that batch', inject: (ctx) => powerLoss(ctx, 'one') },
  { name: 'power-loss-cluster', description: 'every member dies before a WAL fsync and loses its unsynced sectors', inject: (ctx) => powerLoss(ctx, 'all') },
];

export function scenarioNamed(name: string): Scenario {
  const s = scenarios.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no scenario ${name}; --list shows them`);
  return s;
}
