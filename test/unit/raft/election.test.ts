/**
 * Elections beyond the paper: pre-vote, check-quorum, disruptive and stuck
 * members, dueling candidates, stale messages.
 */
import assert from 'node:assert/strict';
import { newMessage } from '../../../src/server/raft/messages.js';
import { Cluster, MessageType, newTestRaft, readMessages, type Id } from './harness.js';

const modes = [
  { name: 'without pre-vote', preVote: false },
  { name: 'with pre-vote', preVote: true },
];

describe('raft elections', () => {
  for (const mode of modes) {
    describe(mode.name, () => {
      const cases: Array<{ name: string; size: number; down: Id[]; state: string; term: bigint }> = [
        { name: 'everyone up', size: 3, down: [], state: 'leader', term: 1n },
        { name: 'one of three down', size: 3, down: [3], state: 'leader', term: 1n },
        { name: 'two of three down', size: 3, down: [2, 3], state: 'candidate', term: 1n },
        { name: 'two of four down', size: 4, down: [3, 4], state: 'candidate', term: 1n },
        { name: 'two of five down', size: 5, down: [4, 5], state: 'leader', term: 1n },
      ];
      for (const c of cases) {
        it(`${c.name}: node 1 ends up ${c.state}`, () => {
          const ids = Array.from({ length: c.size }, (_, i) => i + 1);
          const cl = new Cluster(ids, { preVote: mode.preVote });
          for (const id of c.down) cl.stop(id);
          cl.campaign(1);
          // A pre-candidate that cannot win stays a pre-candidate and does not raise its term.
          const want = mode.preVote && c.state === 'candidate' ? 'pre-candidate' : c.state;
          cl.expectState(1, want as 'leader', mode.preVote && c.state === 'candidate' ? 0n : c.term);
        });
      }

      it('every member can become leader in turn', () => {
        const c = new Cluster([1, 2, 3], { preVote: mode.preVote });
        for (const id of [1, 2, 3]) {
          c.campaign(id);
          c.expectLeader(id);
          for (const other of [1, 2, 3].filter((o) => o !== id)) c.expectState(other, 'follower');
        }
      });

      it('dueling candidates: a partitioned candidate with a stale log cannot win after rejoining', () => {
        const c = new Cluster([1, 2, 3], { preVote: mode.preVote });
        c.cut(1, 3);
        c.campaign(1);
        c.campaign(3);
        c.expectLeader(1);
        // Without pre-vote 3 stays a candidate (1 is cut off, 2 already
        // voted). With pre-vote, 2's rejection carries term 1 and 3 follows.
        assert.equal(c.node(3).state, mode.preVote ? 'follower' : 'candidate');
        c.recover();
        // 3's log is behind, so its (pre-)campaign fails; with plain votes it
        // disrupts the term, and 1 must win again.
        c.campaign(3);
        assert.notEqual(c.node(3).state, 'leader');
        c.tick(30);
        assert.ok(c.leader() !== undefined && c.leader() !== 3n);
        c.propose(c.leader()!, 'after');
        c.expectConverged();
      });

      it('a single member campaigns straight to leadership', () => {
        const c = new Cluster([1], { preVote: mode.preVote });
        c.tick(20);
        c.expectLeader(1);
      });

      it('a candidate concedes when the elected leader replicates to it', () => {
        const c = new Cluster([1, 2, 3], { preVote: mode.preVote });
        c.isolate(1);
        c.campaign(1);
        c.campaign(3);
        c.recover();
        c.propose(3, 'force follower');
        c.tick(2);
        c.expectState(1, 'follower');
        assert.equal(c.node(1).raft.lead, 3n);
        c.expectConverged();
      });
    });
  }

  it('a leader ignores MsgHup', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    const term = c.node(1).raft.term;
    c.campaign(1);
    c.expectState(1, 'leader', term);
  });

  it('messages from an older term are ignored (old leader appends after a new election)', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.campaign(2);
    c.campaign(1);
    // A MsgApp from 2's term-2 leadership arrives late at 1 (now leading term 3).
    c.send(newMessage({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 2n, logTerm: 2n, index: 3n, entries: [{ term: 2n, index: 4n, type: 0, data: Buffer.from('stale') }] }));
    c.propose(1, 'fresh');
    assert.ok(!c.node(1).applied.includes('stale'));
    c.expectConverged();
  });

  it('every role steps down when it sees a higher term (vote or append)', () => {
    for (const type of [MessageType.MsgVote, MessageType.MsgApp]) {
      for (const state of ['follower', 'candidate', 'leader'] as const) {
        const r = newTestRaft(1, [1, 2, 3]);
        if (state !== 'follower') r.becomeCandidate();
        if (state === 'leader') r.becomeLeader();
        readMessages(r);
        r.step(newMessage({ type, from: 2n, to: 1n, term: 3n, logTerm: 3n, index: 3n }));
        assert.equal(r.state, 'follower', `${state} on ${MessageType[type]}`);
        assert.equal(r.term, 3n);
        assert.equal(r.lead, type === MessageType.MsgApp ? 2n : 0n);
      }
    }
  });

  it('role transitions that make no sense are refused', () => {
    const r = newTestRaft(1, [1, 2]);
    assert.throws(() => r.becomeLeader(), /follower -> leader/);
    r.becomeCandidate();
    r.becomeLeader();
    assert.throws(() => r.becomeCandidate(), /leader -> candidate/);
    assert.throws(() => r.becomePreCandidate(), /leader -> pre-candidate/);
  });

  describe('vote requests in every role', () => {
    for (const state of ['follower', 'pre-candidate', 'candidate', 'leader'] as const) {
      for (const type of [MessageType.MsgVote, MessageType.MsgPreVote]) {
        it(`a ${state} answers a ${MessageType[type]} for a higher term`, () => {
          const r = newTestRaft(1, [1, 2, 3]);
          r.term = 1n;
          if (state === 'pre-candidate') r.becomePreCandidate();
          if (state === 'candidate' || state === 'leader') r.becomeCandidate();
          if (state === 'leader') r.becomeLeader();
          readMessages(r);
          const term = r.term + 1n;
          r.step(newMessage({ type, from: 2n, to: 1n, term, logTerm: term, index: 42n }));
          const [resp] = readMessages(r);
          assert.equal(resp!.reject, false);
          assert.equal(resp!.term, term);
          if (type === MessageType.MsgVote) {
            assert.equal(r.state, 'follower');
            assert.equal(r.term, term);
            assert.equal(r.vote, 2n);
          } else {
            // A pre-vote changes nothing.
            assert.equal(r.state, state);
            assert.equal(r.term, term - 1n);
          }
        });
      }
    }
  });
});

