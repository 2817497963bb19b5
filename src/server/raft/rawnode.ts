/**
 * RawNode: the Raft core's public face. It wraps the state machine, gathers
 * everything it produced into a Ready, and learns through advance() that
 * the application handled it. It is synchronous and single-threaded; the
 * application's driver owns all I/O.
 *
 * ## Handling a Ready: the contract
 *
 * The driver loops: feed input (tick(), step(), propose*(), readIndex()),
 * then `if (rn.hasReady()) { const rd = rn.ready(); ...; rn.advance(); }`.
 * The steps below must happen in this order. Names in brackets are the
 * failpoints (src/server/failpoint.ts) a driver places at each seam.
 *
 * 1. Snapshot. If `rd.snapshot` is set, make it durable (snapshot file
 *    first, then a WAL record naming it) and install it in the storage
 *    with `storage.applySnapshot(rd.snapshot)`.
 *    [raftBeforeSaveSnap, raftAfterSaveSnap]
 * 2. Entries and hard state. Append `rd.entries` and `rd.hardState` (if
 *    set) to the WAL, then fsync when `rd.mustSync` is true; afterwards
 *    `storage.append(rd.entries)` and `storage.setHardState(rd.hardState)`.
 *    `mustSync` is false only when the hard state merely advanced the
 *    commit index: that may be lost in a crash, because the committed
 *    entries themselves are durable and the commit index is learned again
 *    (see `applied` in RaftConfig for the restart side).
 *    [raftBeforeSave, raftAfterSave]
 * 3. Messages. Send `rd.messages` only after step 2 is durable: a follower's
 *    MsgAppResp acknowledges entries and a MsgVoteResp a vote, and a crash
 *    must not forget what was acknowledged. The one exception (thesis
 *    §10.2.1): while this node is the leader (`rd.softState?.raftState`, or
 *    the last soft state seen, is 'leader') its messages may be sent before
 *    or in parallel with step 2. That is safe because the leader counts its
 *    own entries toward commit only once advance() has told it they are
 *    durable, so a commit index it sends never rests on its unsynced tail.
 *    A MsgSnap must be followed by `reportSnapshot(to, ok)` once the
 *    transport knows the outcome; `reportUnreachable(to)` after a failed send.
 *    The snapshot in a MsgSnap is the storage's latest; a server should
 *    replace it with one taken at its current applied index and
 *    configuration (etcd's createMergedSnapshotMessage), because a member
 *    added after the stored snapshot was taken refuses a snapshot whose
 *    configuration does not name it. [raftBeforeLeaderSend, raftBeforeFollowerSend]
 * 4. Apply. Apply `rd.snapshot` (if any), then `rd.committedEntries` in
 *    order, to the state machine, durably with the applied index (so apply
 *    is idempotent across a crash). For an EntryConfChange entry call
 *    `applyConfChange(cc)` and store the returned ConfState with the state
 *    machine; to refuse a committed change, apply it with nodeId 0 (a
 *    no-op) so every member still consumes the entry. Serve each of
 *    `rd.readStates` once the applied index reaches its index.
 *    [applyBeforeCommit, applyAfterCommit]
 * 5. `advance()`. Never call ready() again before advance(); calling
 *    step()/tick()/propose() between ready() and advance() is allowed.
 *
 * ## Storage with a WAL (the server's driver)
 *
 * At startup rebuild a MemoryStorage from disk: `applySnapshot(latest
 * snapshot)`, `setHardState(last hard state)`, `append(entries after the
 * snapshot)`, `setConfState(the ConfState stored with the state machine)`,
 * then `new RawNode({ storage, applied: stateMachineAppliedIndex, ... })`.
 * Raft hands out committed entries after `applied` only, so its
 * configuration must come from the state machine (which has applied every
 * conf change up to there), not from the older snapshot. If the state
 * machine is older than the snapshot (a crash between persisting a received
 * snapshot and applying it), restore it from the snapshot first. A brand-new cluster member calls `bootstrap(peers)` on an empty
 * storage instead; a member joining an existing cluster starts with an
 * empty storage and no configuration and waits for the leader. After
 * applying, the driver may `storage.createSnapshot(applied, confState,
 * data)` and `storage.compact(index)` (keeping some entries for slow
 * followers), and write the snapshot and release WAL segments likewise.
 */
