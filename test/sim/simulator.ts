/**
 * A deterministic simulation of an etcdts Raft cluster in one process.
 *
 * Members are RawNodes driven by the Ready contract (rawnode.ts) over a
 * simulated disk (writes are lost on a crash unless synced), a simulated
 * network (loss, delay, duplication, reordering, partitions) and a
 * simulated clock. Clients write and read a small KV state machine; the
 * nemesis crashes and restarts members, partitions the network, changes
 * membership and moves leadership. Every random choice comes from ONE
 * seeded PRNG, so a seed replays exactly: same trace, same trace hash.
 *
 * Time is in units; a member ticks its Raft every `tickUnits` units (the
 * heartbeat interval), and messages take `delayMin..delayMax` units.
 *
 * Checked at every step: the safety properties in invariants.ts. At the
 * end the faults are healed, the cluster must converge (liveness), every
 * member's state machine must be identical, and the client history must be
 * linearizable (test/support/lincheck).
 *
 * With `watchLease`, clients also delete, run txns, attach keys to leases
 * and compact; members' clocks drift apart (skew); a member's Ready loop
 * may stall (a slow fsync) while its Raft and gRPC sides go on; and two
 * layers run on the cluster: watches (sim-watch.ts) and leases
 * (sim-lease.ts), each with its own clients and checks. `mutation` injects
 * one known bug, to show that the checks catch it.
 */
import assert from 'node:assert/strict';
import {
  ConfChange as ConfChangeCodec,
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type Entry,
  type Message,
  type Snapshot,
} from '../../src/proto/gen/etcdtspb/raft.js';
import { ProposalDroppedError, SnapshotOutOfDateError } from '../../src/server/raft/errors.js';
import { snapshotIndex } from '../../src/server/raft/messages.js';
import { SeededPrng, type Prng } from '../../src/server/raft/prng.js';
import { RawNode, type Ready } from '../../src/server/raft/rawnode.js';
import { checkOperations, type Operation } from '../support/lincheck/checker.js';
import { committedHistory, del, etcdModel, txn, type EtcdInput, type EtcdOutput } from '../support/lincheck/etcd-model.js';
import type { CommittedRevision } from '../support/lincheck/watch-check.js';
import { SafetyChecker, SafetyViolation } from './invariants.js';
import { decodeCommand, encodeCommand, modelKind, type ApplyResult, type Command } from './kv-state-machine.js';
import type { Mutation } from './mutations.js';
import { raftMutants, type DriverFault, type RaftMutant, type RaftMutantName } from './raft-mutations.js';
import { realMutants, type RealMutantName } from './real-mutations.js';
import { RealStores } from './real-state-machine.js';
import { LeaseLayer, type LeaseReport } from './sim-lease.js';
import { electionTick, tickUnits, Truth, type SimHost, type SimLayer } from './sim-layer.js';
import { Member, MemberClock, type CrashPoint, type PendingRead, type ProposalWaiter } from './sim-member.js';
import { SimNetwork } from './sim-network.js';
import type { StateMachineKind } from './state-machine.js';
import { WatchLayer, type WatchReport } from './sim-watch.js';
import { chooseRequest, drawWorkloadConfig, type Request, type WorkloadConfig } from './workload.js';
import type { WatchLimits } from '../../src/server/mvcc/watch-limits.js';

export interface SimOptions {
  seed: number;
  /** Client operations to issue. */
  ops: number;
  /** 3 or 5 initial voters; drawn from the seed when unset. */
  members?: 3 | 5;
  /** Keep a readable trace of every event (for replaying a failing seed). */
  keepTrace?: boolean;
  /** Watches, leases, deletes, txns, compaction and clock skew on top of the KV workload. */
  watchLease?: boolean;
  /** One injected watch/lease bug (mutations.ts), to show the checks catch it. */
  mutation?: Mutation;
  /** One injected Raft bug (raft-mutations.ts), to show the checks catch it. */
  raftMutant?: RaftMutantName;
  /**
   * The members' state machines: the models written for the tests (the
   * default), or the shipped MVCC store, watchable store and lessor behind
   * the server's apply path (real-state-machine.ts).
   */
  stores?: 'model' | 'real';
  /** With the shipped stores: one injected bug in them (real-mutations.ts). */
  realMutant?: RealMutantName;
}

/** Everything a run decides up front from its seed. */
export interface SimConfig {
  members: 3 | 5;
  preVote: boolean;
  checkQuorum: boolean;
  lossRate: number;
  duplicateRate: number;
  delayMax: number;
  snapshotEvery: number;
  keepEntries: number;
  maxInflightMsgs: number;
  maxSizePerMsgBytes: number;
  faultEveryUnits: number;
  clients: number;
  keys: number;
  /** With watchLease only: the request mix and clock skew. */
  workload?: WorkloadConfig;
}

export interface SimReport {
  seed: number;
  config: SimConfig;
  /** Which state machines the members ran. */
  stores: 'model' | 'real';
  traceHash: string;
  simUnits: number;
  ops: { ok: number; unknown: number; failed: number; reads: number; writes: number };
  faults: Record<string, number>;
  network: SimNetwork['stats'];
  checks: SafetyChecker['counts'];
  terms: number;
  finalMembers: string[];
  appliedIndex: string;
  /** The linearizability check: its verdict, wall-clock time (reported only), search steps and history size. */
  lincheck: { verdict: string; ms: number; steps: number; ops: number };
  watch?: WatchReport;
  lease?: LeaseReport;
  trace?: string[];
}

const clientTimeoutUnits = 60 * tickUnits;
const convergeLimitUnits = 3000 * tickUnits;
/** How long the layers' clients may take to catch up once the cluster has converged. */
const settleLimitUnits = 300 * tickUnits;
/** Client ids of the leader-made revokes in the history (one each; real clients count from 0). */
const revokeClientIdBase = 1_000_000;

/**
 * The linearizability search's budget, in search steps: deterministic, so a
 * seed that runs out of it does so on every machine and every replay (a
 * wall-clock budget would turn a loaded machine into a failing seed). The
 * histories here need a few thousand steps (docs/robustness.md has the
 * figures); the bound is far above that and still ends a runaway search in
 * seconds.
 */
export const lincheckStepsMax = 5_000_000;

/** One new leader in this many is killed soon after its election (maybeDoomLeader). */
const leaderKillOdds = 4;