describe('raft check-quorum', () => {
  it('the leader steps down when it has not heard from a quorum for an election timeout', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    // The first check still sees the answers to its election-time appends;
    // the second finds nobody active.
    c.tick(c.node(1).raft.electionTimeout, [1]);
    c.expectLeader(1);
    c.tick(c.node(1).raft.electionTimeout, [1]);
    c.expectState(1, 'follower');
  });

  it('the leader stays while a quorum is active', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.tick(c.node(1).raft.electionTimeout + 1);
    c.expectLeader(1);
  });

  it('a member within its leader lease ignores vote requests; after the lease it votes', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    // 2 campaigns, but 3 heard from leader 1 recently and ignores it.
    c.campaign(2);
    c.expectState(2, 'candidate');
    // Once 3's lease runs out (no heartbeats from the isolated leader) 2 can win.
    c.tick(c.node(3).raft.electionTimeout, [3]);
    c.campaign(2);
    c.expectLeader(2);
  });

  it('a leader is superseded only after followers have not heard from it for an election timeout', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.stop(1);
    c.campaign(3);
    c.expectState(3, 'candidate', 2n);
    c.tick(c.node(2).raft.electionTimeout, [2]);
    c.campaign(3);
    c.expectLeader(3);
  });

  it('a stuck candidate with a higher term is freed: the leader learns its term and an election follows', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    c.campaign(3);
    c.campaign(3);
    c.expectState(3, 'candidate', 3n);
    assert.equal(c.node(1).raft.term, 1n);
    c.recover();
    // The leader's heartbeat reaches 3 with an older term; 3 answers with its
    // term, which makes the leader step down.
    c.node(1).rn.tick();
    c.node(1).raft.step(newMessage({ type: MessageType.MsgBeat, from: 1n }));
    c.stabilize();
    c.expectState(1, 'follower', 3n);
    c.tick(30);
    assert.ok(c.leader() !== undefined);
  });

  it('a removed or non-promotable member never campaigns, even with check-quorum', () => {
    const c = new Cluster([1, 2], { checkQuorum: true });
    // Node 2 believes it is not a voter.
    c.node(2).raft.prs.progress.delete(2n);
    (c.node(2).raft.prs.config.voters.ids as Set<bigint>).delete(2n);
    assert.equal(c.node(2).raft.promotable(), false);
    c.tick(50, [2]);
    c.expectState(2, 'follower');
    c.campaign(1);
    c.expectLeader(1);
    assert.equal(c.node(2).raft.lead, 1n);
  });
});

