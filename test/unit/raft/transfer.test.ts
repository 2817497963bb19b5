/**
 * Leadership transfer (Raft thesis §3.10): the leader catches the
 * transferee up, then tells it to campaign at once (MsgTimeoutNow).
 */
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../src/server/raft/errors.js';
import { newMessage } from '../../../src/server/raft/messages.js';
import { Cluster, ConfChangeType, MessageType, confChange, type Id } from './harness.js';

function transfer(c: Cluster, via: Id, to: Id): void {
  c.node(via).rn.transferLeader(BigInt(to));
  c.stabilize();
}

function expectTransferDone(c: Cluster, lead: Id): void {
  c.expectLeader(lead);
  assert.equal(c.node(lead).raft.leadTransferee, 0n);
}

describe('raft leader transfer', () => {
  for (const preVote of [false, true]) {
    it(`to an up-to-date follower${preVote ? ' (pre-vote is skipped)' : ''}, and back`, () => {
      const c = new Cluster([1, 2, 3], { preVote });
      c.campaign(1);
      transfer(c, 1, 2);
      expectTransferDone(c, 2);
      c.expectState(1, 'follower');
      c.propose(2, 'x');
      transfer(c, 2, 1);
      expectTransferDone(c, 1);
      c.expectConverged();
    });
  }

  it('requested at a follower, which forwards it to the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    transfer(c, 2, 2);
    expectTransferDone(c, 2);
  });

  it('works with check-quorum: the transferee’s vote request bypasses the leader lease', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    transfer(c, 1, 2);
    expectTransferDone(c, 2);
  });

  it('to a slow follower: the leader catches it up first', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'missed by 3');
    c.recover();
    c.hold = (m) => m.to === 3n && m.type === MessageType.MsgApp;
    transfer(c, 1, 3);
    assert.equal(c.node(1).raft.leadTransferee, 3n, 'waiting for 3 to catch up');
    c.release();
    expectTransferDone(c, 3);
    assert.ok(c.node(3).applied.includes('missed by 3'));
  });

  it('to a follower that needs a snapshot', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'in the snapshot');
    c.node(1).compact();
    c.recover();
    transfer(c, 1, 3);
    expectTransferDone(c, 3);
    assert.equal(c.node(3).snapshotsRestored, 1);
  });

  it('to itself or to a non-member: ignored', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    transfer(c, 1, 1);
    assert.equal(c.node(1).raft.leadTransferee, 0n);
    transfer(c, 1, 9);
    assert.equal(c.node(1).raft.leadTransferee, 0n);
    c.expectLeader(1);
  });

  it('times out after an election timeout if the transferee never catches up', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'x');
    transfer(c, 1, 3);
    assert.equal(c.node(1).raft.leadTransferee, 3n);
    // Proposals are dropped while the transfer is in flight.
    assert.throws(() => c.node(1).rn.propose(Buffer.from('dropped')), ProposalDroppedError);
    c.tick(c.node(1).raft.heartbeatTimeout, [1]);
    assert.equal(c.node(1).raft.leadTransferee, 3n);
    c.tick(c.node(1).raft.electionTimeout - c.node(1).raft.heartbeatTimeout, [1]);
    expectTransferDone(c, 1);
    c.propose(1, 'accepted again');
    assert.ok(c.node(2).applied.includes('accepted again'));
  });

  it('is abandoned when a higher-term vote request arrives', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    transfer(c, 1, 3);
    c.recover();
    c.campaign(2);
    expectTransferDone(c, 2);
    c.expectState(1, 'follower');
  });

  it('is abandoned when the transferee is removed', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    transfer(c, 1, 3);
    c.node(1).rn.applyConfChange(confChange(ConfChangeType.ConfChangeRemoveNode, 3));
    assert.equal(c.node(1).raft.leadTransferee, 0n);
  });

  it('a second request to the same node is ignored; to another node it replaces the first', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    transfer(c, 1, 3);
    c.tick(1, [1]);
    const elapsed = c.node(1).raft.electionElapsed;
    transfer(c, 1, 3);
    assert.equal(c.node(1).raft.electionElapsed, elapsed, 'the timeout is not restarted');
    transfer(c, 1, 2);
    expectTransferDone(c, 2);
  });

  it('transferring back to the leader itself aborts the transfer', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    transfer(c, 1, 3);
    transfer(c, 1, 1);
    expectTransferDone(c, 1);
  });

  it('a follower without a leader drops the request; a candidate ignores MsgTimeoutNow', () => {
    const c = new Cluster([1, 2, 3]);
    transfer(c, 2, 2);
    assert.equal(c.delivered.length, 0);
    c.isolate(1);
    c.campaign(1);
    c.node(1).rn.step(newMessage({ type: MessageType.MsgTimeoutNow, from: 2n, to: 1n, term: c.node(1).raft.term }));
    c.expectState(1, 'candidate');
  });
});