const crashPoints: CrashPoint[] = ['beforeSave', 'afterSave', 'afterSend', 'afterApply'];

interface ClientOp {
  clientId: number;
  /** What the linearizability model sees; absent for requests it does not model (compaction). */
  input?: EtcdInput;
  call: number;
  deadline: number;
  member: bigint;
  reqId: string;
  /** A proposal (its outcome may stay unknown), not a read. */
  write: boolean;
}

/** FNV-1a over everything that happens: equal hashes mean equal runs. */
class TraceHash {
  private a = 0x811c9dc5;
  private b = 0x01000193;

  add(s: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}

function pick<T>(prng: Prng, xs: readonly T[]): T {
  return xs[prng.nextInt(xs.length)]!;
}

function shuffle<T>(prng: Prng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function drawConfig(prng: Prng, members?: 3 | 5): SimConfig {
  return {
    members: members ?? (prng.nextInt(2) === 0 ? 3 : 5),
    preVote: prng.nextInt(2) === 0,
    checkQuorum: prng.nextInt(2) === 0,
    lossRate: pick(prng, [0, 0.01, 0.05, 0.1, 0.2]),
    duplicateRate: pick(prng, [0, 0.01, 0.05]),
    delayMax: pick(prng, [2, 5, 10, 20]),
    snapshotEvery: 20 + prng.nextInt(81),
    keepEntries: prng.nextInt(11),
    maxInflightMsgs: pick(prng, [1, 4, 256]),
    maxSizePerMsgBytes: pick(prng, [100, 1024 * 1024]),
    faultEveryUnits: pick(prng, [100, 200, 400]),
    clients: 3 + prng.nextInt(3),
    keys: 2 + prng.nextInt(5),
  };
}

export class Simulation implements SimHost {
  readonly prng: Prng;
  readonly config: SimConfig;
  readonly net: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly members = new Map<bigint, Member>();
  readonly truth = new Truth();
  readonly mutation: Mutation | undefined;
  private readonly raftMutant: RaftMutant | undefined;
  private readonly driverFault: DriverFault | undefined;
  now = 0;
  private readonly hash = new TraceHash();
  private readonly trace: string[] | undefined;
  private nextMemberId: bigint;
  private history: Array<{ op: Operation<EtcdInput, EtcdOutput | undefined>; reqId: string }> = [];
  private readonly clientBusy = new Map<number, ClientOp>();
  private opsIssued = 0;
  private reqSeq = 0;
  private healAt: number | undefined;
  healing = false;
  readonly faults: Record<string, number> = {};
  private readonly counts = { ok: 0, unknown: 0, failed: 0, reads: 0, writes: 0 };
  private logsChanged = false;
  private readonly watch: WatchLayer | undefined;
  private readonly lease: LeaseLayer | undefined;
  private readonly layers: SimLayer[] = [];
  /** The members' stores answer some calls with promises (a lease renewal): let them settle every unit. */
  private readonly asyncStores: boolean;
  private readonly kind: StateMachineKind;
  /** When the cluster converged while the layers still settled (for their liveness bound). */
  private convergedAt: number | undefined;

  constructor(readonly options: SimOptions) {
    this.prng = new SeededPrng(options.seed);
    this.config = drawConfig(this.prng, options.members);
    this.mutation = options.mutation;
    this.raftMutant = options.raftMutant === undefined ? undefined : raftMutants[options.raftMutant];
    this.driverFault = this.raftMutant?.driver;
    // Drawn only with watchLease, so that the plain simulation's seeds keep their runs.
    if (options.watchLease === true) this.config.workload = drawWorkloadConfig(this.prng);
    const real = options.stores === 'real';
    assert.ok(!real || options.mutation === undefined, 'the watch/lease mutations live in the models');
    assert.ok(real || options.realMutant === undefined, 'the shipped stores\' mutations need the shipped stores');
    this.asyncStores = real;
    const mutate = options.realMutant === undefined ? undefined : realMutants[options.realMutant].patch;
    this.kind = real ? new RealStores({ now: () => this.now, limits: watchLimits(this.config.workload), mutate }) : modelKind(this.mutation);
    this.net = new SimNetwork(this.prng.fork(), {
      lossRate: this.config.lossRate,
      duplicateRate: this.config.duplicateRate,
      delayMin: 1,
      delayMax: this.config.delayMax,
    });
    this.trace = options.keepTrace === true ? [] : undefined;
    if (this.config.workload !== undefined) {
      this.watch = new WatchLayer(this, this.config.workload, this.config.keys, real);
      this.lease = new LeaseLayer(this, this.config.workload, real);
      this.layers.push(this.watch, this.lease);
    }
    this.nextMemberId = BigInt(this.config.members + 1);
    const peers = Array.from({ length: this.config.members }, (_, i) => ({ id: BigInt(i + 1) }));
    for (const p of peers) {
      const m = this.addMember(p.id);
      m.rn!.bootstrap(peers);
    }
  }

  get skew(): number {
    return this.config.workload?.skew ?? 0;
  }

  traceHash(): string {
    return this.hash.hex();
  }

  /** Releases the members' stores (databases and their files). */
  close(): Promise<void> {
    return this.kind.close();
  }

  /** The readable trace, when the run keeps one. */
  traceLines(): string[] {
    return this.trace ?? [];
  }

  record(event: string): void {
    this.hash.add(event);
    this.trace?.push(`${this.now} ${event}`);
  }

  count(fault: string): void {
    this.faults[fault] = (this.faults[fault] ?? 0) + 1;
  }

  // -----------------------------------------------------------------------
  // Members

  private addMember(id: bigint): Member {
    const phase = this.prng.nextInt(tickUnits);
    // Without skew every clock runs at the real rate: the plain simulation's ticks stay as they were.
    const rate = this.skew === 0 ? 1 : 1 + this.skew * (2 * this.prng.nextFloat() - 1);
    const clock = new MemberClock(rate, phase);
    const m = new Member(id, clock, this.kind.create(clock));
    this.members.set(id, m);
    this.start(m);
    return m;
  }

  /** Starts (or restarts) a member from its durable state. */
  private start(m: Member): void {
    const snap = m.disk.durableSnapshot();
    // A restart rebuilds what the process kept in memory from its durable state.
    if (m.incarnation > 0) this.kind.reopen(m.sm);
    if (snapshotIndex(snap) > m.sm.appliedIndex) {
      // Crashed after persisting a received snapshot, before applying it.
      m.sm = this.kind.restore(m.sm, snap.data, snapshotIndex(snap), snap.metadata!.confState!);
      this.checker.onSnapshotRestored(m.id, m.sm.appliedIndex, m.sm.fingerprint());
    }
    const storage = m.disk.load();
    if (m.sm.appliedIndex > 0n) storage.setConfState(m.sm.confState);
    m.storage = storage;
    m.rn = new RawNode({
      id: m.id,
      electionTick,
      heartbeatTick: 1,
      storage,
      applied: m.sm.appliedIndex,
      maxSizePerMsgBytes: this.config.maxSizePerMsgBytes,
      maxInflightMsgs: this.config.maxInflightMsgs,
      checkQuorum: this.config.checkQuorum,
      preVote: this.config.preVote,
      prng: this.prng.fork(),
    });
    this.raftMutant?.patch?.(m.rn);
    m.lastRaftState = 'follower';
    m.lastLead = 0n;
    m.stalledUntil = 0;
    m.lastSnapshotIndex = snapshotIndex(snap);
    m.commitSeen = m.rn.basicStatus().commit;
    m.restartAt = undefined;
    m.armedCrash = undefined;
    m.killAt = undefined;
    m.incarnation++;
    this.assertNotBelow(m.commitSeen, m.durableCommitSeen, `member ${m.id} restarted with commit ${m.commitSeen} below its durable commit`);
    this.record(`start ${m.id} applied=${m.sm.appliedIndex} commit=${m.commitSeen}`);
    for (const layer of this.layers) layer.onStart(m);
  }

  private assertNotBelow(value: bigint, floor: bigint, message: string): void {
    if (value < floor) throw new SafetyViolation('Monotonicity', message);
  }

  private crash(m: Member, why: string): void {
    this.record(`crash ${m.id} ${why} unsynced=${m.disk.unsynced}`);
    this.count('crash');
    m.disk.crash();
    this.stop(m);
    // Some restarts are quick (before the messages in flight land), some slow.
    m.restartAt = this.now + 1 + (this.prng.nextInt(2) === 0 ? this.prng.nextInt(10) : this.prng.nextInt(40 * tickUnits));
  }

  /** The process ends: clients whose requests were in flight here see their connection drop. */
  private stop(m: Member): void {
    m.rn = undefined;
    m.storage = undefined;
    const proposals = [...m.proposals.values()];
    const reads = [...m.reads.values()];
    m.proposals.clear();
    m.reads.clear();
    for (const p of proposals) p.lost();
    for (const r of reads) r.lost();
    for (const layer of this.layers) layer.onStop(m);
  }

  /** After every input a member handles: roles for Election Safety, then a new leader's log. */
  private observe(m: Member): void {
    const r = m.rn!.raft;
    if (this.checker.observeRole(m.id, r.state, r.term)) {
      this.record(`leader ${m.id} term=${r.term}`);
      this.checker.checkLeaderCompleteness(m.id, r.term, r.raftLog);
      this.maybeDoomLeader(m);
    }
    const commit = r.raftLog.committed;
    this.assertNotBelow(commit, m.commitSeen, `member ${m.id} commit went from ${m.commitSeen} to ${commit}`);
    if (commit > m.commitSeen) {
      this.checker.onCommitted(m.id, r.term, r.raftLog, m.commitSeen, commit);
      m.commitSeen = commit;
    }
  }

  // -----------------------------------------------------------------------
  // Ready handling: the contract of rawnode.ts, with crash points between steps

  private handleReady(m: Member): void {
    const rn = m.rn!;
    const rd = rn.ready();
    this.record(`ready ${m.id} e=${rd.entries.length} c=${rd.committedEntries.length} m=${rd.messages.length} hs=${rd.hardState?.commit ?? '-'} s=${rd.snapshot === undefined ? 0 : 1}`);
    if (rd.softState !== undefined) {
      m.lastLead = rd.softState.lead;
      if (rd.softState.raftState !== m.lastRaftState) {
        m.lastRaftState = rd.softState.raftState;
        for (const layer of this.layers) layer.onRole(m, m.lastRaftState);
      }
    }
    // A leader may send before (or while) it persists; everyone else after.
    const mayRush = m.lastRaftState === 'leader' || this.driverFault === 'ack-before-persist';
    const sendEarly = mayRush && this.prng.nextInt(2) === 0;
    if (sendEarly) this.sendAll(m, rd.messages);
    const applyEarly = this.driverFault === 'apply-before-persist' && rd.snapshot === undefined;
    if (applyEarly) for (const e of rd.committedEntries) this.apply(m, e);
    if (this.crashPoint(m, 'beforeSave')) return;
    this.persist(m, rd);
    if (this.crashPoint(m, 'afterSave')) return;
    if (!sendEarly) this.sendAll(m, rd.messages);
    if (this.crashPoint(m, 'afterSend')) return;
    if (rd.snapshot !== undefined) this.restoreSnapshot(m, rd.snapshot);
    if (!applyEarly) for (const e of rd.committedEntries) this.apply(m, e);
    if (this.crashPoint(m, 'afterApply')) return;
    for (const rs of rd.readStates) {
      const read = m.reads.get(rs.requestCtx.toString());
      // Under the read-before-apply fault the read is served at whatever the member has applied.
      if (read !== undefined) read.index = this.driverFault === 'read-before-apply' ? m.sm.appliedIndex : rs.index;
    }
    rn.advance();
    this.serveReads(m);
    this.maybeSnapshot(m);
    if (m.selfRemoved) this.shutdownRemoved(m);
  }

  private crashPoint(m: Member, point: CrashPoint): boolean {
    if (m.armedCrash !== point) return false;
    this.crash(m, point);
    return true;
  }

  private persist(m: Member, rd: Ready): void {
    const log = m.rn!.raft.raftLog;
    if (rd.snapshot !== undefined) m.disk.write({ kind: 'snapshot', snapshot: rd.snapshot });
    if (rd.entries.length > 0) {
      this.checker.onPersist(m.id, rd.entries, log.termOrZero(rd.entries[0]!.index - 1n));
      m.disk.write({ kind: 'entries', entries: rd.entries });
      this.logsChanged = true;
    }
    if (rd.hardState !== undefined) m.disk.write({ kind: 'hardState', hardState: rd.hardState });
    // Unsynced writes reach the disk sooner or later on their own.
    if (rd.mustSync || this.prng.nextInt(4) === 0) m.disk.fsync();
    const durableCommit = m.disk.durableHardState().commit;
    this.assertNotBelow(durableCommit, m.durableCommitSeen, `member ${m.id} durable commit went from ${m.durableCommitSeen} to ${durableCommit}`);
    m.durableCommitSeen = durableCommit;
    if (rd.snapshot !== undefined) {
      m.storage!.applySnapshot(rd.snapshot);
      this.logsChanged = true;
    }
    m.storage!.append(rd.entries);
    if (rd.hardState !== undefined) m.storage!.setHardState(rd.hardState);
  }

  /**
   * The durability half of the Ready contract: an answer that promises
   * something (a granted vote, an acknowledged entry) may leave only once
   * what it promises is on disk, or a crash could break the promise.
   */
  private checkDurableBeforeSend(m: Member, msg: Message): void {
    if (msg.type === MessageType.MsgVoteResp && !msg.reject) {
      // A later term on disk also keeps the promise: no vote in msg.term can follow.
      const hs = m.disk.durableHardState();
      if (hs.term < msg.term || (hs.term === msg.term && hs.vote !== msg.to)) {
        throw new SafetyViolation('Durability', `member ${m.id} granted its vote for ${msg.to} in term ${msg.term} but disk has term ${hs.term} vote ${hs.vote}`);
      }
    }
    // An acknowledgement from an older term may name entries a newer leader
    // has since replaced in the same Ready; that leader's term on disk keeps
    // the old leader from counting on them (it must step down first).
    if (msg.type === MessageType.MsgAppResp && !msg.reject && msg.index > m.disk.durableLastIndex() && m.disk.durableHardState().term <= msg.term) {
      throw new SafetyViolation('Durability', `member ${m.id} acknowledged index ${msg.index} but its disk ends at ${m.disk.durableLastIndex()}`);
    }
  }

  private sendAll(m: Member, msgs: Message[]): void {
    for (let msg of msgs) {
      this.checkDurableBeforeSend(m, msg);
      if (msg.type === MessageType.MsgSnap) {
        // As the server does: send the current state, not the stored snapshot
        // (which may predate the recipient's membership).
        msg = { ...msg, snapshot: this.freshSnapshot(m) };
        this.count('snapshot-sent');
      }
      this.record(`send ${msg.from}>${msg.to} ${MessageType[msg.type]} t=${msg.term} i=${msg.index} c=${msg.commit} n=${msg.entries.length}`);
      this.net.send(msg, this.now);
    }
  }

  private freshSnapshot(m: Member): Snapshot {
    const index = m.sm.appliedIndex;
    return { data: m.sm.serialize(), metadata: { index, term: m.storage!.term(index), confState: m.sm.confState } };
  }

  private restoreSnapshot(m: Member, s: Snapshot): void {
    const index = snapshotIndex(s);
    assert.ok(index > m.sm.appliedIndex, `member ${m.id} restores snapshot ${index} at applied ${m.sm.appliedIndex}`);
    const revisionBefore = m.sm.revision;
    m.sm = this.kind.restore(m.sm, s.data, index, s.metadata!.confState!);
    m.lastSnapshotIndex = index;
    this.checker.onSnapshotRestored(m.id, index, m.sm.fingerprint());
    this.record(`restore ${m.id} ${index}`);
    for (const layer of this.layers) layer.onRestore(m, revisionBefore);
  }

  private apply(m: Member, e: Entry): void {
    // The state machine is durable with its applied index: an entry applied
    // before it is on this member's disk leaves, after a crash, a state
    // machine ahead of the log it must be rebuilt from.
    if (e.index > m.disk.durableLastIndex()) {
      throw new SafetyViolation('Durability', `member ${m.id} applies entry ${e.index} but its disk ends at ${m.disk.durableLastIndex()}`);
    }
    m.sm.advanceTo(e.index);
    if (e.type === EntryType.EntryConfChange) {
      this.applyConfChange(m, ConfChangeCodec.decode(e.data));
      this.truth.applied(e.index, undefined, undefined, this.now);
    } else if (e.data.length > 0) {
      const cmd = decodeCommand(e.data);
      const result = m.sm.apply(cmd);
      this.truth.applied(e.index, cmd, result, this.now);
      this.checker.onApplied(m.id, e, m.sm.fingerprint());
      for (const layer of this.layers) layer.onApplied(m, e, cmd, result);
      const waiter = m.proposals.get(cmd.id);
      if (waiter !== undefined) {
        m.proposals.delete(cmd.id);
        waiter.applied(result);
      }
      return;
    } else {
      this.truth.applied(e.index, undefined, undefined, this.now);
      for (const layer of this.layers) layer.onApplied(m, e);
    }
    this.checker.onApplied(m.id, e, m.sm.fingerprint());
  }

  /**
   * The membership layer: validates a committed change against the current
   * configuration (as etcd's cluster store does) and applies it, or applies
   * it as a no-op (node id 0) when it no longer makes sense.
   */
  private applyConfChange(m: Member, cc: ConfChange): void {
    const sm = m.sm;
    const isVoter = sm.voters.has(cc.nodeId);
    const isMember = isVoter || sm.learners.has(cc.nodeId);
    let valid = true;
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) valid = isMember && !(isVoter && sm.voters.size === 1);
    if (cc.type === ConfChangeType.ConfChangeAddNode || cc.type === ConfChangeType.ConfChangeAddLearnerNode) valid = !sm.removed.has(cc.nodeId);
    sm.confState = m.rn!.applyConfChange(valid ? cc : { ...cc, nodeId: 0n });
    if (valid) {
      if (cc.type === ConfChangeType.ConfChangeAddNode) {
        sm.learners.delete(cc.nodeId);
        sm.voters.add(cc.nodeId);
      } else if (cc.type === ConfChangeType.ConfChangeAddLearnerNode) {
        sm.voters.delete(cc.nodeId);
        sm.learners.add(cc.nodeId);
      } else if (cc.type === ConfChangeType.ConfChangeRemoveNode) {
        sm.voters.delete(cc.nodeId);
        sm.learners.delete(cc.nodeId);
        sm.removed.add(cc.nodeId);
        if (cc.nodeId === m.id) m.selfRemoved = true;
      }
    }
    this.observe(m);
  }

  /** A member that applied its own removal stops, as an etcd member does. */
  private shutdownRemoved(m: Member): void {
    this.record(`removed ${m.id}`);
    m.removed = true;
    this.stop(m);
  }

  private maybeSnapshot(m: Member): void {
    const index = m.sm.appliedIndex;
    if (index - m.lastSnapshotIndex < BigInt(this.config.snapshotEvery)) return;
    const data = m.sm.serialize();
    try {
      m.storage!.createSnapshot(index, m.sm.confState, data);
    } catch (err) {
      if (err instanceof SnapshotOutOfDateError) return;
      throw err;
    }
    const compactTo = index - BigInt(this.config.keepEntries);
    if (compactTo > m.storage!.firstIndex()) m.storage!.compact(compactTo);
    m.disk.saveSnapshot(index, m.sm.confState, data, compactTo);
    m.lastSnapshotIndex = index;
    this.logsChanged = true;
    this.record(`snapshot ${m.id} ${index}`);
  }

  // -----------------------------------------------------------------------
  // Network

  private deliver(): void {
    for (const d of this.net.due(this.now)) {
      const { m: msg } = d;
      const from = this.members.get(msg.from);
      const to = this.members.get(msg.to);
      const reachable = d.delivered && to?.alive === true && !to.sm.removed.has(msg.from);
      if (msg.type === MessageType.MsgSnap && from?.alive === true) {
        from.rn!.reportSnapshot(msg.to, reachable);
        this.observe(from);
      }
      if (!reachable) {
        if (d.blocked && from?.alive === true && this.prng.nextInt(2) === 0) from.rn!.reportUnreachable(msg.to);
        continue;
      }
      this.record(`recv ${msg.from}>${msg.to} ${MessageType[msg.type]} t=${msg.term}`);
      to.rn!.step(msg);
      this.observe(to);
    }
  }

  // -----------------------------------------------------------------------
  // Clients

  aliveMembers(): Member[] {
    return [...this.members.values()].filter((m) => m.alive);
  }

  leader(): Member | undefined {
    let best: Member | undefined;
    for (const m of this.aliveMembers()) {
      const r = m.rn!.raft;
      if (r.state === 'leader' && (best === undefined || r.term > best.rn!.raft.term)) best = m;
    }
    return best;
  }

  propose(m: Member, cmd: Command, waiter?: ProposalWaiter): boolean {
    let ok = true;
    try {
      m.rn!.propose(encodeCommand(cmd));
      this.truth.proposed(cmd.id, this.now);
      if (waiter !== undefined) m.proposals.set(cmd.id, waiter);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      ok = false;
    }
    this.observe(m);
    return ok;
  }

  private readSeq = 0;

  readIndex(m: Member, read: PendingRead, ctx = `x${this.readSeq++}`): void {
    m.reads.set(ctx, read);
    m.rn!.readIndex(Buffer.from(ctx));
    this.observe(m);
  }

  peerLinkUp(from: bigint, to: bigint): boolean {
    return !this.net.linkBlocked(from, to);
  }

  peerDelay(): number | undefined {
    if (this.prng.nextFloat() < this.net.config.lossRate) return undefined;
    return this.net.config.delayMin + this.prng.nextInt(this.net.config.delayMax - this.net.config.delayMin + 1);
  }

  clientDelay(): number {
    return 1 + this.prng.nextInt(this.config.delayMax);
  }

  private clientsStep(): void {
    for (let c = 0; c < this.config.clients; c++) {
      const busy = this.clientBusy.get(c);
      if (busy !== undefined) {
        if (this.now >= busy.deadline) this.timeOut(busy);
        continue;
      }
      if (this.opsIssued >= this.options.ops || this.healing || this.prng.nextInt(8) !== 0) continue;
      const targets = this.aliveMembers();
      if (targets.length === 0) continue;
      this.startOp(c, pick(this.prng, targets));
    }
  }

  /** The request a client makes next: the plain mix (puts and gets) or the watch/lease one. */
  private nextRequest(clientId: number, reqId: string): Request {
    const workload = this.config.workload;
    if (workload === undefined) {
      const key = `k${this.prng.nextInt(this.config.keys)}`;
      if (this.prng.nextInt(5) >= 3) return { input: { type: 'get', key }, label: `get ${key}` };
      const value = `c${clientId}-${reqId}`;
      return { input: { type: 'put', key, value }, cmd: { t: 'put', id: reqId, k: key, v: value }, label: `put ${key}` };
    }
    return chooseRequest(this.prng, workload, {
      clientId, reqId, keys: this.config.keys, truth: this.truth, lease: this.lease?.pickLeaseForPut() ?? 0,
    });
  }

  private startOp(clientId: number, m: Member): void {
    const reqId = `r${this.reqSeq++}`;
    const req = this.nextRequest(clientId, reqId);
    const write = req.cmd !== undefined;
    const op: ClientOp = { clientId, input: req.input, call: this.now, deadline: this.now + clientTimeoutUnits, member: m.id, reqId, write };
    this.opsIssued++;
    this.clientBusy.set(clientId, op);
    this.record(`op ${clientId} ${reqId} ${req.label} at ${m.id}`);
    if (req.cmd !== undefined) {
      this.counts.writes++;
      const waiter: ProposalWaiter = { applied: (r) => this.finishApplied(op, r), lost: () => this.finishUnknown(op) };
      if (!this.propose(m, req.cmd, waiter)) this.finishFailed(op);
    } else {
      this.counts.reads++;
      const key = (req.input as { key: string }).key;
      this.readIndex(m, { ready: () => this.finishOk(op, m.sm.get(key)), lost: () => this.finishFailed(op) }, reqId);
    }
  }

  private serveReads(m: Member): void {
    for (const [ctx, read] of m.reads) {
      if (read.index === undefined || m.sm.appliedIndex < read.index) continue;
      m.reads.delete(ctx);
      read.ready();
    }
  }

  private timeOut(op: ClientOp): void {
    const m = this.members.get(op.member)!;
    if (op.write) {
      m.proposals.delete(op.reqId);
      this.finishUnknown(op);
    } else {
      m.reads.delete(op.reqId);
      this.finishFailed(op);
    }
  }

  private settle(op: ClientOp): void {
    assert.equal(this.clientBusy.get(op.clientId), op, `client ${op.clientId} settles a request that is not in flight`);
    this.clientBusy.delete(op.clientId);
  }

  /** A write applied on the member it was proposed to: etcd answers now. */
  private finishApplied(op: ClientOp, result: ApplyResult): void {
    // A refused request (a put with an unknown lease, a compaction of a compacted revision) changed nothing.
    if (result.error !== undefined) this.finishFailed(op, result.error);
    else this.finishOk(op, result.output);
  }

  private finishOk(op: ClientOp, output: EtcdOutput | undefined): void {
    this.settle(op);
    this.counts.ok++;
    this.record(`ok ${op.reqId} ${JSON.stringify(output)}`);
    if (op.input !== undefined) this.history.push({ op: { clientId: op.clientId, input: op.input, output, call: op.call, return: this.now }, reqId: op.reqId });
  }

  /** A write that may or may not have taken effect. */
  private finishUnknown(op: ClientOp): void {
    this.settle(op);
    this.counts.unknown++;
    this.record(`unknown ${op.reqId}`);
    if (op.input !== undefined) this.history.push({ op: { clientId: op.clientId, input: op.input, output: undefined, call: op.call, return: Infinity }, reqId: op.reqId });
  }

  /** Certainly no effect (refused proposal, unanswered read): left out of the history. */
  private finishFailed(op: ClientOp, why?: string): void {
    this.settle(op);
    this.counts.failed++;
    this.record(why === undefined ? `failed ${op.reqId}` : `failed ${op.reqId} ${why}`);
  }

  // -----------------------------------------------------------------------
  // Nemesis: faults, membership changes, leadership moves

  private nemesisStep(): void {
    for (const m of this.members.values()) {
      if (!m.alive && !m.removed && m.restartAt !== undefined && this.now >= m.restartAt) this.start(m);
    }
    this.killDoomedLeaders();
    if (this.healAt !== undefined && this.now >= this.healAt) {
      this.net.heal();
      this.healAt = undefined;
      this.record('heal');
    }
    if (this.healing || this.prng.nextInt(this.config.faultEveryUnits) !== 0) return;
    // Drawn only with watchLease, so that the plain simulation's seeds keep their runs.
    if (this.config.workload !== undefined && this.prng.nextInt(6) === 0) {
      this.stallSomeone();
      return;
    }
    const roll = this.prng.nextInt(100);
    if (roll < 30) this.crashSomeone();
    else if (roll < 60) this.partitionSomehow();
    else if (roll < 85) this.changeMembership();
    else this.transferLeadership();
  }

  private voters(): bigint[] {
    return this.leader()?.sm.confState.voters ?? [];
  }

  /** Keep a majority of the initial size running, so the cluster can make progress. */
  private mayCrashAnother(): boolean {
    const down = [...this.members.values()].filter((m) => !m.alive && !m.removed).length;
    return down < Math.floor((this.config.members - 1) / 2);
  }

  /**
   * Sometimes a new leader dies within two heartbeats of its election:
   * before its empty entry, or what it replicates after it, reaches a
   * majority. Several of these in a row make the histories of Raft's
   * Figure 8, where an entry of an older term sits on a majority without
   * being committed.
   */
  private maybeDoomLeader(m: Member): void {
    if (this.healing || this.prng.nextInt(leaderKillOdds) !== 0) return;
    m.killAt = this.now + 1 + this.prng.nextInt(2 * tickUnits);
    this.record(`doom ${m.id} at ${m.killAt}`);
  }

  private killDoomedLeaders(): void {
    for (const m of this.members.values()) {
      if (m.killAt === undefined || this.now < m.killAt) continue;
      m.killAt = undefined;
      if (!m.alive || !this.mayCrashAnother()) continue;
      this.count('leader-kill');
      this.crash(m, 'doomed');
    }
  }

  private crashSomeone(): void {
    const alive = this.aliveMembers();
    if (alive.length === 0 || !this.mayCrashAnother()) return;
    const victim = this.prng.nextInt(3) === 0 ? (this.leader() ?? pick(this.prng, alive)) : pick(this.prng, alive);
    if (this.prng.nextInt(2) === 0) this.crash(victim, 'now');
    else {
      victim.armedCrash = pick(this.prng, crashPoints);
      this.record(`arm ${victim.id} ${victim.armedCrash}`);
    }
  }

  /**
   * A member's Ready loop stalls (a slow fsync, etcd #15247): its Raft still
   * ticks and steps messages, so it may lose leadership, but the server only
   * learns that from the next Ready, and nothing it writes, sends or applies
   * moves meanwhile. Its gRPC side (watches, keep-alives) keeps running.
   */
  private stallSomeone(): void {
    const alive = this.aliveMembers();
    if (alive.length === 0) return;
    const victim = this.prng.nextInt(2) === 0 ? (this.leader() ?? pick(this.prng, alive)) : pick(this.prng, alive);
    victim.stalledUntil = this.now + (2 + this.prng.nextInt(40)) * tickUnits;
    this.count('stall');
    this.record(`stall ${victim.id} until ${victim.stalledUntil}`);
  }

  private partitionSomehow(): void {
    if (this.net.partitioned) return;
    const ids = [...this.members.values()].filter((m) => !m.removed).map((m) => m.id);
    const kind = this.prng.nextInt(4);
    const lead = this.leader()?.id ?? pick(this.prng, ids);
    if (kind === 0) {
      this.net.partition([lead], ids.filter((i) => i !== lead));
      this.count('partition-leader');
    } else if (kind === 1) {
      const shuffled = shuffle(this.prng, ids);
      const cut = 1 + this.prng.nextInt(Math.max(1, ids.length - 1));
      this.net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      this.count('partition-split');
    } else if (kind === 2) {
      // Asymmetric: one member hears everyone but nobody hears it.
      const victim = pick(this.prng, ids);
      for (const other of ids) if (other !== victim) this.net.block(victim, other);
      this.count('partition-oneway');
    } else {
      const a = pick(this.prng, ids);
      const b = pick(this.prng, ids);
      if (a !== b) this.net.partition([a], [b]);
      this.count('partition-link');
    }
    this.healAt = this.now + 50 + this.prng.nextInt(60 * tickUnits);
    this.record(`partition kind=${kind}`);
  }

  /**
   * One step of the membership cycle, decided from the leader's applied
   * configuration: add a learner (a new member process), promote it once
   * it has caught up, then remove some voter (perhaps the leader) to get
   * back to the initial size. Member ids are never reused, like etcd's.
   */
  private changeMembership(): void {
    const lead = this.leader();
    if (lead === undefined) return;
    const cs = lead.sm.confState;
    let cc: ConfChange;
    if (cs.learners.length > 0) {
      const learner = cs.learners[0]!;
      const pr = lead.rn!.status().progress?.get(learner);
      if (pr !== undefined && pr.match >= lead.rn!.raft.raftLog.committed) cc = conf(ConfChangeType.ConfChangeAddNode, learner);
      else if (this.prng.nextInt(4) === 0) cc = conf(ConfChangeType.ConfChangeRemoveNode, learner);
      else return;
    } else if (cs.voters.length > this.config.members) {
      cc = conf(ConfChangeType.ConfChangeRemoveNode, pick(this.prng, cs.voters));
    } else if (this.prng.nextInt(8) === 0) {
      cc = conf(ConfChangeType.ConfChangeUpdateNode, pick(this.prng, cs.voters));
    } else {
      const id = this.nextMemberId++;
      cc = conf(ConfChangeType.ConfChangeAddLearnerNode, id);
      this.addMember(id);
    }
    this.record(`conf ${ConfChangeType[cc.type]} ${cc.nodeId} via ${lead.id}`);
    this.count(`conf-${ConfChangeType[cc.type]}`);
    try {
      lead.rn!.proposeConfChange(cc);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
    this.observe(lead);
  }

  private transferLeadership(): void {
    const lead = this.leader();
    const voters = this.voters().filter((v) => v !== lead?.id);
    if (lead === undefined || voters.length === 0) return;
    const to = pick(this.prng, voters);
    this.record(`transfer ${lead.id} -> ${to}`);
    this.count('transfer');
    lead.rn!.transferLeader(to);
    this.observe(lead);
  }

  // -----------------------------------------------------------------------
  // The main loop

  private tickMembers(): void {
    for (const m of this.members.values()) {
      if (!m.alive || !m.clock.ticksAt(this.now, tickUnits)) continue;
      m.rn!.tick();
      this.observe(m);
    }
  }

  private handleReadies(): void {
    for (const m of this.members.values()) {
      if (m.stalledUntil > this.now) continue;
      // A Ready can make more work (applying a conf change); a few rounds per unit suffice.
      for (let round = 0; round < 3 && m.alive && m.rn!.hasReady(); round++) {
        this.handleReady(m);
        if (m.alive) this.observe(m);
      }
    }
  }

  private checkLogs(): void {
    if (!this.logsChanged || this.now % 50 !== 0) return;
    this.logsChanged = false;
    this.checker.checkLogsPairwise(this.aliveMembers().map((m) => ({ id: m.id, log: m.rn!.raft.raftLog })));
  }

  /** Ends the faults: heal, restart everyone, stop losing messages. */
  private beginHealing(): void {
    this.healing = true;
    this.net.heal();
    this.healAt = undefined;
    this.net.config = { ...this.net.config, lossRate: 0, duplicateRate: 0 };
    for (const m of this.members.values()) {
      m.armedCrash = undefined;
      m.killAt = undefined;
      m.stalledUntil = 0;
      if (!m.alive && !m.removed) this.start(m);
    }
    this.record('healing');
  }

  /** Every current member is running, caught up, and has applied everything. */
  private converged(): boolean {
    const lead = this.leader();
    if (lead === undefined || this.clientBusy.size > 0) return false;
    const r = lead.rn!.raft;
    if (r.raftLog.committed !== r.raftLog.lastIndex() || !r.committedEntryInCurrentTerm()) return false;
    const cs = lead.sm.confState;
    for (const id of [...cs.voters, ...cs.learners]) {
      const m = this.members.get(id);
      if (m === undefined || !m.alive || m.sm.appliedIndex !== r.raftLog.committed) return false;
      if (m.rn!.raft.raftLog.lastIndex() !== r.raftLog.lastIndex()) return false;
    }
    return true;
  }

  async run(): Promise<SimReport> {
    for (;; this.now++) {
      if (this.asyncStores) await settleMicrotasks();
      this.deliver();
      this.tickMembers();
      this.clientsStep();
      for (const layer of this.layers) layer.step();
      this.nemesisStep();
      this.handleReadies();
      this.checkLogs();
      if (!this.healing && this.opsIssued >= this.options.ops && this.clientBusy.size === 0) this.beginHealing();
      if (this.healing && this.converged() && this.layersSettled()) break;
      if (this.now > convergeLimitUnits + this.options.ops * 50 * tickUnits) {
        throw new SafetyViolation('Liveness', `no convergence by time ${this.now} (healing=${this.healing}, issued=${this.opsIssued})`);
      }
    }
    return this.finish();
  }

  /**
   * Once the cluster has converged after healing, the layers' clients must
   * catch up within a bound: a watch that silently stops delivering would
   * otherwise pass every other check (they only cover what it delivered).
   */
  private layersSettled(): boolean {
    this.convergedAt ??= this.now;
    const unsettled = this.layers.map((l) => l.unsettled()).find((why) => why !== undefined);
    if (unsettled === undefined) return true;
    if (this.now - this.convergedAt > settleLimitUnits) {
      throw new SafetyViolation('Liveness', `${settleLimitUnits} units after the cluster converged: ${unsettled}`);
    }
    return false;
  }

  private finish(): SimReport {
    const lead = this.leader()!;
    const cs = lead.sm.confState;
    const finals = [...cs.voters, ...cs.learners].map((id) => this.members.get(id)!);
    const fingerprint = lead.sm.fingerprint();
    for (const m of finals) {
      if (m.sm.fingerprint() !== fingerprint) {
        throw new SafetyViolation('Convergence', `member ${m.id} state ${m.sm.fingerprint()} differs from leader ${lead.id}: ${fingerprint}`);
      }
    }
    this.checker.checkLogsPairwise(finals.map((m) => ({ id: m.id, log: m.rn!.raft.raftLog })));
    this.kind.compareFinal(finals.map((m) => ({ id: m.id, sm: m.sm })));
    const { lincheck, history } = this.checkLinearizable();
    const watch = this.watch?.finish(history);
    const lease = this.lease?.finish(this.history.map((h) => h.op), finals.map((m) => ({ id: m.id, sm: m.sm })));
    return {
      seed: this.options.seed,
      config: this.config,
      stores: this.options.stores ?? 'model',
      traceHash: this.hash.hex(),
      simUnits: this.now,
      ops: { ...this.counts },
      faults: { ...this.faults },
      network: { ...this.net.stats },
      checks: { ...this.checker.counts },
      terms: this.checker.termsWithLeader,
      finalMembers: finals.map((m) => String(m.id)),
      appliedIndex: String(lead.sm.appliedIndex),
      lincheck,
      watch,
      lease,
      trace: this.trace,
    };
  }

  /**
   * Requests whose outcome the client never learned are settled from what
   * the cluster applied (etcd's robustness suite calls this "patching"): one
   * that was applied gets the answer it would have had and returns when it
   * was first applied; one that was not is dropped (the cluster has
   * converged, so it never will be). Leader-made
   * lease revokes join the history as txns of deletes, so the history holds
   * every write. The linearised history must then be exactly what was applied.
   */
  private checkLinearizable(): { lincheck: SimReport['lincheck']; history: CommittedRevision[] } {
    const ops = this.history.flatMap(({ op, reqId }) => {
      if (op.output !== undefined) return [op];
      const applied = this.truth.requests.get(reqId);
      // It took effect by the time the first member applied it: it was committed then.
      return applied === undefined || applied.result.error !== undefined ? [] : [{ ...op, output: applied.result.output, return: applied.appliedAt }];
    });
    ops.push(...revokeOperations(this.truth));
    const started = Date.now();
    const result = checkOperations(etcdModel, ops, { stepsMax: lincheckStepsMax, timeoutMs: Infinity });
    const ms = Date.now() - started;
    if (result.verdict !== 'ok') {
      const why = result.verdict === 'unknown' ? ` (the search spent its budget of ${lincheckStepsMax} steps)` : '';
      throw new SafetyViolation('Linearizability', `verdict ${result.verdict}${why} on ${ops.length} operations: ${result.explanation ?? ''}`);
    }
    const history = committedHistory(ops, result.linearization!);
    const difference = compareHistories(history, this.truth);
    if (difference !== undefined) throw new SafetyViolation('Linearizability', `the linearised history differs from the applied one: ${difference}`);
    return { lincheck: { verdict: result.verdict, ms, steps: result.stats.steps, ops: ops.length }, history };
  }
}

/**
 * The shipped watchable store's limits, scaled to the run's workload: small
 * send queues (in bytes, about one event per 700) so that slow clients make
 * watchers fall behind and catch up from the backend.
 */
function watchLimits(w: WorkloadConfig | undefined): Partial<WatchLimits> {
  if (w === undefined) return {};
  const responseBytes = 700;
  return {
    streamQueueBytesMax: w.streamQueueMax * responseBytes,
    streamCatchUpBelowBytes: Math.ceil((w.streamQueueMax * responseBytes) / 2),
    catchUpRevisionsMax: w.catchUpRevisionsMax,
  };
}

/**
 * Runs the promise callbacks queued so far (and those they queue, a few
 * levels deep). Only microtasks: no timer or I/O completion can run in
 * between, so the simulation stays deterministic.
 */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 4; i++) await null;
}

