/**
 * Linearizable reads through ReadIndex (thesis §6.4): the leader confirms
 * its leadership with one heartbeat round before answering.
 */
import assert from 'node:assert/strict';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import { Cluster, MessageType, newTestRaft, readMessages } from './harness.js';

const ctxs = (c: Cluster, id: number): string[] => c.node(id).readStates.map((r) => r.requestCtx.toString());

describe('raft read index', () => {
  it('the leader answers after a quorum acknowledges a heartbeat, at its commit index', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.delivered = [];
    c.readIndex(1, 'read-1');
    assert.deepEqual(ctxs(c, 1), ['read-1']);
    assert.equal(c.node(1).readStates[0]!.index, c.node(1).raft.raftLog.committed);
    assert.equal(c.countDelivered(MessageType.MsgHeartbeat, 1), 2);
  });

  it('a leader cut off from the quorum never answers', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.readIndex(1, 'lost');
    assert.deepEqual(ctxs(c, 1), []);
  });

  it('one heartbeat round confirms a whole batch of reads', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.delivered = [];
    for (const ctx of ['r1', 'r2', 'r3']) c.node(1).rn.readIndex(Buffer.from(ctx));
    c.stabilize();
    assert.deepEqual(ctxs(c, 1), ['r1', 'r2', 'r3']);
    assert.equal(c.countDelivered(MessageType.MsgHeartbeat, 1), 2, 'one round for three reads');
  });

  it('an acknowledgement of a later heartbeat also confirms earlier reads', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.drop(MessageType.MsgHeartbeatResp);
    c.readIndex(1, 'early');
    assert.deepEqual(ctxs(c, 1), []);
    c.recover();
    c.readIndex(1, 'late');
    assert.deepEqual(ctxs(c, 1), ['early', 'late']);
  });

  it('a follower forwards the request and gets the leader’s index back', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.readIndex(2, 'from-2');
    assert.deepEqual(ctxs(c, 2), ['from-2']);
    assert.equal(c.node(2).readStates[0]!.index, c.node(1).raft.raftLog.committed);
    assert.deepEqual(ctxs(c, 1), []);
  });

  it('a follower without a leader drops the request', () => {
    const c = new Cluster([1, 2, 3]);
    c.readIndex(2, 'nobody');
    assert.deepEqual(ctxs(c, 2), []);
    assert.equal(c.delivered.length, 0);
  });

  it('a new leader serves reads only after committing an entry of its own term', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    // 2 becomes leader but its empty entry of the new term is held back.
    c.hold = (m) => m.type === MessageType.MsgApp && m.from === 2n;
    c.campaign(2);
    c.expectLeader(2);
    c.readIndex(2, 'waits');
    // 3 does not know the new leader yet; its request reaches 2 directly.
    c.send(newMessage({ type: MessageType.MsgReadIndex, from: 3n, to: 2n, entries: [newEntry({ data: Buffer.from('forwarded-waits') })] }));
    assert.deepEqual(ctxs(c, 2), []);
    assert.equal(c.node(2).raft.pendingReadIndexMessages.length, 2);
    c.release();
    c.tick(1);
    assert.deepEqual(ctxs(c, 2), ['waits']);
    assert.deepEqual(ctxs(c, 3), ['forwarded-waits']);
    assert.equal(c.node(2).readStates[0]!.index, c.node(2).raft.raftLog.committed);
  });

  it('a single-voter leader answers at once', () => {
    const c = new Cluster([1], { learners: [2] });
    c.campaign(1);
    c.readIndex(1, 'solo');
    assert.deepEqual(ctxs(c, 1), ['solo']);
    c.tick(1); // the learner learns of the leader from its heartbeat
    c.readIndex(2, 'learner');
    assert.deepEqual(ctxs(c, 2), ['learner']);
  });

  it('duplicate contexts are answered once; a malformed response is ignored', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeCandidate();
    r.becomeLeader();
    for (const id of [2n, 3n]) r.step(newMessage({ type: MessageType.MsgAppResp, from: id, to: 1n, term: r.term, index: r.raftLog.lastIndex() }));
    readMessages(r);
    for (let i = 0; i < 2; i++) r.step(newMessage({ type: MessageType.MsgReadIndex, from: 1n, entries: [newEntry({ data: Buffer.from('dup') })] }));
    assert.equal(r.readOnly.pendingCount, 1);
    const hbs = readMessages(r);
    r.step(newMessage({ type: MessageType.MsgHeartbeatResp, from: 2n, to: 1n, term: r.term, context: hbs[0]!.context }));
    assert.equal(r.readStates.length, 1);
    // A response for an unknown context does nothing.
    r.step(newMessage({ type: MessageType.MsgHeartbeatResp, from: 3n, to: 1n, term: r.term, context: Buffer.from('unknown') }));
    assert.equal(r.readStates.length, 1);
    const f = newTestRaft(2, [1, 2]);
    f.becomeFollower(1n, 1n);
    f.step(newMessage({ type: MessageType.MsgReadIndexResp, from: 1n, to: 2n, term: 1n, index: 5n, entries: [] }));
    assert.equal(f.readStates.length, 0);
  });

  it('a leader that loses leadership drops its pending reads', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.drop(MessageType.MsgHeartbeatResp);
    c.readIndex(1, 'pending');
    assert.equal(c.node(1).raft.readOnly.pendingCount, 1);
    c.recover();
    c.campaign(2);
    assert.equal(c.node(1).raft.readOnly.pendingCount, 0);
    assert.deepEqual(ctxs(c, 1), []);
  });
});
