/**
 * A small in-memory cluster for scenario tests of the Raft core. Each node
 * is a RawNode over a MemoryStorage, driven by the Ready contract (persist,
 * send, apply, advance). Messages travel through a network that can cut
 * links, isolate nodes and drop message types, so tests read like the
 * behaviour they prove:
 *
 *   const c = new Cluster([1, 2, 3]);
 *   c.campaign(1);
 *   c.expectLeader(1);
 *   c.isolate(1);
 *   c.tick(30);
 */
import assert from 'node:assert/strict';
import {
  ConfChange as ConfChangeCodec,
  ConfChangeType,
  EntryType,
  MessageType,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
} from '../../../src/proto/gen/etcdtspb/raft.js';
import { describeMessage } from '../../../src/server/raft/describe.js';
import { MemoryStorage } from '../../../src/server/raft/storage.js';
import { SeededPrng } from '../../../src/server/raft/prng.js';
import { Raft, type RaftConfig, type ReadState, type StateType } from '../../../src/server/raft/raft.js';
import { RawNode, type Ready } from '../../../src/server/raft/rawnode.js';
import { newEntry, snapshotIndex } from '../../../src/server/raft/messages.js';

export type Id = number | bigint;

export const big = (id: Id): bigint => BigInt(id);

export interface NodeOptions {
  electionTick?: number;
  heartbeatTick?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsgBytes?: number;
  maxInflightMsgs?: number;
  maxUncommittedEntriesBytes?: number;
  seed?: number;
}

/**
 * A storage as a freshly created cluster has it: a snapshot at index 1,
 * term 1 carrying the configuration, and hard state term 1. The first
 * election is for term 2.
 */
export function bootstrappedStorage(voters: Id[], learners: Id[] = []): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: Buffer.alloc(0),
    metadata: { index: 1n, term: 1n, confState: { voters: voters.map(big), learners: learners.map(big) } },
  });
  s.setHardState({ term: 1n, vote: 0n, commit: 1n });
  return s;
}

/** Entries given as [index, term] pairs. */
export function ents(...pairs: Array<[number, number]>): Entry[] {
  return pairs.map(([i, t]) => newEntry({ index: BigInt(i), term: BigInt(t) }));
}

/** A storage with an empty log whose configuration is already in place (term 0, index 0). */
export function configuredStorage(voters: Id[], learners: Id[] = []): MemoryStorage {
  return new MemoryStorage({ confState: { voters: voters.map(big), learners: learners.map(big) } });
}

/** A configured storage holding entries given as [index, term] pairs. */
export function storageWithLog(voters: Id[], log: Array<[number, number]>, learners: Id[] = []): MemoryStorage {
  const s = configuredStorage(voters, learners);
  s.append(log.map(([i, t]) => newEntry({ index: BigInt(i), term: BigInt(t), data: Buffer.from(`e${i}`) })));
  return s;
}

export function raftConfig(id: Id, storage: MemoryStorage, o: NodeOptions = {}): RaftConfig {
  return {
    id: big(id),
    electionTick: o.electionTick ?? 10,
    heartbeatTick: o.heartbeatTick ?? 1,
    storage,
    maxSizePerMsgBytes: o.maxSizePerMsgBytes ?? Infinity,
    maxInflightMsgs: o.maxInflightMsgs ?? 256,
    maxUncommittedEntriesBytes: o.maxUncommittedEntriesBytes,
    checkQuorum: o.checkQuorum ?? false,
    preVote: o.preVote ?? false,
    prng: new SeededPrng((o.seed ?? 1) * 1000 + Number(id)),
  };
}

/** A bare Raft state machine over a bootstrapped storage, for message-level tests. */
export function newTestRaft(id: Id, voters: Id[], o: NodeOptions & { learners?: Id[]; storage?: MemoryStorage } = {}): Raft {
  return new Raft(raftConfig(id, o.storage ?? configuredStorage(voters, o.learners), o));
}

