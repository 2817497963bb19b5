/**
 * A write is acknowledged only once it is durable on a quorum: the leader's
 * own copy counts only after the driver reported it persisted (advance()).
 * Counting it at append time lets an entry commit while it is on one
 * follower's disk and only in the leader's memory; a power loss of both then
 * loses an acknowledged write (found by the whole-cluster power-loss scenario
 * of test/robustness).
 */
import assert from 'node:assert/strict';
import type { Message } from '../../../src/proto/gen/etcdtspb/raft.js';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import { MessageType, newTestRaft, persistAll, readMessages, storageWithLog } from './harness.js';

const msg = (fields: Partial<Message> & { type: MessageType }): Message => newMessage(fields);

describe('raft: the leader counts only its durable log towards commit', () => {
  it('an entry the leader appended is not committed by one follower\'s acknowledgement until the leader persisted it', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeCandidate();
    r.becomeLeader();
    persistAll(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: r.raftLog.lastIndex() }));
    const before = r.raftLog.committed;
    r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('x') })] }));
    const li = r.raftLog.lastIndex();
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: li }));
    assert.equal(r.raftLog.committed, before, 'committed on one durable copy of three');
    persistAll(r);
    assert.equal(r.raftLog.committed, li);
    const out = readMessages(r).filter((m) => m.type === MessageType.MsgApp);
    assert.ok(out.length > 0 && out.every((m) => m.commit === li), 'the new commit index goes out once it holds');
  });

  it('a follower that wins an election while entries it received are still unwritten does not count them', () => {
    // Member 1 holds [1/1] on disk and receives entry 2/1 from leader 2; before that
    // write completes it times out and wins term 2. Member 2 has both 2/1 and the new
    // leader's empty entry 3/2 on disk and acknowledges them.
    const r = newTestRaft(1, [1, 2, 3], { storage: storageWithLog([1, 2, 3], [[1, 1]]) });
    r.becomeFollower(1n, 2n);
    r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 1n, index: 1n, logTerm: 1n, commit: 1n, entries: [newEntry({ index: 2n, term: 1n })] }));
    readMessages(r);
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    assert.equal(r.raftLog.lastIndex(), 3n);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: 3n }));
    assert.equal(r.raftLog.committed, 1n, 'committed entries that are durable on one member only');
    assert.ok(readMessages(r).every((m) => m.commit <= 1n), 'told a follower of a commit that rests on unwritten entries');
    persistAll(r);
    assert.equal(r.raftLog.committed, 3n);
  });

  it('a single member commits its own entry only once it is written', () => {
    const r = newTestRaft(1, [1]);
    r.becomeCandidate();
    r.becomeLeader();
    assert.equal(r.raftLog.committed, 0n);
    persistAll(r);
    assert.equal(r.raftLog.committed, 1n);
    r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('x') })] }));
    assert.equal(r.raftLog.committed, 1n);
    persistAll(r);
    assert.equal(r.raftLog.committed, 2n);
  });
});
