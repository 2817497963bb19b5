/**
 * Log compaction and snapshots: the leader sends a snapshot to a follower
 * whose next entries were compacted away; the follower restores it.
 */
import assert from 'node:assert/strict';
import type { Snapshot } from '../../../src/proto/gen/etcdtspb/raft.js';
import { SnapshotTemporarilyUnavailableError } from '../../../src/server/raft/errors.js';
import { newMessage } from '../../../src/server/raft/messages.js';
import type { Raft } from '../../../src/server/raft/raft.js';
import { MemoryStorage } from '../../../src/server/raft/storage.js';
import { Cluster, MessageType, configuredStorage, newTestRaft, readMessages, storageWithLog, type Id } from './harness.js';

function snap(index: number, term: number, voters: Id[], learners: Id[] = []): Snapshot {
  return {
    data: Buffer.from('snapshot data'),
    metadata: { index: BigInt(index), term: BigInt(term), confState: { voters: voters.map(BigInt), learners: learners.map(BigInt) } },
  };
}

/** A leader of term 1 whose storage was restored from a snapshot at 11/11 (so entries before 12 are gone). */
function leaderAfterSnapshot(): { r: Raft; storage: MemoryStorage } {
  const storage = configuredStorage([1, 2]);
  storage.applySnapshot(snap(11, 11, [1, 2]));
  const r = newTestRaft(1, [1, 2], { storage });
  r.becomeCandidate();
  r.becomeLeader();
  readMessages(r);
  // Heard from recently: a snapshot is only sent to a follower known to be alive.
  r.prs.progress.get(2n)!.recentActive = true;
  return { r, storage };
}

describe('raft snapshots: the leader side', () => {
  it('sends a snapshot when the follower needs compacted entries, and waits for its outcome', () => {
    const { r } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    // 2 rejects the leader's probe: its log ends at 0.
    r.step(newMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: pr.next - 1n, reject: true, rejectHint: 0n }));
    const [m] = readMessages(r);
    assert.equal(m!.type, MessageType.MsgSnap);
    assert.equal(m!.snapshot!.metadata!.index, 11n);
    assert.equal(pr.state, 'snapshot');
    assert.equal(pr.pendingSnapshot, 11n);
    // Paused: proposals send nothing to 2.
    r.step(newMessage({ type: MessageType.MsgProp, from: 1n, entries: [{ term: 0n, index: 0n, type: 0, data: Buffer.from('x') }] }));
    assert.deepEqual(readMessages(r), []);
  });

  it('a failed snapshot resumes probing from match, after a heartbeat', () => {
    const { r } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1n;
    r.sendAppend(2n);
    readMessages(r);
    r.step(newMessage({ type: MessageType.MsgSnapStatus, from: 2n, to: 1n, reject: true }));
    assert.equal(pr.state, 'probe');
    assert.equal(pr.pendingSnapshot, 0n);
    assert.equal(pr.next, 1n);
    assert.equal(pr.probeSent, true);
  });

  it('a delivered snapshot resumes probing after the snapshot index', () => {
    const { r } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1n;
    r.sendAppend(2n);
    readMessages(r);
    r.step(newMessage({ type: MessageType.MsgSnapStatus, from: 2n, to: 1n, reject: false }));
    assert.equal(pr.state, 'probe');
    assert.equal(pr.next, 12n);
    assert.equal(pr.probeSent, true);
    // A status report outside the snapshot state is ignored.
    r.step(newMessage({ type: MessageType.MsgSnapStatus, from: 2n, to: 1n, reject: true }));
    assert.equal(pr.next, 12n);
  });

  it('an acknowledgement past the pending snapshot ends the snapshot state', () => {
    const { r } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1n;
    r.sendAppend(2n);
    readMessages(r);
    r.step(newMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: 11n }));
    assert.equal(pr.state, 'replicate');
    assert.equal(pr.match, 11n);
  });

  it('does not send a snapshot to a follower that is not recently active', () => {
    const { r } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1n;
    pr.recentActive = false;
    r.sendAppend(2n);
    assert.deepEqual(readMessages(r), []);
    assert.equal(pr.state, 'probe');
  });

  it('retries later when the storage cannot produce a snapshot right now', () => {
    const { r, storage } = leaderAfterSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1n;
    const original = storage.snapshot.bind(storage);
    storage.snapshot = () => {
      throw new SnapshotTemporarilyUnavailableError();
    };
    r.sendAppend(2n);
    assert.deepEqual(readMessages(r), []);
    storage.snapshot = original;
    r.sendAppend(2n);
    assert.equal(readMessages(r)[0]!.type, MessageType.MsgSnap);
  });

  it('a lagging follower catches up from a snapshot in a cluster', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.propose(1, `v${i}`);
    c.node(1).compact();
    c.node(1).rn.propose(Buffer.from('after compaction'));
    c.recover();
    c.tick(3);
    assert.equal(c.node(3).snapshotsRestored, 1);
    c.expectConverged();
    assert.equal(c.node(3).applied.length, 11);
  });
});