/** Revokes that deleted keys, as completed txns between their proposal and their first apply. */
function revokeOperations(truth: Truth): Operation<EtcdInput, EtcdOutput | undefined>[] {
  const ops: Operation<EtcdInput, EtcdOutput | undefined>[] = [];
  for (const req of truth.log) {
    if (req.cmd.t !== 'revoke') continue;
    for (const w of req.result.writes) {
      ops.push({
        clientId: revokeClientIdBase + ops.length,
        input: txn([], w.events.map((e) => del(e.key))),
        output: { succeeded: true, revision: w.revision, results: w.events.map(() => ({ deleted: 1 })) },
        call: req.proposedAt,
        return: req.appliedAt,
      });
    }
  }
  return ops;
}

/** The first difference between a linearised history and the applied truth, or undefined. */
function compareHistories(history: readonly CommittedRevision[], truth: Truth): string | undefined {
  const render = (events: readonly { type: string; key: string; value?: string }[]) => events.map((e) => `${e.type} ${e.key}=${e.value ?? ''}`).join(', ');
  const linearised = new Map(history.map((r) => [r.revision, r.events]));
  for (let rev = 2; rev <= Math.max(truth.revision, history[history.length - 1]?.revision ?? 0); rev++) {
    const a = render(linearised.get(rev) ?? []);
    const b = render(truth.revisions.get(rev) ?? []);
    if (a !== b) {
      const writer = truth.log.find((req) => req.result.writes.some((w) => w.revision === rev));
      return `revision ${rev}: linearised [${a}], applied [${b}] by ${JSON.stringify(writer?.cmd)}`;
    }
  }
  return undefined;
}

