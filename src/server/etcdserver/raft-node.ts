import assert from 'node:assert/strict';
import { EntryType, MessageType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { RawNode, type Ready, type SoftState, type MemoryStorage, isEmptySnapshot, ConfChangePendingError, ProposalDroppedError } from '../raft/index.js';
import type { Wal } from '../wal/wal.js';
import type { Snapshotter } from '../wal/snapshotter.js';
import type { ConsensusDriver } from './driver.js';
import { LeaderChangedError, NoLeaderError, StoppedError } from './errors.js';
import { failpoint } from '../failpoint.js';
import type { Logger } from '../logger.js';

/** What the driver needs from the member's state machine. */
export interface StateMachine {
  /** Applies committed entries in log order, synchronously (conf changes included). */
  applyEntries(entries: Entry[]): void;
  /** Replaces the state machine with a snapshot received from the leader (its db is on disk). */
  applySnapshot(snapshot: Snapshot): Promise<void>;
  /** Leadership changed (or a first leader was seen). */
  onLeaderChange(leader: bigint, isLeader: boolean): void;
  /** Resolves when every applied change is durable in the backend. */
  backendSettled(): Promise<void>;
  readonly appliedIndex: bigint;
  /** The configuration as of the applied index. */
  confState(): ConfState;
}

/** What the driver needs from the peer transport. Sending never blocks and never throws. */
export interface RaftTransport {
  send(msgs: Message[]): void;
  /** Streams the member's database for a MsgSnap; calls back with the outcome. */
  sendSnapshot(msg: Message): void;
}

export interface RaftNodeOptions {
  memberId: bigint;
  rawNode: RawNode;
  storage: MemoryStorage;
  wal: Wal;
  snapshotter: Snapshotter;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
  log: Logger;
}

/**
 * The member's Raft driver: it owns the RawNode and all of its I/O, and
 * handles each Ready in the order the RawNode contract prescribes
 * (src/server/raft/rawnode.ts): snapshot, then entries and hard state to the
 * WAL (fsync), messages (the leader sends before its own write, followers
 * after), apply, advance. One loop handles one Ready at a time; proposals,
 * messages and ticks that arrive meanwhile accumulate in the RawNode and go
 * out together in the next Ready: group commit, one fsync for many requests.
 *
 * Committed entries are applied only once they are durable in this member's
 * WAL too (entries persisted by an earlier Ready are applied at once, the
 * rest after this Ready's fsync), so a crash never leaves the state machine
 * ahead of the log.
 */
export class RaftNode implements ConsensusDriver {
  readonly entriesDurableBeforeApply = true;
  term = 0n;
  leaderId = 0n;
  private raftState: SoftState['raftState'] = 'follower';
  private readonly rn: RawNode;
  private sm: StateMachine | undefined;
  private transport: RaftTransport | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private loopRunning = false;
  private kickScheduled = false;
  private stopped = false;
  /** Last index durable in the WAL. */
  private persistedIndex: bigint;
  /** Index of the last raft snapshot taken here. */
  private snapshotIndex: bigint;
  private snapshotting = false;
  private readonly readWaiters: Array<{ resolve: (index: bigint) => void; reject: (err: Error) => void }> = [];
  private readonly readsInFlight = new Map<string, Array<{ resolve: (index: bigint) => void; reject: (err: Error) => void }>>();
  private readSeq = 0n;
  private readonly exclusiveTasks: Array<() => Promise<void>> = [];
  /** Called after the next advance(): conf changes waiting for Raft's applied index to catch up. */
  private readonly advanceWaiters: Array<() => void> = [];
  /**
   * Reads arriving in the same turn of the event loop share one ReadIndex
   * round. setImmediate, not setTimeout(0): Node rounds a 0 ms timer up to
   * 1 ms, which was the whole latency of a lone read on an idle member.
   */
  private readTimer: NodeJS.Immediate | undefined;
  /**
   * Counters the metrics endpoint reads. leadersSeen counts as etcd's
   * leader_changes_seen_total does: each time a leader other than the last
   * one known appears. heartbeatSendFailures counts heartbeats the leader
   * sent more than two heartbeat intervals after the previous one to the
   * same peer (etcd's timeout detector): the leader's loop was held up,
   * most often by a slow disk.
   */
  readonly counters = {
    readies: 0, walSaves: 0, entriesPersisted: 0, messagesSent: 0, leaderChanges: 0, snapshotsTaken: 0, leadersSeen: 0, heartbeatSendFailures: 0,
  };
  /** When the last heartbeat went to each peer, while this member leads. */
  private readonly heartbeatSentAt = new Map<bigint, number>();

  constructor(private readonly options: RaftNodeOptions) {
    this.rn = options.rawNode;
    this.persistedIndex = options.storage.lastIndex();
    this.snapshotIndex = options.storage.snapshot().metadata?.index ?? 0n;
    const status = this.rn.basicStatus();
    this.term = status.term;
  }

  /** Index of the last Raft snapshot this member took or installed. */
  get snapshotIndexNow(): bigint {
    return this.snapshotIndex;
  }

  get committedIndex(): bigint {
    return this.rn.basicStatus().commit;
  }

  get isLeader(): boolean {
    return this.raftState === 'leader';
  }

  get status() {
    return this.rn.status();
  }

  /** The WAL this driver writes (its fsyncs are timed for metrics). */
  get wal(): Wal {
    return this.options.wal;
  }

  setTransport(transport: RaftTransport): void {
    this.transport = transport;
  }

  async start(apply: StateMachine | ((entries: Entry[]) => void)): Promise<void> {
    assert.ok(typeof apply !== 'function', 'RaftNode needs a full StateMachine');
    this.sm = apply;
    this.tickTimer = setInterval(() => this.tick(), this.options.heartbeatIntervalMs);
    this.kick();
  }

  /** Campaigns at once (a single-member cluster need not wait an election timeout). */
  campaign(): void {
    this.rn.campaign();
    this.kick();
  }

  /** Fast-forwards the election clock by `ticks` (etcd's advanceTicks), so the first election need not wait a full timeout. */
  advanceTicks(ticks: number): void {
    for (let i = 0; i < ticks && !this.stopped; i++) this.rn.tick();
    this.kick();
  }

  /** fsyncs and writes of the WAL (for /metrics). */
  walStats(): ReturnType<Wal['stats']> {
    return this.options.wal.stats();
  }

  private tick(): void {
    if (this.stopped) return;
    this.rn.tick();
    this.kick();
  }

  /** Hands a message from a peer to Raft. */
  step(msg: Message): void {
    if (this.stopped) return;
    this.rn.step(msg);
    this.kick();
  }

  reportUnreachable(id: bigint): void {
    if (this.stopped) return;
    this.rn.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: bigint, ok: boolean): void {
    if (this.stopped) return;
    this.rn.reportSnapshot(id, ok);
    this.kick();
  }

  propose(data: Uint8Array): void {
    if (this.stopped) throw new StoppedError();
    try {
      this.rn.propose(data);
    } catch (err) {
      if (err instanceof ProposalDroppedError) throw this.leaderId === 0n ? new NoLeaderError() : new LeaderChangedError();
      throw err;
    }
    this.kick();
  }

  /**
   * Proposes a configuration change. Raft refuses one while the previous
   * change may be unapplied in its own view, which lags the state machine
   * by up to one Ready (committed entries already durable are applied, and
   * their callers answered, while the Ready's own write is still in flight).
   * A change proposed right after the previous one was answered is retried
   * after each Ready for up to an election timeout, instead of failing.
   */
  async proposeConfChange(cc: ConfChange): Promise<void> {
    const deadline = performance.now() + this.options.electionTimeoutMs;
    for (;;) {
      if (this.stopped) throw new StoppedError();
      try {
        this.rn.proposeConfChange(cc);
        this.kick();
        return;
      } catch (err) {
        const settling = err instanceof ConfChangePendingError && err.pendingIndex <= (this.sm?.appliedIndex ?? 0n);
        if (settling && performance.now() < deadline) {
          await this.nextAdvance();
          continue;
        }
        if (err instanceof ProposalDroppedError) throw this.leaderId === 0n ? new NoLeaderError() : new LeaderChangedError();
        throw err;
      }
    }
  }

  /** Resolves after the Ready being handled (or the next one) was advanced. */
  private nextAdvance(): Promise<void> {
    return new Promise((resolve) => {
      // No Ready in flight: Raft's view is already current.
      if (!this.loopRunning && !this.rn.hasReady()) setImmediate(resolve);
      else this.advanceWaiters.push(resolve);
      this.kick();
    });
  }

  /** The term of the entry at `index` (for snapshots taken at an applied index). */
  termAt(index: bigint): bigint {
    return this.options.storage.term(index);
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.rn.applyConfChange(cc);
  }

  transferLeadership(to: bigint): void {
    this.rn.transferLeader(to);
    this.kick();
  }

  /**
   * A linearizable read barrier (ReadIndex): concurrent callers share one
   * round of heartbeats. Resolves with the commit index reads must wait for.
   */
  readIndex(): Promise<bigint> {
    if (this.stopped) return Promise.reject(new StoppedError());
    return new Promise((resolve, reject) => {
      this.readWaiters.push({ resolve, reject });
      if (this.readTimer === undefined) this.readTimer = setImmediate(() => this.flushReads());
    });
  }

  private flushReads(): void {
    this.readTimer = undefined;
    if (this.readWaiters.length === 0) return;
    if (this.leaderId === 0n) {
      // Without a leader no read can be confirmed; fail fast so clients try another member.
      for (const w of this.readWaiters.splice(0)) w.reject(new NoLeaderError());
      return;
    }
    const ctx = Buffer.alloc(8);
    ctx.writeBigUInt64BE(++this.readSeq);
    const key = ctx.toString('hex');
    const batch = this.readWaiters.splice(0);
    this.readsInFlight.set(key, batch);
    this.rn.readIndex(ctx);
    this.kick();
    // A read request can be lost (leader change, dropped message): retry it.
    setTimeout(() => {
      const pending = this.readsInFlight.get(key);
      if (pending === undefined || this.stopped) return;
      this.readsInFlight.delete(key);
      this.readWaiters.push(...pending);
      if (this.readTimer === undefined) this.readTimer = setImmediate(() => this.flushReads());
    }, this.options.electionTimeoutMs);
  }

  /**
   * Runs `fn` between two Readys, while nothing is applied: for work that
   * replaces or rewrites the backend (defragmentation) and must not race
   * with the apply path. Ticks and messages keep arriving and are handled
   * in the next Ready, so a short task costs no election.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new StoppedError());
    return new Promise<T>((resolve, reject) => {
      this.exclusiveTasks.push(() => fn().then(resolve, reject));
      this.kick();
    });
  }

  private kick(): void {
    if (this.loopRunning || this.kickScheduled || this.stopped) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.loopRunning || this.stopped) return;
    this.loopRunning = true;
    try {
      while (!this.stopped && (this.rn.hasReady() || this.exclusiveTasks.length > 0)) {
        const task = this.exclusiveTasks.shift();
        if (task !== undefined) {
          await task();
          continue;
        }
        const rd = this.rn.ready();
        await this.handleReady(rd);
        this.rn.advance();
        for (const resolve of this.advanceWaiters.splice(0)) resolve();
        this.counters.readies++;
        this.maybeSnapshot();
      }
    } catch (err) {
      this.options.log.fatal({ err }, 'raft loop failed');
      this.options.log.flushSync();
      process.exit(1);
    } finally {
      this.loopRunning = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const sm = this.sm!;
    // The term first: a leadership change is reported with the term it happened in.
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.softState !== undefined) this.onSoftState(rd.softState);
    const snapshot = rd.snapshot !== undefined && !isEmptySnapshot(rd.snapshot) ? rd.snapshot : undefined;
    if (snapshot !== undefined) await this.persistSnapshot(snapshot);
    const leader = this.isLeader;
    if (leader) {
      failpoint('raftBeforeLeaderSend');
      this.send(rd.messages);
    }
    const durableBefore = this.persistedIndex;
    const save = rd.entries.length > 0 || rd.hardState !== undefined ? this.persist(rd.hardState, rd.entries) : undefined;
    if (snapshot !== undefined) {
      failpoint('raftBeforeApplySnap');
      await sm.applySnapshot(snapshot);
      failpoint('raftAfterApplySnap');
    }
    // Entries durable before this Ready can be applied while the WAL writes the new ones.
    const early = rd.committedEntries.filter((e) => e.index <= durableBefore);
    const late = rd.committedEntries.slice(early.length);
    if (early.length > 0) sm.applyEntries(early);
    if (save !== undefined) await save;
    if (rd.entries.length > 0) this.options.storage.append(rd.entries);
    if (rd.hardState !== undefined) this.options.storage.setHardState(rd.hardState);
    if (!leader) {
      failpoint('raftBeforeFollowerSend');
      this.send(rd.messages);
    }
    if (late.length > 0) sm.applyEntries(late);
    for (const rs of rd.readStates) {
      const key = rs.requestCtx.toString('hex');
      const waiters = this.readsInFlight.get(key);
      if (waiters === undefined) continue;
      this.readsInFlight.delete(key);
      for (const w of waiters) w.resolve(rs.index);
    }
  }

  private async persist(hardState: HardState | undefined, entries: Entry[]): Promise<void> {
    failpoint('raftBeforeSave');
    await this.options.wal.save(hardState, entries);
    failpoint('raftAfterSave');
    this.counters.walSaves++;
    this.counters.entriesPersisted += entries.length;
    if (entries.length > 0) this.persistedIndex = entries[entries.length - 1]!.index;
  }

  private async persistSnapshot(snapshot: Snapshot): Promise<void> {
    const meta = snapshot.metadata!;
    failpoint('raftBeforeSaveSnap');
    await this.options.snapshotter.save(snapshot);
    await this.options.wal.saveSnapshot({ index: meta.index, term: meta.term, confState: meta.confState });
    failpoint('raftAfterSaveSnap');
    this.options.storage.applySnapshot(snapshot);
    if (meta.index > this.persistedIndex) this.persistedIndex = meta.index;
    this.snapshotIndex = meta.index;
  }

  private send(messages: Message[]): void {
    if (messages.length === 0 || this.transport === undefined) return;
    const regular: Message[] = [];
    for (const m of messages) {
      if (m.type === MessageType.MsgSnap) this.transport.sendSnapshot(m);
      else regular.push(m);
      if (m.type === MessageType.MsgHeartbeat) this.observeHeartbeat(m.to);
    }
    this.counters.messagesSent += regular.length;
    if (regular.length > 0) this.transport.send(regular);
  }

  /** etcd's timeout detector: a heartbeat later than two intervals after the last one to the same peer. */
  private observeHeartbeat(to: bigint): void {
    const now = performance.now();
    const last = this.heartbeatSentAt.get(to);
    this.heartbeatSentAt.set(to, now);
    if (last === undefined) return;
    const exceededMs = now - last - 2 * this.options.heartbeatIntervalMs;
    if (exceededMs <= 0) return;
    this.counters.heartbeatSendFailures++;
    this.options.log.warn({
      to: to.toString(16), 'heartbeat-interval': `${this.options.heartbeatIntervalMs}ms`,
      'expected-duration': `${2 * this.options.heartbeatIntervalMs}ms`, 'exceeded-duration': `${Math.round(exceededMs)}ms`,
    }, 'leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk');
  }

  private onSoftState(soft: SoftState): void {
    const wasLeader = this.raftState === 'leader';
    this.raftState = soft.raftState;
    if (soft.lead !== 0n && soft.lead !== this.leaderId) this.counters.leadersSeen++;
    // A new term of leadership starts the heartbeat clock again.
    if (this.raftState === 'leader' && !wasLeader) this.heartbeatSentAt.clear();
    if (soft.lead !== this.leaderId || wasLeader !== this.isLeader) {
      this.counters.leaderChanges++;
      if (soft.lead !== this.leaderId) this.logLeader(this.leaderId, soft.lead);
      this.leaderId = soft.lead;
      if (!this.isLeader && this.leaderId !== 0n) {
        // Reads waiting on a previous leader must be retried against the new one.
        for (const [key, waiters] of this.readsInFlight) {
          this.readsInFlight.delete(key);
          this.readWaiters.push(...waiters);
        }
        if (this.readWaiters.length > 0 && this.readTimer === undefined) this.readTimer = setImmediate(() => this.flushReads());
      }
      this.sm?.onLeaderChange(this.leaderId, this.isLeader);
    }
  }

  /** raft/node.go's lines for a leader seen, changed or lost (ids in hex, as etcd writes them). */
  private logLeader(from: bigint, to: bigint): void {
    const [self, term] = [this.options.memberId.toString(16), this.term];
    if (to === 0n) this.options.log.info(`raft.node: ${self} lost leader ${from.toString(16)} at term ${term}`);
    else if (from === 0n) this.options.log.info(`raft.node: ${self} elected leader ${to.toString(16)} at term ${term}`);
    else this.options.log.info(`raft.node: ${self} changed leader from ${from.toString(16)} to ${to.toString(16)} at term ${term}`);
  }

  /**
   * Every --snapshot-count applied entries: a Raft snapshot at the applied
   * index (the backend already holds the data; the snapshot records the
   * index, term and configuration), then the log before it is compacted
   * (keeping some entries for slow followers) and old WAL segments released.
   */
  private maybeSnapshot(): void {
    const sm = this.sm!;
    const applied = sm.appliedIndex;
    if (this.snapshotting || applied - this.snapshotIndex <= BigInt(this.options.snapshotCount)) return;
    this.snapshotting = true;
    const self = this.options.memberId.toString(16);
    this.options.log.info({
      'local-member-id': self, 'local-member-applied-index': applied, 'local-member-snapshot-index': this.snapshotIndex, 'local-member-snapshot-count': this.options.snapshotCount,
    }, 'triggering snapshot');
    void (async () => {
      try {
        // The WAL may only drop entries the backend has made durable.
        await sm.backendSettled();
        const storage = this.options.storage;
        if (applied <= storage.snapshot().metadata!.index) return;
        const snap = storage.createSnapshot(applied, sm.confState(), Buffer.alloc(0));
        await this.options.snapshotter.save(snap);
        await this.options.wal.saveSnapshot({ index: applied, term: snap.metadata!.term, confState: snap.metadata!.confState });
        const keep = BigInt(this.options.snapshotCatchUpEntries);
        const compactTo = applied > keep ? applied - keep : 1n;
        this.options.log.info({ 'snapshot-index': applied }, 'saved snapshot');
        if (compactTo > storage.firstIndex()) {
          storage.compact(compactTo);
          this.options.log.info({ 'compact-index': compactTo }, 'compacted Raft logs');
        }
        await this.options.wal.releaseLockTo(applied);
        this.snapshotIndex = applied;
        this.counters.snapshotsTaken++;
      } catch (err) {
        this.options.log.error({ err }, 'failed to create snapshot');
      } finally {
        this.snapshotting = false;
      }
    })();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const resolve of this.advanceWaiters.splice(0)) resolve();
    clearInterval(this.tickTimer);
    clearImmediate(this.readTimer);
    for (const w of this.readWaiters.splice(0)) w.reject(new StoppedError());
    for (const [, waiters] of this.readsInFlight) for (const w of waiters) w.reject(new StoppedError());
    this.readsInFlight.clear();
    while (this.loopRunning) await new Promise((r) => setTimeout(r, 5));
    await this.options.wal.close();
  }
}

export { EntryType };
