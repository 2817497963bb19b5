/**
 * Learners and single-member configuration changes: adding, promoting,
 * demoting and removing members, one pending change at a time, and the
 * traps around unapplied changes.
 */
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/server/raft/errors.js';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import {
  Cluster,
  ConfChangeType,
  EntryType,
  MessageType,
  confChange,
  confChangeData,
  newTestRaft,
  readMessages,
} from './harness.js';

const { ConfChangeAddNode, ConfChangeAddLearnerNode, ConfChangeRemoveNode, ConfChangeUpdateNode } = ConfChangeType;

describe('raft learners', () => {
  it('a learner never campaigns, however long it waits', () => {
    const c = new Cluster([1], { learners: [2] });
    c.tick(100, [2]);
    c.expectState(2, 'follower');
    assert.equal(c.node(2).raft.isLearner, true);
    assert.equal(c.node(2).raft.promotable(), false);
  });

  it('a learner receives the log but does not count toward commit', () => {
    const c = new Cluster([1, 2], { learners: [3] });
    c.campaign(1);
    c.propose(1, 'a');
    assert.deepEqual(c.node(3).applied, ['a']);
    // With the voter 2 gone, nothing commits even though the learner has it.
    c.stop(2);
    c.propose(1, 'b');
    assert.ok(c.node(3).raft.raftLog.lastIndex() > c.node(1).raft.raftLog.committed);
    assert.deepEqual(c.node(1).applied, ['a']);
  });

  it('a learner is not asked for votes, but answers a vote request (it may have been promoted)', () => {
    const c = new Cluster([1, 2], { learners: [3] });
    c.campaign(1);
    assert.equal(c.countDelivered(MessageType.MsgVote, 1), 1, 'only voter 2 is asked');
    const l = c.node(3).raft;
    l.step(newMessage({ type: MessageType.MsgVote, from: 2n, to: 3n, term: l.term + 1n, logTerm: 99n, index: 99n }));
    const [resp] = readMessages(l);
    assert.equal(resp!.type, MessageType.MsgVoteResp);
    assert.equal(resp!.reject, false);
  });

  it('a learner ignores MsgTimeoutNow and the leader refuses to transfer to it', () => {
    const c = new Cluster([1], { learners: [2] });
    c.campaign(1);
    c.node(1).rn.transferLeader(2n);
    c.stabilize();
    assert.equal(c.node(1).raft.leadTransferee, 0n);
    c.send(newMessage({ type: MessageType.MsgTimeoutNow, from: 1n, to: 2n, term: c.node(1).raft.term }));
    c.expectState(2, 'follower');
  });

  it('a promoted learner (AddNode of a learner) becomes a voter and can lead', () => {
    const c = new Cluster([1], { learners: [2] });
    c.campaign(1);
    c.propose(1, 'before');
    c.proposeConfChange(1, ConfChangeAddNode, 2);
    assert.deepEqual(c.node(1).confState, { voters: [1n, 2n], learners: [] });
    assert.deepEqual(c.node(2).confState, { voters: [1n, 2n], learners: [] });
    assert.equal(c.node(2).raft.isLearner, false);
    // Promotion keeps the replication progress.
    assert.equal(c.node(1).raft.prs.progress.get(2n)!.match, c.node(1).raft.raftLog.lastIndex());
    c.campaign(2);
    c.expectLeader(2);
    c.propose(2, 'after');
    c.expectConverged();
  });

  it('a voter demoted to learner (AddLearner of a voter) stops voting; a demoted leader steps down', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.proposeConfChange(1, ConfChangeAddLearnerNode, 1);
    assert.deepEqual(c.node(2).confState, { voters: [2n, 3n], learners: [1n] });
    c.expectState(1, 'follower');
    c.tick(30);
    const lead = c.leader();
    assert.ok(lead === 2n || lead === 3n);
    c.propose(lead, 'x');
    c.expectConverged();
  });
});