function conf(type: ConfChangeType, nodeId: bigint): ConfChange {
  return { type, nodeId, context: Buffer.alloc(0), id: 0n };
}

/** A failed run: the seed and trace hash are in the message, the trace (if kept) attached. */
export interface SimFailure extends Error {
  simTrace?: string[];
}

/** The command that replays one seed of one of the simulation tests, with its bug if any. */
function replayCommand(o: SimOptions): string {
  const [test, opsVar] = o.stores === 'real' ? ['real-stores-sim', 'SIM_REAL_OPS'] : o.watchLease === true ? ['watch-lease-sim', 'SIM_WL_OPS'] : ['raft-sim', 'SIM_OPS'];
  const mutant = o.raftMutant ?? o.mutation ?? o.realMutant;
  return `SIM_SEED=${o.seed}${mutant === undefined ? '' : ` SIM_MUTANT=${mutant}`} ${opsVar}=${o.ops} npx mocha --no-config -t 0 dist/test/sim/${test}.test.js`;
}

/** Runs one seed; a failure names the seed and the trace hash so it can be replayed. */
export async function runSeed(options: SimOptions): Promise<SimReport> {
  const sim = new Simulation(options);
  let report: SimReport;
  try {
    report = await sim.run();
  } catch (err) {
    await sim.close().catch(() => undefined);
    const e = err as SimFailure;
    e.simTrace = sim.traceLines();
    e.message = `seed ${options.seed} failed at time ${sim.now} (trace hash so far ${sim.traceHash()}; replay with ${replayCommand(options)}): ${e.message}`;
    throw e;
  }
  await sim.close();
  return report;
}