/** Takes the messages a bare Raft produced (flushing a pending read heartbeat first). */
export function readMessages(r: Raft): Message[] {
  r.flushReadIndexHeartbeat();
  const msgs = r.msgs;
  r.msgs = [];
  return msgs;
}

/**
 * Persists a bare Raft's unstable snapshot and entries, then tells it so
 * through advance(), as a driver does after its write: a leader counts its
 * own entries towards commit only from then on.
 */
export function persistAll(r: Raft, storage = r.raftLog.storage as MemoryStorage): void {
  const s = r.raftLog.unstable.snapshot;
  if (s !== undefined) storage.applySnapshot(s);
  const ents = r.raftLog.unstableEntries();
  if (ents.length > 0) storage.append(ents);
  storage.setHardState(r.hardState());
  r.advance(0n, [], ents[ents.length - 1], s);
}

export function confChangeData(type: ConfChangeType, nodeId: Id): Buffer {
  return Buffer.from(ConfChangeCodec.encode(confChange(type, nodeId)).finish());
}

export function confChange(type: ConfChangeType, nodeId: Id): ConfChange {
  return { type, nodeId: big(nodeId), context: Buffer.alloc(0), id: 0n };
}

/** One member: a RawNode, its durable storage and what it applied. */
export class TestNode {
  readonly id: bigint;
  rn: RawNode;
  /** Normal entries' payloads in apply order (the "state machine"). */
  applied: string[] = [];
  appliedIndex: bigint;
  readStates: ReadState[] = [];
  confState: ConfState;
  readies: Ready[] = [];
  /** Whether the last handled Ready made this node persist a snapshot. */
  snapshotsRestored = 0;

  constructor(
    id: Id,
    readonly storage: MemoryStorage,
    readonly options: NodeOptions,
    applied?: bigint,
  ) {
    this.id = big(id);
    this.rn = new RawNode({ ...raftConfig(id, storage, options), applied });
    this.appliedIndex = this.rn.basicStatus().applied;
    this.confState = storage.initialState().confState;
  }

  get raft(): Raft {
    return this.rn.raft;
  }

  get state(): StateType {
    return this.rn.raft.state;
  }

  /** Handles one Ready by the contract; returns the messages to send. */
  handleReady(): Message[] {
    const rd = this.rn.ready();
    this.readies.push(rd);
    if (rd.snapshot !== undefined) {
      this.storage.applySnapshot(rd.snapshot);
      this.snapshotsRestored++;
    }
    this.storage.append(rd.entries);
    if (rd.hardState !== undefined) this.storage.setHardState(rd.hardState);
    if (rd.snapshot !== undefined) this.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.apply(e);
    this.readStates.push(...rd.readStates);
    this.rn.advance();
    return rd.messages;
  }

  private restoreSnapshot(s: Snapshot): void {
    this.applied = s.data.length > 0 ? (JSON.parse(s.data.toString()) as string[]) : [];
    this.appliedIndex = snapshotIndex(s);
    this.confState = s.metadata!.confState!;
  }