import assert from 'node:assert';
import {
  ConfChange as ConfChangeCodec,
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from '../../proto/gen/etcdtspb/raft.js';
import { ProposalDroppedError, StepLocalMessageError } from './errors.js';
import {
  emptyHardState,
  isEmptyHardState,
  isHardStateEqual,
  isLocalMessage,
  isResponseMessage,
  newEntry,
  newMessage,
  snapshotIndex,
} from './messages.js';
import { Raft, type RaftConfig, type ReadState, type SoftState, type StateType } from './raft.js';
import type { ProgressState } from './tracker/progress.js';

export interface Ready {
  /** Set when the leader or this node's role changed. Need not be persisted. */
  softState?: SoftState;
  /** Set when term, vote or commit changed: persist before sending messages. */
  hardState?: HardState;
  /** Confirmed linearizable reads: serve each once applied >= its index. */
  readStates: ReadState[];
  /** Entries to append to durable storage before sending messages. */
  entries: Entry[];
  /** A snapshot to persist and then apply (it replaces the state machine). */
  snapshot?: Snapshot;
  /** Committed entries to apply, in order, after persisting. */
  committedEntries: Entry[];
  /** Messages to send after persisting (see the leader exception above). */
  messages: Message[];
  /** The write of entries, hard state and snapshot must be fsynced. */
  mustSync: boolean;
}

export interface BasicStatus {
  id: bigint;
  term: bigint;
  vote: bigint;
  commit: bigint;
  applied: bigint;
  lead: bigint;
  raftState: StateType;
  leadTransferee: bigint;
}

export interface ProgressStatus {
  match: bigint;
  next: bigint;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  paused: boolean;
  pendingSnapshot: bigint;
  inflight: number;
}

export interface Status extends BasicStatus {
  config: ConfState;
  /** Only on the leader: what it knows of every member's log. */
  progress?: Map<bigint, ProgressStatus>;
}

export interface Peer {
  id: bigint;
  /** Opaque to Raft: carried in the bootstrap ConfChange for the application. */
  context?: Buffer;
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export class RawNode {
  /** The state machine; exported for tests and status, not for drivers to poke. */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Starts a brand-new cluster on an empty storage: the first Ready carries
   * one committed ConfChangeAddNode entry per peer (term 1), which the
   * application applies like any other, so membership is in the log.
   */
  bootstrap(peers: Peer[]): void {
    assert(peers.length > 0, 'must provide at least one peer to bootstrap');
    assert(this.raft.raftLog.lastIndex() === 0n, "can't bootstrap a nonempty storage");
    // The hard state must reach disk with the first Ready, so do not count it as seen.
    this.prevHardState = emptyHardState();
    this.raft.becomeFollower(1n, 0n);
    const ents = peers.map((p, i) => {
      const cc: ConfChange = { type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: p.context ?? Buffer.alloc(0), id: 0n };
      return newEntry({ type: EntryType.EntryConfChange, term: 1n, index: BigInt(i + 1), data: Buffer.from(ConfChangeCodec.encode(cc).finish()) });
    });
    this.raft.raftLog.append(ents);
    this.raft.raftLog.committed = BigInt(ents.length);
    for (const p of peers) {
      this.raft.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: Buffer.alloc(0), id: 0n });
    }
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (if this member may campaign). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup }));
  }

  /**
   * Proposes data for the log. Throws ProposalDroppedError if it cannot be
   * accepted now. Accepted proposals can still be lost (leader change), so
   * the application tracks them and retries on timeout.
   */
  propose(data: Uint8Array): void {
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [newEntry({ data: toBuffer(data) })] }));
  }

  /** Proposes a configuration change; refused while another one is pending. */
  proposeConfChange(cc: ConfChange): void {
    const data = Buffer.from(ConfChangeCodec.encode(cc).finish());
    this.raft.step(
      newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [newEntry({ type: EntryType.EntryConfChange, data })] }),
    );
  }

  /** Applies a committed configuration change (Ready step 4); returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Steps a message received from a peer. Local message types are refused.
   * A response from a member no longer in the configuration, or a forwarded
   * proposal that cannot be accepted, is dropped: the sender learns nothing
   * either way, as with a lost message.
   */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new StepLocalMessageError();
    if (isResponseMessage(m.type) && !this.raft.prs.progress.has(m.from)) {
      this.raft.logger?.debug(`${this.raft.id} dropped ${MessageType[m.type]} from ${m.from}: not a member`);
      return;
    }
    try {
      this.raft.step(m);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.raft.logger?.debug(`${this.raft.id} dropped forwarded proposal from ${m.from}: ${err.reason}`);
    }
  }

  /**
   * Requests a linearizable read. A ReadState with this context appears in
   * a later Ready once leadership is confirmed. Contexts must be unique
   * among pending reads. Requests can be dropped silently (no leader,
   * leader change): the application retries after a timeout.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(newMessage({ type: MessageType.MsgReadIndex, entries: [newEntry({ data: toBuffer(ctx) })] }));
  }

  /** Asks the leader (this node or, forwarded, the current one) to hand leadership to `to`. */
  transferLeader(to: bigint): void {
    this.raft.step(newMessage({ type: MessageType.MsgTransferLeader, from: to }));
  }

  /** The transport failed to deliver a message to `id`. */
  reportUnreachable(id: bigint): void {
    this.raft.step(newMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** The outcome of sending a MsgSnap to `id`. */
  reportSnapshot(id: bigint, ok: boolean): void {
    this.raft.step(newMessage({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const soft = r.softState();
    if (soft.lead !== this.prevSoftState.lead || soft.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !isHardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.unstable.snapshot !== undefined) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextCommittedEntries()) return true;
    return r.readStates.length > 0 || r.readIndexHeartbeatPending;
  }

  /** Everything the application must handle now (see the contract above). */
  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.assertInvariants();
    r.flushReadIndexHeartbeat();
    const entries = r.raftLog.unstableEntries();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries: r.raftLog.nextCommittedEntries(),
      messages: r.msgs,
      mustSync: entries.length > 0,
    };
    const soft = r.softState();
    if (soft.lead !== this.prevSoftState.lead || soft.raftState !== this.prevSoftState.raftState) {
      rd.softState = soft;
      this.prevSoftState = soft;
    }
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !isHardStateEqual(hs, this.prevHardState)) {
      rd.hardState = hs;
      if (hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote) rd.mustSync = true;
    }
    if (r.raftLog.unstable.snapshot !== undefined) {
      rd.snapshot = r.raftLog.unstable.snapshot;
      rd.mustSync = true;
    }
    assertReady(rd, r);
    r.readStates = [];
    r.msgs = [];
    this.outstanding = rd;
    return rd;
  }

  /** The outstanding Ready was handled: persisted, sent and applied. */
  advance(): void {
    const rd = this.outstanding;
    assert(rd !== undefined, 'advance() called without an outstanding Ready');
    this.outstanding = undefined;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    const n = rd.committedEntries.length;
    const applied = n > 0 ? rd.committedEntries[n - 1]!.index : snapshotIndex(rd.snapshot);
    this.raft.advance(applied, rd.committedEntries, rd.entries[rd.entries.length - 1], rd.snapshot);
  }

  basicStatus(): BasicStatus {
    const r = this.raft;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      raftState: r.state,
      leadTransferee: r.leadTransferee,
    };
  }

  status(): Status {
    const s: Status = { ...this.basicStatus(), config: this.raft.prs.confState() };
    if (this.raft.state === 'leader') {
      s.progress = new Map();
      this.raft.prs.visit((id, pr) => {
        s.progress!.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          pendingSnapshot: pr.pendingSnapshot,
          inflight: pr.inflights.count,
        });
      });
    }
    return s;
  }
}

/** Invariants of every Ready handed out; a failure is a bug in the core. */
function assertReady(rd: Ready, r: Raft): void {
  for (let i = 1; i < rd.entries.length; i++) {
    assert(rd.entries[i]!.index === rd.entries[i - 1]!.index + 1n, 'ready entries are not contiguous');
  }
  for (let i = 1; i < rd.committedEntries.length; i++) {
    assert(rd.committedEntries[i]!.index === rd.committedEntries[i - 1]!.index + 1n, 'committed entries are not contiguous');
  }
  const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
  if (lastCommitted !== undefined) {
    assert(lastCommitted.index <= r.raftLog.committed, 'handing out an uncommitted entry to apply');
    assert(rd.committedEntries[0]!.index > r.raftLog.applied, 'handing out an applied entry again');
  }
  if (rd.hardState !== undefined) {
    assert(rd.hardState.commit <= r.raftLog.lastIndex(), 'hard state commits past the last index');
  }
  for (const m of rd.messages) {
    assert(m.from === r.id, `message from ${m.from} in the ready of ${r.id}`);
    assert(!isLocalMessage(m.type), `local message ${MessageType[m.type]} in a ready`);
  }
}