describe('raft configuration changes', () => {
  it('adds a new voter with an empty log; it catches up by snapshot and counts toward commit', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.propose(1, 'a');
    // The initial configuration is not in the log (it came with the storage),
    // so a new member learns it from a snapshot.
    c.node(1).compact();
    c.addNode(3);
    c.proposeConfChange(1, ConfChangeAddNode, 3);
    c.tick(3);
    assert.equal(c.node(3).snapshotsRestored, 1);
    assert.deepEqual(c.node(3).applied, ['a']);
    assert.deepEqual(c.node(3).confState, { voters: [1n, 2n, 3n], learners: [] });
    // Quorum is now 2 of 3: 1 and 3 commit without 2.
    c.stop(2);
    c.propose(1, 'b');
    assert.deepEqual(c.node(1).applied, ['a', 'b']);
  });

  it('allows only one configuration change pending at a time', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.isolate(2);
    c.node(1).rn.proposeConfChange(confChange(ConfChangeAddLearnerNode, 3));
    assert.throws(
      () => c.node(1).rn.proposeConfChange(confChange(ConfChangeAddLearnerNode, 4)),
      (e: unknown) => e instanceof ProposalDroppedError && /configuration change is pending/.test(e.message),
    );
    c.recover();
    c.tick(2);
    assert.deepEqual(c.node(1).confState.learners, [3n]);
    // Applied: the next change is accepted.
    c.proposeConfChange(1, ConfChangeAddLearnerNode, 4);
    assert.deepEqual(c.node(1).confState.learners, [3n, 4n]);
  });

  it('a refused conf change in a mixed batch becomes an empty entry', () => {
    const r = newTestRaft(1, [1, 2]);
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    // The new leader does not know whether its tail holds a change: pending until applied.
    assert.equal(r.pendingConfIndex, r.raftLog.lastIndex() - 1n);
    r.pendingConfIndex = r.raftLog.lastIndex();
    r.step(
      newMessage({
        type: MessageType.MsgProp,
        from: 1n,
        entries: [newEntry({ data: Buffer.from('normal') }), newEntry({ type: EntryType.EntryConfChange, data: confChangeData(ConfChangeAddNode, 3) })],
      }),
    );
    const last = r.raftLog.allEntries().slice(-2);
    assert.equal(last[0]!.data.toString(), 'normal');
    assert.equal(last[1]!.type, EntryType.EntryNormal);
    assert.equal(last[1]!.data.length, 0);
  });

  it('a new leader treats its whole log tail as a possibly pending change', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.propose(1, 'a');
    c.campaign(2);
    c.expectLeader(2);
    const r = c.node(2).raft;
    // It appended its empty entry after pendingConfIndex; once that applies, changes are allowed.
    assert.ok(r.pendingConfIndex <= r.raftLog.applied);
    c.proposeConfChange(2, ConfChangeAddLearnerNode, 3);
    assert.deepEqual(c.node(2).confState.learners, [3n]);
  });

  it('removing a member lets the remaining quorum commit what the old quorum could not', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.stop(2);
    c.node(1).rn.proposeConfChange(confChange(ConfChangeRemoveNode, 2));
    c.stabilize();
    c.node(1).rn.propose(Buffer.from('pending'));
    c.stabilize();
    assert.deepEqual(c.node(1).applied, []);
    // Apply the removal by hand (its entry cannot commit without 2): the
    // remaining single voter commits the pending entry at once.
    const cs = c.node(1).rn.applyConfChange(confChange(ConfChangeRemoveNode, 2));
    assert.deepEqual(cs, { voters: [1n], learners: [] });
    c.stabilize();
    assert.deepEqual(c.node(1).applied, ['pending']);
  });

  it('a removed leader steps down and the rest elect a new leader; the removed member stays quiet', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.proposeConfChange(1, ConfChangeRemoveNode, 1);
    c.expectState(1, 'follower');
    assert.equal(c.node(1).raft.promotable(), false);
    // The removal's commit index reached the others with the same Ready.
    for (const id of [2, 3]) assert.deepEqual(c.node(id).confState, { voters: [2n, 3n], learners: [] });
    assert.throws(() => c.node(1).rn.propose(Buffer.from('x')), ProposalDroppedError);
    c.tick(40);
    const lead = c.leader();
    assert.ok(lead === 2n || lead === 3n, `leader ${lead}`);
    c.propose(lead, 'b');
    c.expectConverged([2, 3]);
    // 1 never campaigned after its removal.
    assert.equal(c.node(1).state, 'follower');
  });

  it('a member re-added after removal starts over with a fresh progress', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.proposeConfChange(1, ConfChangeRemoveNode, 3);
    c.propose(1, 'while 3 is out');
    c.proposeConfChange(1, ConfChangeAddNode, 3);
    c.tick(3);
    const pr = c.node(1).raft.prs.progress.get(3n)!;
    assert.equal(pr.match, c.node(1).raft.raftLog.lastIndex());
    c.expectConverged();
  });

  it('update-node and node id 0 (a refused change) do not alter the configuration', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.proposeConfChange(1, ConfChangeUpdateNode, 2);
    assert.deepEqual(c.node(1).confState, { voters: [1n, 2n], learners: [] });
    assert.deepEqual(c.node(1).rn.applyConfChange(confChange(ConfChangeRemoveNode, 0)), { voters: [1n, 2n], learners: [] });
  });

  it('removing the last voter is a bug', () => {
    const c = new Cluster([1]);
    assert.throws(() => c.node(1).rn.applyConfChange(confChange(ConfChangeRemoveNode, 1)), /last voter/);
  });

  it('does not campaign while a committed conf change is unapplied (etcd #12133)', () => {
    // Node 2 learns that "add 3" is committed but has not applied it yet.
    const r = newTestRaft(2, [1, 2]);
    r.becomeFollower(1n, 1n);
    r.step(
      newMessage({
        type: MessageType.MsgApp,
        from: 1n,
        to: 2n,
        term: 1n,
        index: 0n,
        logTerm: 0n,
        commit: 2n,
        entries: [newEntry({ index: 1n, term: 1n }), newEntry({ index: 2n, term: 1n, type: EntryType.EntryConfChange, data: confChangeData(ConfChangeAddNode, 3) })],
      }),
    );
    readMessages(r);
    assert.equal(r.hasUnappliedConfChanges(), true);
    r.step(newMessage({ type: MessageType.MsgHup, from: 2n }));
    assert.equal(r.state, 'follower', 'MsgHup is refused');
    r.step(newMessage({ type: MessageType.MsgTimeoutNow, from: 1n, to: 2n, term: 1n }));
    assert.equal(r.state, 'follower', 'a leadership transfer is refused too');
    for (let i = 0; i < 50; i++) r.tick();
    assert.equal(r.state, 'follower', 'the election timeout is refused too');
    // Once applied, it campaigns (now with 3 in its configuration).
    r.raftLog.appliedTo(2n);
    r.applyConfChange(confChange(ConfChangeAddNode, 3));
    r.step(newMessage({ type: MessageType.MsgHup, from: 2n }));
    assert.equal(r.state, 'candidate');
    assert.deepEqual(readMessages(r).map((m) => m.to), [1n, 3n]);
  });

  it('bootstrap: the first Ready carries the membership as committed conf changes', () => {
    const c = new Cluster([]);
    for (const id of [1, 2, 3]) {
      const n = c.addNode(id);
      n.rn.bootstrap([{ id: 1n }, { id: 2n }, { id: 3n }]);
    }
    c.stabilize();
    for (const id of [1, 2, 3]) {
      assert.deepEqual(c.node(id).confState, { voters: [1n, 2n, 3n], learners: [] });
      assert.equal(c.node(id).appliedIndex, 3n);
      assert.deepEqual(c.node(id).storage.initialState().hardState, { term: 1n, vote: 0n, commit: 3n });
    }
    c.tick(30);
    assert.ok(c.leader() !== undefined);
    assert.throws(() => c.node(1).rn.bootstrap([{ id: 1n }]), /nonempty/);
    assert.throws(() => c.addNode(9).rn.bootstrap([]), /at least one peer/);
  });
});