  private apply(e: Entry): void {
    assert.equal(e.index, this.appliedIndex + 1n, `node ${this.id} applies ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    if (e.type === EntryType.EntryConfChange) {
      this.confState = this.rn.applyConfChange(ConfChangeCodec.decode(e.data));
    } else if (e.data.length > 0) {
      this.applied.push(e.data.toString());
    }
  }

  /**
   * A snapshot of the state machine as of now, as a server sends it in place
   * of the stored one (see the Ready contract, step 3).
   */
  freshSnapshot(): Snapshot {
    return {
      data: Buffer.from(JSON.stringify(this.applied)),
      metadata: { index: this.appliedIndex, term: this.storage.term(this.appliedIndex), confState: this.confState },
    };
  }

  /** Snapshots the state machine at the applied index and compacts the log up to it. */
  compact(keep = 0n): Snapshot {
    const data = Buffer.from(JSON.stringify(this.applied));
    const snap = this.storage.createSnapshot(this.appliedIndex, this.confState, data);
    const to = this.appliedIndex - keep;
    if (to > this.storage.firstIndex()) this.storage.compact(to);
    return snap;
  }
}

export class Cluster {
  readonly nodes = new Map<bigint, TestNode>();
  /** Messages sent and not yet delivered, in send order. */
  inFlight: Message[] = [];
  /** Every message delivered, described, for assertions and failure output. */
  delivered: string[] = [];
  private readonly cutLinks = new Set<string>();
  private readonly isolated = new Set<bigint>();
  private readonly droppedTypes = new Set<MessageType>();
  private readonly down = new Set<bigint>();
  /** Messages to hold back instead of delivering (returns true to hold). */
  hold: ((m: Message) => boolean) | undefined;
  held: Message[] = [];
  /** Rewrites messages in flight (e.g. strips entries, as a leader sending less would). */
  rewrite: ((m: Message) => Message) | undefined;

  constructor(
    voters: Id[],
    readonly options: NodeOptions & { learners?: Id[]; storages?: Map<number, MemoryStorage> } = {},
  ) {
    const learners = options.learners ?? [];
    for (const id of [...voters, ...learners]) {
      this.nodes.set(big(id), new TestNode(id, options.storages?.get(Number(id)) ?? configuredStorage(voters, learners), options));
    }
  }

  node(id: Id): TestNode {
    const n = this.nodes.get(big(id));
    assert.ok(n, `no node ${id}`);
    return n;
  }

  /** Adds a member process with an empty log (it joins through the leader). */
  addNode(id: Id, storage = new MemoryStorage()): TestNode {
    const n = new TestNode(id, storage, this.options);
    this.nodes.set(big(id), n);
    return n;
  }

  // -- network faults ---------------------------------------------------

  cut(a: Id, b: Id): void {
    this.cutLinks.add(`${a}-${b}`);
    this.cutLinks.add(`${b}-${a}`);
  }

  /** Cuts only the direction from -> to. */
  cutOneWay(from: Id, to: Id): void {
    this.cutLinks.add(`${from}-${to}`);
  }

  isolate(id: Id): void {
    this.isolated.add(big(id));
  }

  drop(type: MessageType): void {
    this.droppedTypes.add(type);
  }

  /** Heals every link and stops dropping message types. */
  recover(): void {
    this.cutLinks.clear();
    this.isolated.clear();
    this.droppedTypes.clear();
  }

  /** Stops a node: it neither ticks nor receives until restart(). */
  stop(id: Id): void {
    this.down.add(big(id));
  }

  /** Restarts a node from its storage (which holds everything it persisted). */
  restart(id: Id): TestNode {
    const old = this.node(id);
    old.storage.setConfState(old.confState);
    const n = new TestNode(id, old.storage, this.options, old.appliedIndex);
    // The state machine survives (it is durable with its applied index).
    n.applied = old.applied;
    n.appliedIndex = old.appliedIndex;
    n.confState = old.confState;
    this.nodes.set(big(id), n);
    this.down.delete(big(id));
    return n;
  }

  private passes(m: Message): boolean {
    if (this.droppedTypes.has(m.type)) return false;
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return false;
    if (this.cutLinks.has(`${m.from}-${m.to}`)) return false;
    return !this.down.has(m.to) && this.nodes.has(m.to);
  }

  // -- driving ----------------------------------------------------------

  /** Handles every pending Ready and delivers messages until nothing moves. */
  stabilize(): void {
    for (let rounds = 0; ; rounds++) {
      assert.ok(rounds < 10_000, 'cluster did not stabilize');
      let moved = false;
      for (const n of this.nodes.values()) {
        if (this.down.has(n.id) || !n.rn.hasReady()) continue;
        this.inFlight.push(...n.handleReady());
        moved = true;
      }
      if (this.inFlight.length > 0) {
        const batch = this.inFlight;
        this.inFlight = [];
        for (const m of batch) this.deliver(m);
        moved = true;
      }
      if (!moved) return;
    }
  }

  private deliver(m: Message): void {
    if (this.rewrite !== undefined) m = this.rewrite(m);
    if (this.hold?.(m) === true) {
      this.held.push(m);
      return;
    }
    if (m.type === MessageType.MsgSnap && this.nodes.has(m.from)) {
      m = { ...m, snapshot: this.nodes.get(m.from)!.freshSnapshot() };
    }
    const ok = this.passes(m);
    if (m.type === MessageType.MsgSnap && !this.down.has(m.from)) {
      // The transport reports the snapshot's fate to the sender.
      this.nodes.get(m.from)?.rn.reportSnapshot(m.to, ok);
    }
    if (!ok) return;
    this.delivered.push(describeMessage(m));
    this.nodes.get(m.to)!.rn.step(m);
  }

  /** Delivers the held messages (then stops holding). */
  release(): void {
    this.hold = undefined;
    const msgs = this.held;
    this.held = [];
    for (const m of msgs) this.deliver(m);
    this.stabilize();
  }

  /** Ticks every running node (or the given ones) n times, stabilizing after each tick. */
  tick(n = 1, ids?: Id[]): void {
    const which = ids === undefined ? [...this.nodes.keys()] : ids.map(big);
    for (let i = 0; i < n; i++) {
      for (const id of which) if (!this.down.has(id)) this.node(id).rn.tick();
      this.stabilize();
    }
  }

  campaign(id: Id): void {
    this.node(id).rn.campaign();
    this.stabilize();
  }

  propose(id: Id, data: string): void {
    this.node(id).rn.propose(Buffer.from(data));
    this.stabilize();
  }

  proposeConfChange(id: Id, type: ConfChangeType, nodeId: Id): void {
    this.node(id).rn.proposeConfChange(confChange(type, nodeId));
    this.stabilize();
  }

  readIndex(id: Id, ctx: string): void {
    this.node(id).rn.readIndex(Buffer.from(ctx));
    this.stabilize();
  }

  /** Delivers one message as if it came from the network. */
  send(m: Message): void {
    this.deliver(m);
    this.stabilize();
  }

  // -- expectations -----------------------------------------------------

  /** The one node that is leader in the highest term any leader has, if any. */
  leader(): bigint | undefined {
    let best: TestNode | undefined;
    for (const n of this.nodes.values()) {
      if (this.down.has(n.id) || n.state !== 'leader') continue;
      if (best === undefined || n.raft.term > best.raft.term) best = n;
    }
    return best?.id;
  }

  expectLeader(id: Id): void {
    const n = this.node(id);
    assert.equal(n.state, 'leader', `expected ${id} to be leader, it is ${n.state} at term ${n.raft.term}`);
  }

  expectState(id: Id, state: StateType, term?: bigint): void {
    const n = this.node(id);
    assert.equal(n.state, state, `node ${id} state`);
    if (term !== undefined) assert.equal(n.raft.term, term, `node ${id} term`);
  }

  /** Every running, connected node has applied the same sequence. */
  expectConverged(ids: Id[] = [...this.nodes.keys()]): void {
    const [first, ...rest] = ids.map((id) => this.node(id));
    for (const n of rest) {
      assert.deepEqual(n.applied, first!.applied, `node ${n.id} applied differs from ${first!.id}`);
      assert.equal(n.raft.raftLog.committed, first!.raft.raftLog.committed, `node ${n.id} commit differs from ${first!.id}`);
    }
  }

  /** Counts delivered messages of a type (optionally from one node). */
  countDelivered(type: MessageType, from?: Id): number {
    const name = ` ${MessageType[type]} `;
    return this.delivered.filter((d) => d.includes(name) && (from === undefined || d.startsWith(`${from}->`))).length;
  }
}

export { ConfChangeType, EntryType, MessageType };
