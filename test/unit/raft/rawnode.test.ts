/**
 * RawNode: the Ready contract (what a Ready holds, when it must be synced,
 * advance), restart from storage, status, and the describe/prng helpers.
 */
import assert from 'node:assert/strict';
import { ConfChangeType, EntryType, MessageType } from '../../../src/proto/gen/etcdtspb/raft.js';
import {
  describeConfState,
  describeData,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
} from '../../../src/server/raft/describe.js';
import { StepLocalMessageError } from '../../../src/server/raft/errors.js';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import { SeededPrng } from '../../../src/server/raft/prng.js';
import { RawNode } from '../../../src/server/raft/rawnode.js';
import { Cluster, confChangeData, configuredStorage, raftConfig, storageWithLog } from './harness.js';

function singleLeader(): { rn: RawNode; storage: ReturnType<typeof configuredStorage> } {
  const storage = configuredStorage([1]);
  const rn = new RawNode(raftConfig(1, storage));
  rn.campaign();
  const rd = rn.ready();
  storage.append(rd.entries);
  storage.setHardState(rd.hardState!);
  rn.advance();
  return { rn, storage };
}

describe('raft RawNode: the Ready contract', () => {
  it('a fresh node has nothing to do', () => {
    const rn = new RawNode(raftConfig(1, configuredStorage([1, 2])));
    assert.equal(rn.hasReady(), false);
    assert.equal(describeReady(rn.ready()), '<empty Ready>');
    rn.advance();
  });

  it('campaigning yields soft state, a hard state that must be synced, and vote requests', () => {
    const rn = new RawNode(raftConfig(1, configuredStorage([1, 2])));
    rn.campaign();
    assert.equal(rn.hasReady(), true);
    const rd = rn.ready();
    assert.deepEqual(rd.softState, { lead: 0n, raftState: 'candidate' });
    assert.deepEqual(rd.hardState, { term: 1n, vote: 1n, commit: 0n });
    assert.equal(rd.mustSync, true, 'a vote must be durable before the request goes out');
    assert.deepEqual(rd.messages.map(describeMessage), ['1->2 MsgVote Term:1 Log:0/0']);
    rn.advance();
    assert.equal(rn.hasReady(), false);
  });

  it('a single node elects itself, and commits its first entry once that entry is durable', () => {
    const storage = configuredStorage([1]);
    const rn = new RawNode(raftConfig(1, storage));
    rn.campaign();
    const rd = rn.ready();
    assert.deepEqual(rd.softState, { lead: 1n, raftState: 'leader' });
    assert.deepEqual(rd.hardState, { term: 1n, vote: 1n, commit: 0n });
    assert.deepEqual(rd.entries.map(describeEntry), ['1/1 EntryNormal']);
    assert.deepEqual(rd.committedEntries, [], 'not committed before it is on the only member\'s disk');
    assert.equal(rd.mustSync, true);
    assert.deepEqual(rd.messages, []);
    storage.append(rd.entries);
    storage.setHardState(rd.hardState!);
    rn.advance();
    const next = rn.ready();
    assert.deepEqual(next.hardState, { term: 1n, vote: 1n, commit: 1n });
    assert.deepEqual(next.committedEntries.map(describeEntry), ['1/1 EntryNormal']);
    rn.advance();
    assert.equal(rn.basicStatus().applied, 1n);
  });

  it('a hard state that only moves the commit index need not be synced', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.node(2).readies = [];
    c.node(1).rn.propose(Buffer.from('x'));
    c.stabilize();
    // 2 first persists the entry (sync), later learns that it is committed (no sync).
    const commitOnly = c.node(2).readies.filter((rd) => rd.entries.length === 0 && rd.hardState !== undefined);
    assert.ok(commitOnly.length > 0);
    for (const rd of commitOnly) assert.equal(rd.mustSync, false);
  });

  it('new entries must be synced, and are handed out as committed only in the Ready after', () => {
    const { rn, storage } = singleLeader();
    rn.ready();
    rn.advance();
    rn.propose(Buffer.from('foo'));
    const rd = rn.ready();
    assert.deepEqual(rd.entries.map(describeEntry), ['1/2 EntryNormal "foo"']);
    assert.deepEqual(rd.committedEntries, []);
    assert.equal(rd.mustSync, true);
    storage.append(rd.entries);
    rn.advance();
    const next = rn.ready();
    assert.deepEqual(next.entries, []);
    assert.deepEqual(next.committedEntries.map(describeEntry), ['1/2 EntryNormal "foo"']);
    rn.advance();
    assert.equal(rn.hasReady(), false);
    assert.deepEqual(rn.raft.raftLog.unstableEntries(), []);
  });

  it('refuses ready() before advance(), and advance() without a Ready', () => {
    const rn = new RawNode(raftConfig(1, configuredStorage([1])));
    rn.ready();
    assert.throws(() => rn.ready(), /before advance/);
    rn.advance();
    assert.throws(() => rn.advance(), /without an outstanding Ready/);
  });

  it('allows stepping between ready() and advance(); the new work shows in the next Ready', () => {
    const { rn, storage } = singleLeader();
    rn.ready();
    rn.propose(Buffer.from('late'));
    rn.advance();
    const rd = rn.ready();
    assert.deepEqual(rd.entries.map((e) => e.data.toString()), ['late']);
    storage.append(rd.entries);
    rn.advance();
  });

  it('pages committed entries by maxCommittedSizePerReadyBytes', () => {
    const storage = storageWithLog([1], [[1, 1], [2, 1], [3, 1], [4, 1]]);
    storage.setHardState({ term: 1n, vote: 1n, commit: 4n });
    const rn = new RawNode({ ...raftConfig(1, storage), maxCommittedSizePerReadyBytes: 30 });
    const seen: bigint[] = [];
    while (rn.hasReady()) {
      const rd = rn.ready();
      assert.ok(rd.committedEntries.length <= 1);
      seen.push(...rd.committedEntries.map((e) => e.index));
      rn.advance();
    }
    assert.deepEqual(seen, [1n, 2n, 3n, 4n]);
  });

  it('restarts from storage: hard state, log and applied index are restored', () => {
    const storage = storageWithLog([1, 2], [[1, 1], [2, 1], [3, 2]]);
    storage.setHardState({ term: 2n, vote: 2n, commit: 3n });
    const rn = new RawNode({ ...raftConfig(1, storage), applied: 2n });
    assert.deepEqual(rn.basicStatus(), { id: 1n, term: 2n, vote: 2n, commit: 3n, applied: 2n, lead: 0n, raftState: 'follower', leadTransferee: 0n });
    const rd = rn.ready();
    assert.deepEqual(rd.committedEntries.map((e) => e.index), [3n], 'only the unapplied entry');
    assert.equal(rd.hardState, undefined, 'the stored hard state is not handed out again');
    rn.advance();
  });

  it('restarts with the configuration as of the applied index, not the older snapshot’s', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.node(2).compact();
    c.proposeConfChange(1, ConfChangeType.ConfChangeAddLearnerNode, 4);
    c.stop(2);
    const n = c.restart(2);
    assert.deepEqual(n.rn.status().config, { voters: [1n, 2n, 3n], learners: [4n] });
    assert.equal(n.rn.hasReady(), false, 'nothing is handed out again');
  });

  it('after a crash that lost an unsynced commit-only hard state, applied raises commit', () => {
    const storage = storageWithLog([1, 2], [[1, 1], [2, 1], [3, 1]]);
    storage.setHardState({ term: 1n, vote: 1n, commit: 1n });
    const rn = new RawNode({ ...raftConfig(1, storage), applied: 3n });
    assert.equal(rn.basicStatus().commit, 3n);
    assert.equal(rn.basicStatus().applied, 3n);
    assert.throws(() => new RawNode({ ...raftConfig(1, storage), applied: 9n }), /beyond the last index/);
  });

  it('a hard state committing past the log is corruption', () => {
    const storage = storageWithLog([1], [[1, 1]]);
    storage.setHardState({ term: 1n, vote: 0n, commit: 5n });
    assert.throws(() => new RawNode(raftConfig(1, storage)), /out of range/);
  });

  it('refuses local message types from the network and drops responses from non-members', () => {
    const rn = new RawNode(raftConfig(1, configuredStorage([1, 2])));
    assert.throws(() => rn.step(newMessage({ type: MessageType.MsgHup })), StepLocalMessageError);
    rn.step(newMessage({ type: MessageType.MsgAppResp, from: 9n, to: 1n, term: 1n }));
    assert.equal(rn.hasReady(), false);
  });

  it('reports status, with progress only on the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    const s = c.node(1).rn.status();
    assert.equal(s.raftState, 'leader');
    assert.deepEqual(s.config, { voters: [1n, 2n, 3n], learners: [] });
    assert.deepEqual([...s.progress!.keys()], [1n, 2n, 3n]);
    assert.equal(s.progress!.get(2n)!.state, 'replicate');
    assert.equal(s.progress!.get(2n)!.match, 1n);
    assert.equal(c.node(2).rn.status().progress, undefined);
    c.node(1).rn.reportUnreachable(2n);
    assert.equal(c.node(1).rn.status().progress!.get(2n)!.state, 'probe');
  });

  it('hands confirmed reads out in the Ready', () => {
    const { rn } = singleLeader();
    rn.ready();
    rn.advance();
    rn.readIndex(new Uint8Array([1, 2, 3]));
    const rd = rn.ready();
    assert.deepEqual(rd.readStates.map((r) => [r.index, [...r.requestCtx]]), [[1n, [1, 2, 3]]]);
    rn.advance();
    assert.equal(rn.hasReady(), false);
  });

  it('validates its configuration', () => {
    const s = configuredStorage([1]);
    assert.throws(() => new RawNode({ ...raftConfig(1, s), id: 0n }), /none as id/);
    assert.throws(() => new RawNode({ ...raftConfig(1, s), heartbeatTick: 0 }), /heartbeat tick/);
    assert.throws(() => new RawNode({ ...raftConfig(1, s), electionTick: 1 }), /election tick/);
    assert.throws(() => new RawNode({ ...raftConfig(1, s), maxInflightMsgs: 0 }), /inflight/);
  });
});