describe('raft snapshots: the follower side', () => {
  it('restores: the log starts after the snapshot, commit moves, configuration is replaced', () => {
    const r = newTestRaft(1, [1, 2]);
    const s = snap(11, 11, [1, 2, 3]);
    assert.equal(r.restore(s), true);
    assert.equal(r.raftLog.lastIndex(), 11n);
    assert.equal(r.raftLog.term(11n), 11n);
    assert.equal(r.raftLog.committed, 11n);
    assert.deepEqual(r.prs.voterIds(), [1n, 2n, 3n]);
    assert.equal(r.restore(s), false, 'the same snapshot again is ignored');
  });

  it('restores learners, including itself', () => {
    const r = newTestRaft(3, [1, 2], { learners: [3] });
    assert.equal(r.isLearner, true);
    assert.equal(r.restore(snap(11, 11, [1, 2], [3])), true);
    assert.equal(r.isLearner, true);
    assert.deepEqual(r.prs.learnerIds(), [3n]);
    // A later snapshot can promote it.
    assert.equal(r.restore(snap(12, 11, [1, 2, 3])), true);
    assert.equal(r.isLearner, false);
    assert.equal(r.promotable(), true);
  });

  it('ignores a snapshot at or below its commit index', () => {
    const r = newTestRaft(1, [1, 2], { storage: storageWithLog([1, 2], [[1, 1], [2, 1], [3, 1]]) });
    r.raftLog.commitTo(3n);
    assert.equal(r.restore(snap(2, 1, [1, 2])), false);
    assert.equal(r.raftLog.committed, 3n);
  });

  it('only fast-forwards commit when its log already has the snapshot’s last entry', () => {
    const r = newTestRaft(1, [1, 2], { storage: storageWithLog([1, 2], [[1, 1], [2, 1], [3, 1]]) });
    r.raftLog.commitTo(1n);
    assert.equal(r.restore(snap(2, 1, [1, 2])), false);
    assert.equal(r.raftLog.committed, 2n);
    assert.equal(r.raftLog.lastIndex(), 3n, 'the log is kept');
  });

  it('refuses a snapshot whose configuration does not include it', () => {
    const r = newTestRaft(1, [1, 2]);
    assert.equal(r.restore(snap(11, 11, [2, 3])), false);
    assert.equal(r.raftLog.lastIndex(), 0n);
  });

  it('a leader or candidate never restores a snapshot (it steps down instead)', () => {
    const r = newTestRaft(1, [1, 2]);
    r.becomeCandidate();
    const term = r.term;
    assert.equal(r.restore(snap(11, 11, [1, 2])), false);
    assert.equal(r.state, 'follower');
    assert.equal(r.term, term + 1n);
  });

  it('answers a MsgSnap with its new last index (or its commit index if ignored)', () => {
    const r = newTestRaft(2, [1, 2]);
    r.step(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2n, snapshot: snap(11, 2, [1, 2]) }));
    assert.equal(r.state, 'follower');
    assert.equal(r.lead, 1n);
    const [resp] = readMessages(r);
    assert.deepEqual([resp!.type, resp!.index, resp!.reject], [MessageType.MsgAppResp, 11n, false]);
    r.step(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2n, snapshot: snap(5, 2, [1, 2]) }));
    assert.equal(readMessages(r)[0]!.index, 11n);
    assert.throws(() => r.step(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2n })), /without a snapshot/);
  });

  it('does not campaign while a received snapshot is not yet applied', () => {
    const r = newTestRaft(2, [1, 2]);
    r.step(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2n, snapshot: snap(11, 2, [1, 2]) }));
    assert.equal(r.hasUnappliedConfChanges(), true);
    r.step(newMessage({ type: MessageType.MsgHup, from: 2n }));
    assert.equal(r.state, 'follower');
  });

  it('a candidate that receives a snapshot from the leader of its term becomes its follower', () => {
    const r = newTestRaft(2, [1, 2]);
    r.becomeCandidate();
    r.step(newMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: r.term, snapshot: snap(11, 1, [1, 2]) }));
    assert.equal(r.state, 'follower');
    assert.equal(r.raftLog.committed, 11n);
  });

  it('a restarted member recovers from snapshot plus log', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.node(2).compact();
    c.propose(1, 'v5');
    c.stop(2);
    const n = c.restart(2);
    assert.equal(n.raft.raftLog.firstIndex() > 1n, true);
    assert.equal(n.raft.raftLog.committed, c.node(1).raft.raftLog.committed);
    c.propose(1, 'v6');
    c.expectConverged();
  });
});