describe('raft pre-vote', () => {
  it('a partitioned member does not raise its term, so rejoining does not disrupt the leader', () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'a');
    c.tick(50, [3]);
    c.expectState(3, 'pre-candidate', 1n);
    c.recover();
    c.tick(3);
    c.expectLeader(1);
    assert.equal(c.node(1).raft.term, 1n);
    c.expectConverged();
  });

  it('a pre-candidate whose log is behind is rejected and falls back to follower', () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'a');
    c.recover();
    c.cut(3, 1);
    // 3 missed 'a'; 2 (which has it) rejects 3's pre-vote.
    c.node(2).raft.electionElapsed = 100;
    c.node(2).raft.lead = 0n;
    c.campaign(3);
    assert.notEqual(c.node(3).state, 'leader');
    assert.equal(c.node(3).raft.term, 1n);
  });

  it('a disruptive follower: with pre-vote and check-quorum its higher-term campaign does not depose the leader', () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: true });
    c.campaign(1);
    // 3 times out although the leader is healthy (e.g. it was slow).
    c.node(3).raft.electionElapsed = c.node(3).raft.randomizedElectionTimeout;
    c.node(3).rn.tick();
    c.stabilize();
    c.expectLeader(1);
    assert.equal(c.node(1).raft.term, 1n);
  });

  it('a disruptive follower without pre-vote raises the term and the leader steps down', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    // The leader's heartbeats to 3 are lost, so 3 times out and campaigns.
    c.cut(1, 3);
    c.tick(c.node(3).raft.randomizedElectionTimeout + 1, [3]);
    c.expectState(3, 'candidate', 2n);
    c.recover();
    // The leader's next heartbeat draws a higher-term answer from 3: it steps down.
    c.node(1).raft.step(newMessage({ type: MessageType.MsgBeat, from: 1n }));
    c.stabilize();
    c.expectState(1, 'follower', 2n);
  });

  it('pre-vote with a split vote still elects a leader eventually', () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(1);
    // 2 and 3 both pre-campaign at once and split; ticks resolve it.
    c.node(2).rn.campaign();
    c.node(3).rn.campaign();
    c.stabilize();
    c.tick(40, [2, 3]);
    const lead = c.leader();
    assert.ok(lead === 2n || lead === 3n, `leader ${lead}`);
  });

  it('a member with a smaller term can complete an election after a partition (pre-vote)', () => {
    const c = new Cluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    c.expectLeader(2);
    c.recover();
    // 1 is now behind in term; it can still become leader once 2 is gone.
    c.stop(2);
    for (let i = 0; i < 4 && c.node(1).state !== 'leader'; i++) c.campaign(1);
    c.tick(40, [1, 3]);
    assert.ok(c.leader() === 1n || c.leader() === 3n);
  });
});