describe('raft describe', () => {
  it('renders messages, entries and state compactly and stably', () => {
    const m = newMessage({
      type: MessageType.MsgApp,
      from: 1n,
      to: 2n,
      term: 3n,
      logTerm: 2n,
      index: 5n,
      commit: 4n,
      entries: [newEntry({ term: 3n, index: 6n, data: Buffer.from('put a') }), newEntry({ term: 3n, index: 7n, type: EntryType.EntryConfChange, data: confChangeData(ConfChangeType.ConfChangeAddLearnerNode, 4) })],
    });
    assert.equal(describeMessage(m), '1->2 MsgApp Term:3 Log:2/5 Commit:4 Entries:[3/6 EntryNormal "put a", 3/7 EntryConfChange l4]');
    const rej = newMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 3n, index: 5n, reject: true, rejectHint: 3n, context: Buffer.from([0xff]) });
    assert.equal(describeMessage(rej), '2->1 MsgAppResp Term:3 Log:0/5 Rejected (Hint: 3) Context:0xff');
    assert.equal(describeData(Buffer.alloc(0)), '');
    assert.equal(describeHardState({ term: 1n, vote: 2n, commit: 3n }), 'Term:1 Vote:2 Commit:3');
    assert.equal(describeConfState({ voters: [1n, 2n], learners: [3n] }), 'Voters:[1 2] Learners:[3]');
    const snap = { data: Buffer.alloc(0), metadata: { index: 9n, term: 2n, confState: { voters: [1n], learners: [] } } };
    assert.equal(describeSnapshot(snap), 'Index:9 Term:2 ConfState:Voters:[1]');
    assert.match(describeMessage(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2n, snapshot: snap })), /Snapshot: Index:9/);
    const rd = describeReady({
      softState: { lead: 1n, raftState: 'leader' },
      hardState: { term: 1n, vote: 1n, commit: 1n },
      readStates: [{ index: 1n, requestCtx: Buffer.from('r') }],
      entries: [newEntry({ term: 1n, index: 1n })],
      snapshot: snap,
      committedEntries: [newEntry({ term: 1n, index: 1n })],
      messages: [m],
      mustSync: true,
    });
    assert.equal(
      rd,
      [
        'Lead:1 State:leader',
        'HardState Term:1 Vote:1 Commit:1',
        'ReadStates: 1 "r"',
        'Entries:',
        '1/1 EntryNormal',
        'Snapshot Index:9 Term:2 ConfState:Voters:[1]',
        'CommittedEntries:',
        '1/1 EntryNormal',
        'Messages:',
        describeMessage(m),
        'MustSync',
      ].join('\n'),
    );
  });
});

describe('raft prng', () => {
  it('replays exactly from a seed and differs across seeds', () => {
    const draw = (seed: number | bigint) => {
      const p = new SeededPrng(seed);
      return Array.from({ length: 20 }, () => p.nextUint32());
    };
    assert.deepEqual(draw(42), draw(42));
    assert.deepEqual(draw(42n), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    assert.notDeepEqual(draw(1n << 40n), draw(0));
  });

  it('draws integers uniformly in range', () => {
    const p = new SeededPrng(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[p.nextInt(10)]!++;
    for (const c of counts) assert.ok(c > 9_000 && c < 11_000, `bucket count ${c}`);
    assert.throws(() => p.nextInt(0), /positive/);
    assert.throws(() => p.nextInt(1.5), /positive/);
    const f = p.nextFloat();
    assert.ok(f >= 0 && f < 1);
  });

  it('forks independent, reproducible streams', () => {
    const a = new SeededPrng(1);
    const b = new SeededPrng(1);
    const fa = a.fork();
    const fb = b.fork();
    assert.equal(fa.nextUint32(), fb.nextUint32());
    assert.notEqual(a.nextUint32(), fa.nextUint32());
  });
});
