/**
 * The Raft state machine (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", and Ongaro's thesis), shaped after
 * etcd's raft package: synchronous and pure. Input arrives through step()
 * and tick(); output is appended to `msgs`, the unstable log, `readStates`
 * and the hard state, which RawNode gathers into a Ready.
 *
 * Each role swaps the step and tick functions (stepLeader/stepCandidate/
 * stepFollower, tickHeartbeat/tickElection) so role-specific handling lives
 * in one place per role; step() first applies the rules common to all roles
 * (term comparison, votes).
 */
import assert from 'node:assert';
import {
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../../proto/gen/etcdtspb/raft.js';
import { confStatesEqual, restoreConfState, simpleChange, type ConfigAndProgress } from './confchange.js';
import { describeConfChange } from './describe.js';
import { CompactedError, ConfChangePendingError, ProposalDroppedError, SnapshotTemporarilyUnavailableError } from './errors.js';
import type { RaftLogger } from './logger.js';
import {
  isEmptyHardState,
  isEmptySnapshot,
  minBig,
  newEntry,
  newMessage,
  none,
  payloadSizeBytes,
  snapshotConfState,
  snapshotIndex,
  snapshotTerm,
  voteResponseType,
} from './messages.js';
import type { Prng } from './prng.js';
import { VoteResult } from './quorum/majority.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import type { Storage } from './storage.js';
import { ProgressTracker } from './tracker/tracker.js';

/** Member ids in log lines are hex, as etcd's raft writes them (%x). */
const hex = (id: bigint): string => id.toString(16);

export type StateType = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export type CampaignType = 'pre-election' | 'election' | 'transfer';

/** The context a vote request carries when it follows a leader transfer. */
const campaignTransferContext = Buffer.from('CampaignTransfer');

export interface RaftConfig {
  /** This member's id; never 0. */
  id: bigint;
  /**
   * Ticks a follower waits without hearing from a leader before it
   * campaigns. The actual timeout is drawn from [electionTick, 2*electionTick)
   * after every reset, so that candidates rarely collide (paper §5.2).
   */
  electionTick: number;
  /** Ticks between leader heartbeats; must be below electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /**
   * The last index the application had applied before a restart (its
   * state machine is durable with this index); 0 for a fresh start.
   */
  applied?: bigint;
  /** Bound on the entries' bytes in one MsgApp (at least one entry is always sent). */
  maxSizePerMsgBytes: number;
  /** Bound on the committed entries' bytes in one Ready; defaults to maxSizePerMsgBytes. */
  maxCommittedSizePerReadyBytes?: number;
  /** Bound on MsgApps in flight to one follower in replicate state. */
  maxInflightMsgs: number;
  /** Bound on the payload bytes of uncommitted entries the leader accepts; unbounded if unset. */
  maxUncommittedEntriesBytes?: number;
  /**
   * The leader steps down when it has not heard from a quorum within an
   * election timeout, and followers that heard from a leader recently
   * ignore vote requests (so a partitioned member cannot depose it).
   */
  checkQuorum: boolean;
  /** Campaign in two phases (thesis §9.6) so a partitioned member cannot raise the term. */
  preVote: boolean;
  prng: Prng;
  logger?: RaftLogger;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
}

export interface ReadState {
  /** The commit index the read must wait for (applied >= index). */
  index: bigint;
  /** The context the read was requested with. */
  requestCtx: Buffer;
}

export interface SoftState {
  lead: bigint;
  raftState: StateType;
}

type StepFn = (r: Raft, m: Message) => void;

function validateConfig(c: RaftConfig): void {
  assert(c.id !== none, 'cannot use none as id');
  assert(Number.isInteger(c.heartbeatTick) && c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
  assert(Number.isInteger(c.electionTick) && c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
  assert(Number.isInteger(c.maxInflightMsgs) && c.maxInflightMsgs > 0, 'max inflight messages must be greater than 0');
  assert(c.maxSizePerMsgBytes > 0, 'max size per message must be greater than 0');
}

export class Raft {
  readonly id: bigint;
  term = 0n;
  vote = none;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  prs: ProgressTracker;
  state: StateType = 'follower';
  /** True when this member is a learner in its own configuration. */
  isLearner = false;
  /** Outgoing messages, taken by RawNode.ready(). */
  msgs: Message[] = [];
  lead = none;
  /** The member leadership is being handed to (thesis §3.10), or none. */
  leadTransferee = none;
  /**
   * At most one configuration change may be in the log and not yet applied.
   * A new one is refused while pendingConfIndex > applied. A new leader sets
   * it to its last index, since it does not know whether its log tail holds
   * an unapplied change.
   */
  pendingConfIndex = 0n;
  /** Payload bytes of the leader's uncommitted tail (an underestimate). */
  uncommittedSize = 0;
  readOnly = new ReadOnly();
  /**
   * Reads queued since the last Ready that still need their confirming
   * heartbeat round; one broadcast at the next Ready covers all of them.
   */
  readIndexHeartbeatPending = false;
  /**
   * Read requests a new leader received before committing an entry of its
   * own term: until then its commit index may be behind the real one, so
   * they wait (thesis §6.4).
   */
  pendingReadIndexMessages: Message[] = [];
  /**
   * Leader and candidate: ticks since the last election timeout. Follower:
   * ticks since the last election timeout or message from the leader.
   */
  electionElapsed = 0;
  /** Leader only: ticks since the last heartbeat. */
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  readonly disableProposalForwarding: boolean;
  private readonly prng: Prng;
  readonly logger: RaftLogger | undefined;
  private stepFn: StepFn = stepFollower;
  private tickFn: () => void = () => this.tickElection();

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.logger = c.logger;
    this.prng = c.prng;
    this.maxMsgSize = c.maxSizePerMsgBytes;
    this.maxUncommittedSize = c.maxUncommittedEntriesBytes ?? Infinity;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReadyBytes ?? c.maxSizePerMsgBytes, c.logger);
    this.prs = new ProgressTracker(c.maxInflightMsgs);
    const { hardState, confState } = c.storage.initialState();
    const restored = restoreConfState(this.prs, confState, this.raftLog.lastIndex());
    const cs = this.switchToConfig(restored);
    assert(confStatesEqual(cs, confState), 'restored configuration differs from the stored conf state');
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    this.loadApplied(c.applied ?? 0n);
    this.becomeFollower(this.term, none);
    this.logger?.info(
      `newRaft ${hex(this.id)} [peers: [${this.prs.voterIds().join(',')}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  // ---------------------------------------------------------------------
  // State accessors

  hasLeader(): boolean {
    return this.lead !== none;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** A member can campaign only if it is a voter in its own configuration. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner;
  }

  tick(): void {
    this.tickFn();
  }

  /** Invariants that hold between any two inputs; checked once per Ready. */
  assertInvariants(): void {
    const log = this.raftLog;
    assert(log.applied <= log.committed, `applied ${log.applied} is past commit ${log.committed}`);
    assert(log.committed <= log.lastIndex(), `commit ${log.committed} is past the last index ${log.lastIndex()}`);
    assert((this.state === 'leader') === (this.lead === this.id), `state ${this.state} with lead ${this.lead}`);
    if (this.state === 'leader' || this.state === 'candidate') assert(this.vote === this.id, `${this.state} of term ${this.term} voted for ${this.vote}`);
    if (this.state === 'leader') {
      assert(this.prs.progress.get(this.id)?.match === log.lastStableIndex(), 'the leader counts exactly its durable log');
      this.prs.visit((_, pr) => pr.assertInvariants());
    }
  }

  // ---------------------------------------------------------------------
  // Sending

  /** Queues a message, stamping the sender and (for most types) the term. */
  send(m: Message): void {
    m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      // Campaign messages carry an explicit term: the term being campaigned
      // for, or the term of the request being answered.
      assert(m.term !== 0n, `term should be set when sending ${MessageType[t]}`);
    } else {
      assert(m.term === 0n, `term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and read requests are forwarded as if local: no term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends a MsgApp with the entries `to` is missing (or a snapshot if they
   * were compacted away) and the commit index. Returns true if a message
   * was sent. With sendIfEmpty false, nothing is sent when there are no new
   * entries (used when sending several messages in a row).
   */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    assert(pr !== undefined, `no progress for ${to}`);
    if (pr.isPaused()) return false;
    let prevTerm: bigint;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(pr.next - 1n);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (err) {
      if (!(err instanceof CompactedError)) throw err;
      return this.maybeSendSnapshot(to);
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = newMessage({ type: MessageType.MsgApp, to, index: pr.next - 1n, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed });
    if (ents.length > 0) {
      if (pr.state === 'replicate') {
        const last = ents[ents.length - 1]!.index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else {
        assert(pr.state === 'probe', `sending append to ${to} in state ${pr.state}`);
        pr.probeSent = true;
      }
    }
    this.send(m);
    return true;
  }

  private maybeSendSnapshot(to: bigint): boolean {
    const pr = this.prs.progress.get(to)!;
    if (!pr.recentActive) {
      this.logger?.debug(`${hex(this.id)} ignore sending snapshot to ${hex(to)} since it is not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (err) {
      if (!(err instanceof SnapshotTemporarilyUnavailableError)) throw err;
      this.logger?.debug(`${hex(this.id)} failed to send snapshot to ${hex(to)} because snapshot is temporarily unavailable`);
      return false;
    }
    assert(!isEmptySnapshot(snapshot), 'need non-empty snapshot');
    const sindex = snapshotIndex(snapshot);
    this.logger?.debug(
      `${hex(this.id)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${sindex}, term: ${snapshotTerm(snapshot)}] to ${hex(to)} [${pr}]`,
    );
    pr.becomeSnapshot(sindex);
    this.send(newMessage({ type: MessageType.MsgSnap, to, snapshot }));
    return true;
  }

  /**
   * Heartbeats carry min(match, commit): a follower must never be told to
   * commit past what it is known to hold, since its log may still diverge.
   */
  sendHeartbeat(to: bigint, ctx: Buffer | undefined): void {
    const commit = minBig(this.prs.progress.get(to)!.match, this.raftLog.committed);
    this.send(newMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx ?? Buffer.alloc(0) }));
  }

  bcastAppend(): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  bcastHeartbeatWithCtx(ctx: Buffer | undefined): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  /** Sends the one heartbeat round that confirms every read queued since the last Ready. */
  flushReadIndexHeartbeat(): void {
    if (!this.readIndexHeartbeatPending) return;
    this.readIndexHeartbeatPending = false;
    if (this.state === 'leader') this.bcastHeartbeat();
  }

  sendTimeoutNow(to: bigint): void {
    this.send(newMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  // ---------------------------------------------------------------------
  // Log and commit

  /**
   * Called by RawNode.advance() once the application handled a Ready:
   * entries up to `stable` are durable, the snapshot is durable, and
   * committed entries up to `appliedIndex` are applied.
   */
  advance(appliedIndex: bigint, committedEntries: Entry[], stable: Entry | undefined, snapshot: Snapshot | undefined): void {
    if (appliedIndex > 0n) this.raftLog.appliedTo(appliedIndex);
    this.reduceUncommittedSize(committedEntries);
    if (stable !== undefined) this.raftLog.stableTo(stable.index, stable.term);
    if (snapshot !== undefined) this.raftLog.stableSnapTo(snapshotIndex(snapshot));
    if (this.state === 'leader') this.countOwnDurableLog();
  }

  /**
   * The leader's own acknowledgement of its log, given once the entries are
   * durable here (etcd-io/raft's self-addressed MsgAppResp). Counting them
   * when they were appended would let an entry commit while it is on one
   * follower's disk and only in this leader's memory: if both then lose
   * power, a quorum without the entry elects a leader that overwrites it,
   * after the write was acknowledged.
   */
  private countOwnDurableLog(): void {
    const pr = this.prs.progress.get(this.id);
    if (pr === undefined || !pr.maybeUpdate(this.raftLog.lastStableIndex())) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /** Advances the commit index to what a quorum holds; true if it moved. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  /** Appends entries as the leader, stamping term and index. False if the uncommitted tail is full. */
  appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    es.forEach((e, i) => {
      e.term = this.term;
      e.index = li + 1n + BigInt(i);
    });
    if (!this.increaseUncommittedSize(es)) {
      this.logger?.debug(`${hex(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    this.raftLog.append(es);
    // Not counted towards commit yet: that waits until they are durable (countOwnDurableLog).
    return true;
  }

  /** True once this leader has committed an entry of its own term (its commit index is current). */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  private increaseUncommittedSize(ents: Entry[]): boolean {
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // An empty tail accepts one proposal of any size, so a large entry is never stuck.
    if (this.uncommittedSize > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(ents: Entry[]): void {
    if (this.uncommittedSize === 0) return;
    let s = 0;
    for (const e of ents) s += payloadSizeBytes(e);
    // The estimate may undercount (it resets on term change); saturate at 0.
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  // ---------------------------------------------------------------------
  // Roles

  private reset(term: bigint): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = none;
    }
    this.lead = none;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    // Our own match is only what is durable: an entry received while the previous Ready was
    // being written is not on disk yet, and must not count towards a commit of the new term.
    const durable = this.raftLog.lastStableIndex();
    this.prs.visit((id, pr) => pr.resetForTerm(id === this.id ? durable : 0n, last + 1n));
    this.pendingConfIndex = 0n;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
    this.readIndexHeartbeatPending = false;
    // Reads waiting for a new leader's first commit are dropped: the
    // requester times out and retries, which is always safe.
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: bigint, lead: bigint): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = 'follower';
    this.logger?.info(`${hex(this.id)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    assert(this.state !== 'leader', 'invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1n);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = 'candidate';
    this.logger?.info(`${hex(this.id)} became candidate at term ${this.term}`);
  }

  /**
   * A pre-candidate asks whether it could win before disrupting anyone: it
   * changes neither its term nor its vote (thesis §9.6).
   */
  becomePreCandidate(): void {
    assert(this.state !== 'leader', 'invalid transition [leader -> pre-candidate]');
    this.stepFn = stepCandidate;
    this.prs.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = none;
    this.state = 'pre-candidate';
    this.logger?.info(`${hex(this.id)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    assert(this.state !== 'follower', 'invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = 'leader';
    // The leader trivially has its own log: replicate state.
    this.prs.progress.get(this.id)!.becomeReplicate();
    this.prs.progress.get(this.id)!.recentActive = true;
    // The log tail may hold an unapplied conf change; scanning for it could
    // be expensive, so conservatively refuse new ones until all is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry of the new term: committing it commits everything
    // before it (paper §5.4.2) and tells the leader its commit index is current.
    const accepted = this.appendEntry([newEntry({})]);
    assert(accepted, 'empty entry was dropped');
    // The empty entry does not count towards the uncommitted quota.
    this.uncommittedSize = 0;
    this.logger?.info(`${hex(this.id)} became leader at term ${this.term}`);
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.prng.nextInt(this.electionTimeout);
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = none;
  }

  // ---------------------------------------------------------------------
  // Ticks

  /** Followers and candidates: campaign when the randomized election timeout passes. */
  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  /** Leaders: heartbeat every heartbeatTimeout, check quorum every electionTimeout. */
  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === 'leader' && this.leadTransferee !== none) this.abortLeaderTransfer();
    }
    if (this.state !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------------
  // Elections

  /**
   * Starts an election if this member may. It may not while it is a learner
   * or removed, nor while its log holds committed configuration changes it
   * has not applied: its idea of the voters could be stale, and two leaders
   * could then win the same term (etcd-io/etcd#12133).
   */
  hup(t: CampaignType): void {
    if (this.state === 'leader') {
      this.logger?.debug(`${hex(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger?.warn(`${hex(this.id)} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger?.warn(`${hex(this.id)} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`);
      return;
    }
    this.logger?.info(`${hex(this.id)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.applied >= log.committed) return false;
    // A received snapshot not yet applied: be conservative and wait for it.
    if (log.applied + 1n < log.firstIndex()) return true;
    const ents = log.slice(log.applied + 1n, log.committed + 1n, Infinity);
    return ents.some((e) => e.type === EntryType.EntryConfChange);
  }

  /** Moves to (pre-)candidate and asks every voter for its vote. */
  campaign(t: CampaignType): void {
    let term: bigint;
    let voteMsg: MessageType;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes ask about the next term without moving to it.
      term = this.term + 1n;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteResponseType(voteMsg), true) === VoteResult.VoteWon) {
      // Only a single-voter configuration wins on its own vote.
      if (t === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const context = t === 'transfer' ? campaignTransferContext : Buffer.alloc(0);
    for (const id of this.prs.voterIds()) {
      if (id === this.id) continue;
      this.logger?.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${MessageType[voteMsg]} request to ${hex(id)} at term ${this.term}`,
      );
      this.send(newMessage({ type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(), context }));
    }
  }

  poll(id: bigint, t: MessageType, granted: boolean): VoteResult {
    this.logger?.info(`${hex(this.id)} received ${MessageType[t]}${granted ? '' : ' rejection'} from ${hex(id)} at term ${this.term}`);
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---------------------------------------------------------------------
  // Step

  /**
   * Handles one message. Throws ProposalDroppedError for a proposal that
   * could not be accepted; every other outcome is reflected in the state
   * and the outgoing messages.
   */
  step(m: Message): void {
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? 'pre-election' : 'election');
        break;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote:
        this.handleVoteRequest(m);
        break;
      default:
        this.stepFn(this, m);
    }
  }

  /**
   * The term rules common to every role (paper §5.1): a higher term makes
   * us a follower, a lower term is ignored (or answered so that a stale
   * sender can catch up). Returns false when the message was fully handled.
   */
  private stepTerm(m: Message): boolean {
    if (m.term === 0n) return true; // a local message
    if (m.term > this.term) return this.stepHigherTerm(m);
    if (m.term < this.term) {
      this.stepLowerTerm(m);
      return false;
    }
    return true;
  }

  private stepHigherTerm(m: Message): boolean {
    if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
      const force = m.context.equals(campaignTransferContext);
      const inLease = this.checkQuorum && this.lead !== none && this.electionElapsed < this.electionTimeout;
      if (!force && inLease) {
        // Thesis §4.2.3: a member that heard from a leader within the
        // minimum election timeout neither updates its term nor votes, so a
        // disruptive member cannot depose a healthy leader.
        this.logger?.info(
          `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] ignored ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
        );
        return false;
      }
    }
    if (m.type === MessageType.MsgPreVote) {
      // Never change our term in response to a pre-vote.
    } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
      // A granted pre-vote carries the term we will campaign for; we move
      // to it only once a quorum grants.
    } else {
      this.logger?.info(`${hex(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${hex(m.from)} [term: ${m.term}]`);
      const fromLeader = m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap;
      this.becomeFollower(m.term, fromLeader ? m.from : none);
    }
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
      // A leader of an older term: perhaps a delayed message, perhaps a
      // leader that cannot learn about newer terms because with check-quorum
      // or pre-vote our vote requests do not raise its term. Answer, so that
      // it sees our term and steps down (the response carries our term).
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from }));
    } else if (m.type === MessageType.MsgPreVote) {
      // Reject explicitly; silently dropping could deadlock a cluster where
      // a candidate with a higher term but a shorter log is stuck.
      this.logger?.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      this.send(newMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
    } else {
      this.logger?.info(`${hex(this.id)} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${hex(m.from)} [term: ${m.term}]`);
    }
  }

  /** Grants a (pre-)vote to an up-to-date candidate we may vote for (paper §5.2, §5.4.1). */
  private handleVoteRequest(m: Message): void {
    const canVote =
      // a repeat of the vote we already cast,
      this.vote === m.from ||
      // or we have not voted and know of no leader in this term,
      (this.vote === none && this.lead === none) ||
      // or a pre-vote for a future term.
      (m.type === MessageType.MsgPreVote && m.term > this.term);
    // Learners answer too: a learner promoted by a committed change it has
    // not seen yet is a voter in the candidate's (correct) configuration.
    const respType = voteResponseType(m.type);
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      this.logger?.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] cast ${MessageType[m.type]} for ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      // The response carries the request's term, not ours: for a pre-vote
      // ours is older and the candidate would ignore the answer.
      this.send(newMessage({ type: respType, to: m.from, term: m.term }));
      if (m.type === MessageType.MsgVote) {
        // Only real votes are recorded (and must be persisted before the answer is sent).
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger?.info(
        `${hex(this.id)} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] rejected ${MessageType[m.type]} from ${hex(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
      );
      this.send(newMessage({ type: respType, to: m.from, term: this.term, reject: true }));
    }
  }

  // ---------------------------------------------------------------------
  // Follower-side handlers

  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
      return;
    }
    this.logger?.debug(
      `${hex(this.id)} [logterm: ${this.raftLog.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${hex(m.from)}`,
    );
    // The hint (our last index) lets the leader jump back past a long gap
    // instead of probing one entry at a time.
    this.send(
      newMessage({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: this.raftLog.lastIndex() }),
    );
  }

  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(newMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    assert(s !== undefined && !isEmptySnapshot(s), `${this.id} received MsgSnap without a snapshot from ${m.from}`);
    const sindex = snapshotIndex(s);
    const sterm = snapshotTerm(s);
    if (this.restore(s)) {
      this.logger?.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.logger?.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${sindex}, term: ${sterm}]`);
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /**
   * Replaces the log (and configuration) with a snapshot. Returns false if
   * the snapshot was ignored: older than our commit, already matched by our
   * log (then only commit moves), or not naming us as a member.
   */
  restore(s: Snapshot): boolean {
    const sindex = snapshotIndex(s);
    const sterm = snapshotTerm(s);
    if (sindex <= this.raftLog.committed) return false;
    if (this.state !== 'follower') {
      // Defense in depth: only followers receive snapshots. A leader that
      // got one would move into a new term without stepping down.
      this.logger?.warn(`${hex(this.id)} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1n, none);
      return false;
    }
    const cs = snapshotConfState(s);
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger?.warn(`${hex(this.id)} attempted to restore snapshot but it is not in the ConfState; should never happen`);
      return false;
    }
    if (this.raftLog.matchTerm(sindex, sterm)) {
      this.logger?.info(`${hex(this.id)} [commit: ${this.raftLog.committed}] fast-forwarded commit to snapshot [index: ${sindex}, term: ${sterm}]`);
      this.raftLog.commitTo(sindex);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new ProgressTracker(this.prs.maxInflight);
    const restored = switchChecked(this, restoreConfState(this.prs, cs, this.raftLog.lastIndex()), cs);
    const pr = this.prs.progress.get(this.id)!;
    pr.maybeUpdate(pr.next - 1n);
    this.logger?.info(
      `${hex(this.id)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] restored snapshot [index: ${sindex}, term: ${sterm}] with ${restored.voters.length} voters`,
    );
    return true;
  }

  // ---------------------------------------------------------------------
  // Configuration

  /** Applies a committed configuration change; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.switchToConfig(simpleChange(this.prs, cc, this.raftLog.lastIndex()));
  }

  /**
   * Installs a configuration and reacts to it: a leader that is no longer a
   * voter steps down; otherwise the leader commits what the new quorum
   * allows and probes new members right away.
   */
  switchToConfig(next: ConfigAndProgress): ConfState {
    this.prs.switchTo(next.config, next.progress);
    const cs = this.prs.confState();
    const pr = this.prs.progress.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    this.logger?.info(`${hex(this.id)} switched to configuration voters=(${cs.voters.join(' ')}) learners=(${cs.learners.join(' ')})`);
    if ((pr === undefined || this.isLearner) && this.state === 'leader') {
      // Removed or demoted: step down. The entry that removed us is already
      // committed and its commit index was sent with this Ready's messages,
      // so the remaining voters elect a new leader after a timeout.
      this.logger?.info(`${hex(this.id)} stepping down: no longer a voter`);
      this.becomeFollower(this.term, none);
      return cs;
    }
    if (this.state !== 'leader' || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      // A smaller quorum may commit more now.
      this.bcastAppend();
    } else {
      this.prs.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== none && !this.prs.progress.has(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  private loadState(hs: HardState): void {
    // The commit index may be below the snapshot (a snapshot made after the
    // last synced hard state): the snapshot's index is committed too.
    assert(hs.commit <= this.raftLog.lastIndex(), `state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    if (hs.commit > this.raftLog.committed) this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /**
   * A restarting application passes the index its durable state machine
   * holds. It may exceed the persisted commit index, because a hard state
   * that only advanced the commit index is written without fsync; entries
   * that were applied were committed, so commit moves up to them.
   */
  private loadApplied(applied: bigint): void {
    if (applied === 0n) return;
    assert(applied <= this.raftLog.lastIndex(), `applied ${applied} is beyond the last index ${this.raftLog.lastIndex()}`);
    if (applied > this.raftLog.committed) {
      this.logger?.info(`${hex(this.id)} commit ${this.raftLog.committed} is behind applied ${applied}; raising it`);
      this.raftLog.committed = applied;
    }
    if (applied > this.raftLog.applied) this.raftLog.appliedTo(applied);
  }

  // ---------------------------------------------------------------------
  // Reads

  /** Answers (or queues for confirmation) a read request at the current commit index. */
  handleReadIndex(m: Message): void {
    if (this.prs.isSingleton()) {
      // A single voter needs no confirmation: nobody else can be leader.
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, m.entries[0]!.data);
    this.readIndexHeartbeatPending = true;
  }

  releasePendingReadIndexMessages(): void {
    assert(this.committedEntryInCurrentTerm(), 'pending reads released before the first commit of the term');
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.handleReadIndex(m);
  }

  respondToReadIndex(req: Message, index: bigint): void {
    if (req.from === none || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.entries[0]!.data });
    } else {
      this.send(newMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
    }
  }
}

function switchChecked(r: Raft, next: ConfigAndProgress, cs: ConfState): ConfState {
  const got = r.switchToConfig(next);
  assert(confStatesEqual(got, cs), 'restored configuration differs from the snapshot conf state');
  return got;
}

// -------------------------------------------------------------------------
// Role step functions

function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      return;
    case MessageType.MsgCheckQuorum:
      leaderCheckQuorum(r);
      return;
    case MessageType.MsgProp:
      leaderPropose(r, m);
      return;
    case MessageType.MsgReadIndex:
      r.handleReadIndex(m);
      return;
  }
  // Every other message comes from a member and needs its progress.
  const pr = r.prs.progress.get(m.from);
  if (pr === undefined) {
    r.logger?.debug(`${hex(r.id)} no progress available for ${hex(m.from)}`);
    return;
  }
  switch (m.type) {
    case MessageType.MsgAppResp:
      pr.recentActive = true;
      if (m.reject) leaderAppendRejected(r, m);
      else leaderAppendAccepted(r, m);
      return;
    case MessageType.MsgHeartbeatResp:
      leaderHeartbeatResponse(r, m);
      return;
    case MessageType.MsgSnapStatus:
      leaderSnapStatus(r, m);
      return;
    case MessageType.MsgUnreachable:
      // In replicate state a MsgApp to an unreachable member was most
      // likely lost: go back to probing.
      if (pr.state === 'replicate') pr.becomeProbe();
      r.logger?.debug(`${hex(r.id)} failed to send message to ${hex(m.from)} because it is unreachable [${pr}]`);
      return;
    case MessageType.MsgTransferLeader:
      leaderTransfer(r, m);
      return;
  }
}

function leaderCheckQuorum(r: Raft): void {
  // The leader always counts itself, even if it removed itself.
  const self = r.prs.progress.get(r.id);
  if (self !== undefined) self.recentActive = true;
  if (!r.prs.quorumActive()) {
    r.logger?.warn(`${hex(r.id)} stepped down to follower since quorum is not active`);
    r.becomeFollower(r.term, none);
  }
  // Everyone else must prove activity again before the next check.
  r.prs.visit((id, pr) => {
    if (id !== r.id) pr.recentActive = false;
  });
}

function leaderPropose(r: Raft, m: Message): void {
  assert(m.entries.length > 0, `${r.id} stepped empty MsgProp`);
  if (!r.prs.progress.has(r.id)) throw new ProposalDroppedError('this member was removed from the configuration');
  if (r.leadTransferee !== none) {
    r.logger?.debug(`${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(r.leadTransferee)} is in progress; dropping proposal`);
    throw new ProposalDroppedError(`leadership transfer to ${hex(r.leadTransferee)} is in progress`);
  }
  let refused = 0;
  let confChanges = 0;
  m.entries.forEach((e, i) => {
    if (e.type !== EntryType.EntryConfChange) return;
    confChanges++;
    if (r.pendingConfIndex > r.raftLog.applied) {
      r.logger?.info(
        `${hex(r.id)} ignoring conf change ${describeConfChange(e.data)}: possible unapplied conf change at index ${r.pendingConfIndex} (applied to ${r.raftLog.applied})`,
      );
      // Replaced by an empty entry so the rest of the batch keeps its order.
      m.entries[i] = newEntry({});
      refused++;
    } else {
      r.pendingConfIndex = r.raftLog.lastIndex() + BigInt(i) + 1n;
    }
  });
  if (refused > 0 && refused === m.entries.length) {
    throw new ConfChangePendingError(r.pendingConfIndex, r.raftLog.applied);
  }
  assert(confChanges - refused <= 1, 'more than one configuration change accepted in one proposal');
  if (!r.appendEntry(m.entries)) throw new ProposalDroppedError('too many uncommitted entries');
  r.bcastAppend();
}

function leaderAppendRejected(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  r.logger?.debug(`${hex(r.id)} received MsgAppResp(MsgApp was rejected, lastindex: ${m.rejectHint}) from ${hex(m.from)} for index ${m.index}`);
  if (pr.maybeDecrTo(m.index, m.rejectHint)) {
    r.logger?.debug(`${hex(r.id)} decreased progress of ${hex(m.from)} to [${pr}]`);
    if (pr.state === 'replicate') pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

function leaderAppendAccepted(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === 'probe') {
    pr.becomeReplicate();
  } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
    // Recovered from needing a snapshot: resume through probe, which
    // accounts for the snapshot, into replicate.
    r.logger?.debug(`${hex(r.id)} recovered from needing snapshot, resumed sending replication messages to ${hex(m.from)} [${pr}]`);
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) {
    // The commit index moved within our term: queued reads can be answered.
    r.releasePendingReadIndexMessages();
    r.bcastAppend();
  } else if (oldPaused) {
    // A paused follower may be missing the latest commit index.
    r.sendAppend(m.from);
  }
  // The window may have opened for several messages at once.
  while (r.maybeSendAppend(m.from, false)) {
    // keep sending
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    r.logger?.info(`${hex(r.id)} sent MsgTimeoutNow to ${hex(m.from)} after received MsgAppResp`);
    r.sendTimeoutNow(m.from);
  }
}

function leaderHeartbeatResponse(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  pr.recentActive = true;
  pr.probeSent = false;
  // A full window with a live follower: free one slot so replication continues.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < r.raftLog.lastIndex()) r.sendAppend(m.from);
  if (m.context.length === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === undefined || r.prs.config.voters.voteResult(acks) !== VoteResult.VoteWon) return;
  for (const rs of r.readOnly.advance(m.context)) r.respondToReadIndex(rs.req, rs.index);
}

function leaderSnapStatus(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  if (pr.state !== 'snapshot') return;
  if (!m.reject) {
    pr.becomeProbe();
    r.logger?.debug(`${hex(r.id)} snapshot succeeded, resumed sending replication messages to ${hex(m.from)} [${pr}]`);
  } else {
    // Clear the pending snapshot first, or probing would start past a
    // snapshot the follower never got.
    pr.pendingSnapshot = 0n;
    pr.becomeProbe();
    r.logger?.debug(`${hex(r.id)} snapshot failed, resumed sending replication messages to ${hex(m.from)} [${pr}]`);
  }
  // Wait for the follower's answer (success) or a heartbeat (failure) before the next MsgApp.
  pr.probeSent = true;
}

function leaderTransfer(r: Raft, m: Message): void {
  const pr = r.prs.progress.get(m.from)!;
  if (pr.isLearner) {
    r.logger?.debug(`${hex(r.id)} is learner. Ignored transferring leadership`);
    return;
  }
  const transferee = m.from;
  if (r.leadTransferee !== none) {
    if (r.leadTransferee === transferee) {
      r.logger?.info(`${hex(r.id)} [term ${r.term}] transfer leadership to ${hex(transferee)} is in progress, ignores request to same node`);
      return;
    }
    r.logger?.info(`${hex(r.id)} [term ${r.term}] abort previous transferring leadership to ${hex(r.leadTransferee)}`);
    r.abortLeaderTransfer();
  }
  if (transferee === r.id) {
    r.logger?.debug(`${hex(r.id)} is already leader. Ignored transferring leadership to self`);
    return;
  }
  r.logger?.info(`${hex(r.id)} [term ${r.term}] starts to transfer leadership to ${hex(transferee)}`);
  // The transfer must finish within one election timeout, counted from now.
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.raftLog.lastIndex()) {
    r.sendTimeoutNow(transferee);
    r.logger?.info(`${hex(r.id)} sends MsgTimeoutNow to ${hex(transferee)} immediately as ${hex(transferee)} already has up-to-date log`);
  } else {
    // Catch the transferee up first; MsgTimeoutNow follows its MsgAppResp.
    r.sendAppend(transferee);
  }
}

/** Shared by candidates and pre-candidates; each counts only its own kind of vote response. */
function stepCandidate(r: Raft, m: Message): void {
  const myVoteResp = r.state === 'pre-candidate' ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
  switch (m.type) {
    case MessageType.MsgProp:
      r.logger?.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
      throw new ProposalDroppedError('no leader');
    case MessageType.MsgApp:
      // Always m.term === r.term here: a leader was elected in our term.
      r.becomeFollower(m.term, m.from);
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.becomeFollower(m.term, m.from);
      r.handleSnapshot(m);
      return;
    case myVoteResp: {
      const result = r.poll(m.from, m.type, !m.reject);
      if (result === VoteResult.VoteWon) {
        if (r.state === 'pre-candidate') {
          r.campaign('election');
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.VoteLost) {
        // A rejected pre-vote may carry a higher term; keep our own.
        r.becomeFollower(r.term, none);
      }
      return;
    }
    case MessageType.MsgTimeoutNow:
      r.logger?.debug(`${hex(r.id)} [term ${r.term} state ${r.state}] ignored MsgTimeoutNow from ${hex(m.from)}`);
      return;
  }
}

function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgProp:
      if (r.lead === none) {
        r.logger?.info(`${hex(r.id)} no leader at term ${r.term}; dropping proposal`);
        throw new ProposalDroppedError('no leader');
      }
      if (r.disableProposalForwarding) {
        throw new ProposalDroppedError('proposal forwarding is disabled');
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgApp:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppendEntries(m);
      return;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case MessageType.MsgSnap:
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshot(m);
      return;
    default:
      stepFollowerForwarding(r, m);
  }
}

function stepFollowerForwarding(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.MsgTransferLeader:
      if (r.lead === none) {
        r.logger?.info(`${hex(r.id)} no leader at term ${r.term}; dropping leader transfer msg`);
        return;
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgTimeoutNow:
      // Leadership transfers skip pre-vote: the leader asked for this
      // election, so there is no partition to guard against.
      r.logger?.info(`${hex(r.id)} [term ${r.term}] received MsgTimeoutNow from ${hex(m.from)} and starts an election to get leadership`);
      r.hup('transfer');
      return;
    case MessageType.MsgReadIndex:
      if (r.lead === none) {
        r.logger?.info(`${hex(r.id)} no leader at term ${r.term}; dropping index reading msg`);
        return;
      }
      m.to = r.lead;
      r.send(m);
      return;
    case MessageType.MsgReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger?.error(`${hex(r.id)} invalid format of MsgReadIndexResp from ${hex(m.from)}, entries count: ${m.entries.length}`);
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return;
  }
}
