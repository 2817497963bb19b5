/**
 * The Raft paper (https://raft.github.io/raft.pdf), section by section: each
 * test is named after the sentence of the paper it checks.
 */
import assert from 'node:assert/strict';
import type { Message } from '../../../src/proto/gen/etcdtspb/raft.js';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import type { Raft, StateType } from '../../../src/server/raft/raft.js';
import {
  Cluster,
  MessageType,
  newTestRaft,
  persistAll,
  readMessages,
  storageWithLog,
  type Id,
} from './harness.js';

const msg = (fields: Partial<Message> & { type: MessageType }): Message => newMessage(fields);

function becomeState(r: Raft, state: StateType): void {
  switch (state) {
    case 'follower':
      r.becomeFollower(r.term, 0n);
      break;
    case 'pre-candidate':
      r.becomePreCandidate();
      break;
    case 'candidate':
      r.becomeCandidate();
      break;
    case 'leader':
      r.becomeCandidate();
      r.becomeLeader();
      break;
  }
}

/** Makes r leader of term 1 (with the empty entry at index 1 committed by fiat). */
function leaderOf(ids: Id[], id: Id = 1): Raft {
  const r = newTestRaft(id, ids);
  r.becomeCandidate();
  r.becomeLeader();
  persistAll(r);
  readMessages(r);
  return r;
}

/** Acknowledges everything the leader appended so far, from every follower. */
function commitNoopEntry(r: Raft): void {
  for (const id of r.prs.voterIds()) {
    if (id === r.id) continue;
    r.step(msg({ type: MessageType.MsgAppResp, from: id, to: r.id, term: r.term, index: r.raftLog.lastIndex() }));
  }
  readMessages(r);
  r.raftLog.appliedTo(r.raftLog.committed);
}

function campaignUntilLeader(c: Cluster, id: Id): void {
  for (let i = 0; i < 5 && c.node(id).state !== 'leader'; i++) c.campaign(id);
  c.expectLeader(id);
}

describe('raft paper §5.1: terms', () => {
  for (const state of ['follower', 'candidate', 'leader'] as const) {
    it(`a ${state} that sees a higher term updates its term and reverts to follower`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      becomeState(r, state);
      r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 2n }));
      assert.equal(r.term, 2n);
      assert.equal(r.state, 'follower');
      assert.equal(r.lead, 2n, 'the sender of a MsgApp is the leader');
    });
  }

  it('a vote request with a higher term moves a follower to that term without a leader', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeFollower(1n, 2n);
    r.step(msg({ type: MessageType.MsgVote, from: 3n, to: 1n, term: 5n, logTerm: 1n, index: 9n }));
    assert.equal(r.term, 5n);
    assert.equal(r.lead, 0n);
  });

  it('a server rejects requests with a stale term number', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    r.becomeFollower(2n, 0n);
    const before = r.raftLog.lastIndex();
    r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 1n, logTerm: 0n, index: 0n, entries: [newEntry({ index: 1n, term: 1n })] }));
    assert.equal(r.raftLog.lastIndex(), before);
    assert.deepEqual(readMessages(r), [], 'without check-quorum or pre-vote a stale MsgApp is ignored');
  });
});

describe('raft paper §5.2: leader election', () => {
  it('servers start up as followers', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    assert.equal(r.state, 'follower');
    assert.equal(r.term, 0n);
  });

  it('leaders send periodic heartbeats to all followers', () => {
    const r = leaderOf([1, 2, 3]);
    commitNoopEntry(r);
    for (let i = 0; i < r.heartbeatTimeout; i++) r.tick();
    const msgs = readMessages(r).map((m) => [Number(m.to), m.type, Number(m.term)]);
    assert.deepEqual(msgs, [
      [2, MessageType.MsgHeartbeat, 1],
      [3, MessageType.MsgHeartbeat, 1],
    ]);
  });

  for (const state of ['follower', 'candidate'] as const) {
    it(`a ${state} that hears nothing for an election timeout starts a new election`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      becomeState(r, state);
      const term = r.term;
      for (let i = 0; i < 2 * r.electionTimeout; i++) r.tick();
      assert.equal(r.term, term + 1n);
      assert.equal(r.state, 'candidate');
      assert.equal(r.vote, 1n, 'it votes for itself');
      assert.equal(r.prs.votes.get(1n), true);
      const votes = readMessages(r).filter((m) => m.type === MessageType.MsgVote);
      assert.deepEqual(
        votes.map((m) => [Number(m.to), Number(m.term)]),
        [
          [2, Number(term + 1n)],
          [3, Number(term + 1n)],
        ],
      );
    });
  }

  describe('a candidate wins an election if it receives votes from a majority', () => {
    const cases: Array<{ size: number; votes: Record<number, boolean>; state: StateType }> = [
      { size: 1, votes: {}, state: 'leader' },
      { size: 3, votes: { 2: true, 3: true }, state: 'leader' },
      { size: 3, votes: { 2: true }, state: 'leader' },
      { size: 5, votes: { 2: true, 3: true, 4: true, 5: true }, state: 'leader' },
      { size: 5, votes: { 2: true, 3: true, 4: true }, state: 'leader' },
      { size: 5, votes: { 2: true, 3: true }, state: 'leader' },
      // a majority of rejections ends the candidacy
      { size: 3, votes: { 2: false, 3: false }, state: 'follower' },
      { size: 5, votes: { 2: false, 3: false, 4: false, 5: false }, state: 'follower' },
      { size: 5, votes: { 2: true, 3: false, 4: false, 5: false }, state: 'follower' },
      // no majority either way: still a candidate
      { size: 3, votes: {}, state: 'candidate' },
      { size: 5, votes: { 2: true }, state: 'candidate' },
      { size: 5, votes: { 2: false, 3: false }, state: 'candidate' },
    ];
    for (const c of cases) {
      it(`${c.size} members, votes ${JSON.stringify(c.votes)}: ${c.state}`, () => {
        const ids = Array.from({ length: c.size }, (_, i) => i + 1);
        const r = newTestRaft(1, ids);
        r.step(msg({ type: MessageType.MsgHup, from: 1n, to: 1n }));
        for (const [id, granted] of Object.entries(c.votes)) {
          r.step(msg({ type: MessageType.MsgVoteResp, from: BigInt(id), to: 1n, term: r.term, reject: !granted }));
        }
        assert.equal(r.state, c.state);
        assert.equal(r.term, 1n);
      });
    }
  });

  describe('each server votes for at most one candidate in a given term, first-come-first-served', () => {
    const cases: Array<{ vote: number; nvote: number; reject: boolean }> = [
      { vote: 0, nvote: 2, reject: false },
      { vote: 0, nvote: 3, reject: false },
      { vote: 2, nvote: 2, reject: false },
      { vote: 3, nvote: 3, reject: false },
      { vote: 2, nvote: 3, reject: true },
      { vote: 3, nvote: 2, reject: true },
    ];
    for (const c of cases) {
      it(`voted for ${c.vote}, asked by ${c.nvote}: ${c.reject ? 'reject' : 'grant'}`, () => {
        const r = newTestRaft(1, [1, 2, 3]);
        r.term = 1n;
        r.vote = BigInt(c.vote);
        r.step(msg({ type: MessageType.MsgVote, from: BigInt(c.nvote), to: 1n, term: 1n }));
        const [resp] = readMessages(r);
        assert.equal(resp!.type, MessageType.MsgVoteResp);
        assert.equal(resp!.reject, c.reject);
        assert.equal(resp!.term, 1n);
      });
    }
  });

  for (const term of [1n, 2n]) {
    it(`a candidate that hears from a leader of term ${term} (>= its own) returns to follower`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      r.step(msg({ type: MessageType.MsgHup, from: 1n, to: 1n }));
      assert.equal(r.state, 'candidate');
      r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term }));
      assert.equal(r.state, 'follower');
      assert.equal(r.term, term);
      assert.equal(r.lead, 2n);
    });
  }

  for (const state of ['follower', 'candidate'] as const) {
    it(`a ${state}'s election timeout is random in [electionTimeout, 2*electionTimeout)`, () => {
      const r = newTestRaft(1, [1, 2, 3]);
      const seen = new Set<number>();
      for (let round = 0; round < 50 * r.electionTimeout; round++) {
        becomeState(r, state);
        const term = r.term;
        let ticks = 0;
        while (r.term === term) {
          r.tick();
          ticks++;
          assert.ok(ticks < 2 * r.electionTimeout + 1, 'no election within 2 election timeouts');
        }
        readMessages(r);
        seen.add(ticks);
      }
      for (let t = r.electionTimeout; t < 2 * r.electionTimeout; t++) assert.ok(seen.has(t), `timeout ${t} never drawn`);
      assert.equal(seen.size, r.electionTimeout);
    });
  }

  it('randomized timeouts make it unlikely that two members time out on the same tick', () => {
    let conflicts = 0;
    const rounds = 1000;
    const ids = [1, 2, 3, 4, 5];
    const rafts = ids.map((id) => newTestRaft(id, ids, { seed: 7 }));
    for (let round = 0; round < rounds; round++) {
      for (const r of rafts) r.becomeFollower(r.term + 1n, 0n);
      let timedOut = 0;
      while (timedOut === 0) {
        for (const r of rafts) {
          r.tick();
          if (readMessages(r).length > 0) timedOut++;
        }
      }
      if (timedOut > 1) conflicts++;
    }
    assert.ok(conflicts / rounds < 0.3, `${conflicts} of ${rounds} rounds had simultaneous timeouts`);
  });
});

describe('raft paper §5.3: log replication', () => {
  it('the leader appends the command to its log, then issues AppendEntries to each follower', () => {
    const r = leaderOf([1, 2, 3]);
    commitNoopEntry(r);
    const li = r.raftLog.lastIndex();
    r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('some data') })] }));
    assert.equal(r.raftLog.lastIndex(), li + 1n);
    assert.equal(r.raftLog.committed, li);
    const msgs = readMessages(r);
    assert.deepEqual(
      msgs.map((m) => [Number(m.to), m.type, Number(m.index), Number(m.logTerm), Number(m.commit), m.entries.map((e) => e.data.toString())]),
      [
        [2, MessageType.MsgApp, Number(li), 1, Number(li), ['some data']],
        [3, MessageType.MsgApp, Number(li), 1, Number(li), ['some data']],
      ],
    );
  });

  it('an entry is committed once the leader has replicated it on a majority; then it is applied', () => {
    const r = leaderOf([1, 2, 3]);
    commitNoopEntry(r);
    const li = r.raftLog.lastIndex();
    r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('x') })] }));
    persistAll(r);
    const msgs = readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: msgs[0]!.to, to: 1n, term: 1n, index: li + 1n }));
    assert.equal(r.raftLog.committed, li + 1n);
    const committed = r.raftLog.nextCommittedEntries();
    assert.deepEqual(committed.map((e) => e.data.toString()), ['x']);
    // The new commit index goes out to everyone.
    const out = readMessages(r);
    assert.deepEqual(
      out.map((m) => [Number(m.to), m.type, Number(m.commit)]),
      [
        [2, MessageType.MsgApp, Number(li + 1n)],
        [3, MessageType.MsgApp, Number(li + 1n)],
      ],
    );
  });

  describe('the leader commits when a majority acknowledges', () => {
    const cases: Array<{ size: number; acks: number[]; commit: boolean }> = [
      { size: 1, acks: [], commit: true },
      { size: 3, acks: [], commit: false },
      { size: 3, acks: [2], commit: true },
      { size: 3, acks: [2, 3], commit: true },
      { size: 5, acks: [], commit: false },
      { size: 5, acks: [2], commit: false },
      { size: 5, acks: [2, 3], commit: true },
      { size: 5, acks: [2, 3, 4, 5], commit: true },
    ];
    for (const c of cases) {
      it(`${c.size} members, acks from ${JSON.stringify(c.acks)}: ${c.commit ? 'committed' : 'not committed'}`, () => {
        const ids = Array.from({ length: c.size }, (_, i) => i + 1);
        const r = leaderOf(ids);
        commitNoopEntry(r);
        const li = r.raftLog.lastIndex();
        r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('x') })] }));
        persistAll(r);
        readMessages(r);
        for (const id of c.acks) r.step(msg({ type: MessageType.MsgAppResp, from: BigInt(id), to: 1n, term: 1n, index: li + 1n }));
        assert.equal(r.raftLog.committed > li, c.commit);
      });
    }
  });

  it('committing an entry also commits all preceding entries, including those of previous leaders', () => {
    const tails: Array<Array<[number, number]>> = [[], [[1, 2]], [[1, 1], [2, 2]], [[1, 1]]];
    for (const tail of tails) {
      const storage = storageWithLog([1, 2, 3], tail);
      const r = newTestRaft(1, [1, 2, 3], { storage });
      r.term = 2n;
      r.becomeCandidate();
      r.becomeLeader();
      r.step(msg({ type: MessageType.MsgProp, from: 1n, to: 1n, entries: [newEntry({ data: Buffer.from('some data') })] }));
      for (const m of readMessages(r)) {
        r.step(msg({ type: MessageType.MsgAppResp, from: m.to, to: 1n, term: r.term, index: BigInt(tail.length + 2) }));
      }
      const li = BigInt(tail.length);
      const got = r.raftLog.nextCommittedEntries().map((e) => [Number(e.index), Number(e.term), e.data.toString()]);
      const want = [...tail.map(([i, t]) => [i, t, `e${i}`]), [Number(li + 1n), 3, ''], [Number(li + 2n), 3, 'some data']];
      assert.deepEqual(got, want);
    }
  });

  it('once a follower learns that an entry is committed, it applies it (in log order)', () => {
    const cases: Array<{ ents: Array<[number, number]>; commit: number }> = [
      { ents: [[1, 1]], commit: 1 },
      { ents: [[1, 1], [2, 1]], commit: 2 },
      { ents: [[1, 1], [2, 1]], commit: 1 },
    ];
    for (const c of cases) {
      const r = newTestRaft(1, [1, 2, 3]);
      r.becomeFollower(1n, 2n);
      r.step(
        msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 1n, logTerm: 0n, index: 0n, commit: BigInt(c.commit), entries: c.ents.map(([i, t]) => newEntry({ index: BigInt(i), term: BigInt(t) })) }),
      );
      assert.equal(r.raftLog.committed, BigInt(c.commit));
      assert.deepEqual(r.raftLog.nextCommittedEntries().map((e) => Number(e.index)), c.ents.slice(0, c.commit).map(([i]) => i));
    }
  });

  describe('if the follower does not find an entry with the same index and term, it refuses the new entries', () => {
    const log: Array<[number, number]> = [[1, 1], [2, 2]];
    const cases: Array<{ term: number; index: number; accept: boolean; respIndex: number; hint: number }> = [
      { term: 0, index: 0, accept: true, respIndex: 1, hint: 0 }, // before the log: matches (index 0 is committed)
      { term: 1, index: 1, accept: true, respIndex: 1, hint: 0 },
      { term: 2, index: 2, accept: true, respIndex: 2, hint: 0 },
      { term: 1, index: 2, accept: false, respIndex: 2, hint: 2 }, // term mismatch
      { term: 3, index: 3, accept: false, respIndex: 3, hint: 2 }, // index beyond the log
    ];
    for (const c of cases) {
      it(`MsgApp at ${c.term}/${c.index}: ${c.accept ? 'accepted' : 'rejected'}`, () => {
        const r = newTestRaft(1, [1, 2, 3], { storage: storageWithLog([1, 2, 3], log) });
        r.raftLog.commitTo(1n);
        r.becomeFollower(2n, 2n);
        r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 2n, logTerm: BigInt(c.term), index: BigInt(c.index) }));
        const [resp] = readMessages(r);
        assert.equal(resp!.type, MessageType.MsgAppResp);
        assert.equal(resp!.reject, !c.accept);
        assert.equal(resp!.index, BigInt(c.respIndex));
        assert.equal(resp!.rejectHint, BigInt(c.hint));
      });
    }
  });

  describe('a follower deletes an existing entry that conflicts with a new one, and all that follow it', () => {
    const cases: Array<{ index: number; term: number; ents: Array<[number, number]>; want: Array<[number, number]>; unstable: Array<[number, number]> }> = [
      { index: 2, term: 2, ents: [[3, 3]], want: [[1, 1], [2, 2], [3, 3]], unstable: [[3, 3]] },
      { index: 1, term: 1, ents: [[2, 3], [3, 4]], want: [[1, 1], [2, 3], [3, 4]], unstable: [[2, 3], [3, 4]] },
      { index: 0, term: 0, ents: [[1, 1]], want: [[1, 1], [2, 2]], unstable: [] },
      { index: 0, term: 0, ents: [[1, 3]], want: [[1, 3]], unstable: [[1, 3]] },
    ];
    for (const c of cases) {
      it(`append after ${c.term}/${c.index}: ${JSON.stringify(c.ents)}`, () => {
        const r = newTestRaft(1, [1, 2, 3], { storage: storageWithLog([1, 2, 3], [[1, 1], [2, 2]]) });
        r.becomeFollower(2n, 2n);
        r.step(
          msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 2n, logTerm: BigInt(c.term), index: BigInt(c.index), entries: c.ents.map(([i, t]) => newEntry({ index: BigInt(i), term: BigInt(t) })) }),
        );
        assert.deepEqual(r.raftLog.allEntries().map((e) => [Number(e.index), Number(e.term)]), c.want);
        assert.deepEqual(r.raftLog.unstableEntries().map((e) => [Number(e.index), Number(e.term)]), c.unstable);
      });
    }
  });

  describe('the leader brings every follower log of Figure 7 into consistency with its own', () => {
    // Terms of entries 1..n. The leader (term 8) has the top log of Figure 7.
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const logOf = (terms: number[]): Array<[number, number]> => terms.map((t, i) => [i + 1, t]);
    for (const [name, terms] of Object.entries(followers)) {
      it(`follower (${name})`, () => {
        const storages = new Map([
          [1, storageWithLog([1, 2, 3], logOf(leaderLog))],
          [2, storageWithLog([1, 2, 3], logOf(terms))],
          // A third member with the leader's log, so the leader can win term 8.
          [3, storageWithLog([1, 2, 3], logOf(leaderLog))],
        ]);
        for (const s of storages.values()) s.setHardState({ term: 7n, vote: 0n, commit: 0n });
        const c = new Cluster([1, 2, 3], { storages });
        c.node(1).raft.raftLog.commitTo(BigInt(leaderLog.length));
        c.node(3).raft.raftLog.commitTo(BigInt(leaderLog.length));
        c.campaign(1);
        c.expectLeader(1);
        c.propose(1, 'after');
        const terms1 = c.node(1).raft.raftLog.allEntries().map((e) => Number(e.term));
        const terms2 = c.node(2).raft.raftLog.allEntries().map((e) => Number(e.term));
        assert.deepEqual(terms2, terms1);
        assert.deepEqual(terms1, [...leaderLog, 8, 8]);
      });
    }
  });
});

describe('raft paper §5.4: safety', () => {
  it('a vote request carries the index and term of the candidate’s last log entry', () => {
    const cases: Array<{ ents: Array<[number, number]>; wterm: number }> = [
      { ents: [[1, 1]], wterm: 2 },
      { ents: [[1, 1], [2, 2]], wterm: 3 },
    ];
    for (const c of cases) {
      const r = newTestRaft(1, [1, 2, 3]);
      r.step(msg({ type: MessageType.MsgApp, from: 2n, to: 1n, term: BigInt(c.wterm - 1), logTerm: 0n, index: 0n, entries: c.ents.map(([i, t]) => newEntry({ index: BigInt(i), term: BigInt(t) })) }));
      readMessages(r);
      for (let i = 0; i < 2 * r.electionTimeout; i++) r.tick();
      const votes = readMessages(r).filter((m) => m.type === MessageType.MsgVote);
      assert.equal(votes.length, 2);
      for (const m of votes) {
        assert.equal(m.term, BigInt(c.wterm));
        assert.equal(m.index, BigInt(c.ents.length));
        assert.equal(m.logTerm, BigInt(c.ents[c.ents.length - 1]![1]));
      }
    }
  });

  describe('the voter denies its vote if its own log is more up-to-date than the candidate’s', () => {
    const cases: Array<{ log: Array<[number, number]>; term: number; index: number; reject: boolean }> = [
      // same last term
      { log: [[1, 1]], term: 1, index: 1, reject: false },
      { log: [[1, 1]], term: 1, index: 2, reject: false },
      { log: [[1, 1], [2, 1]], term: 1, index: 1, reject: true },
      // candidate with a higher last term
      { log: [[1, 1]], term: 2, index: 1, reject: false },
      { log: [[1, 1]], term: 2, index: 2, reject: false },
      { log: [[1, 1], [2, 1]], term: 2, index: 1, reject: false },
      // voter with a higher last term
      { log: [[1, 2]], term: 1, index: 1, reject: true },
      { log: [[1, 2]], term: 1, index: 2, reject: true },
      { log: [[1, 2], [2, 1]], term: 1, index: 1, reject: true },
    ];
    for (const c of cases) {
      it(`voter log ${JSON.stringify(c.log)}, candidate last ${c.term}/${c.index}: ${c.reject ? 'deny' : 'grant'}`, () => {
        const r = newTestRaft(1, [1, 2], { storage: storageWithLog([1, 2], c.log) });
        r.step(msg({ type: MessageType.MsgVote, from: 2n, to: 1n, term: 3n, logTerm: BigInt(c.term), index: BigInt(c.index) }));
        const [resp] = readMessages(r);
        assert.equal(resp!.type, MessageType.MsgVoteResp);
        assert.equal(resp!.reject, c.reject);
      });
    }
  });

  describe('the leader commits only entries of its current term by counting replicas', () => {
    // Log [1/1 2/2]; the leader of term 3 appends its empty entry at index 3.
    const cases: Array<{ index: number; commit: number }> = [
      { index: 1, commit: 0 }, // an old-term entry replicated on a majority: not committed
      { index: 2, commit: 0 },
      { index: 3, commit: 3 }, // the current-term entry: commits everything before it
    ];
    for (const c of cases) {
      it(`majority acknowledges index ${c.index}: commit ${c.commit}`, () => {
        const storage = storageWithLog([1, 2], [[1, 1], [2, 2]]);
        const r = newTestRaft(1, [1, 2], { storage });
        r.term = 2n;
        r.becomeCandidate();
        r.becomeLeader();
        persistAll(r);
        readMessages(r);
        r.step(msg({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: r.term, index: BigInt(c.index) }));
        assert.equal(r.raftLog.committed, BigInt(c.commit));
      });
    }
  });

  it('Figure 8: an old-term entry on a majority is not committed, and a later leader may overwrite it', () => {
    // One entry per MsgApp, so that replication of the old entry and of the
    // new leader's own entry can be told apart.
    const c = new Cluster([1, 2, 3, 4, 5], { maxSizePerMsgBytes: 1 });
    c.campaign(1);
    c.propose(1, 'warmup');
    // (a) S1 leads term 1 and gets index 3 onto S2 only.
    c.isolate(3);
    c.isolate(4);
    c.isolate(5);
    c.propose(1, 'term1-entry');
    const oldIndex = c.node(2).raft.raftLog.lastIndex();
    assert.equal(c.node(1).raft.raftLog.committed, oldIndex - 1n);
    // (b) S1 crashes; S5 wins term 2 with S3 and S4, but none of its entries leave it.
    c.stop(1);
    c.recover();
    c.isolate(2);
    c.drop(MessageType.MsgApp);
    campaignUntilLeader(c, 5);
    c.isolate(5);
    c.propose(5, 's5-entry');
    // (c) S5 crashes; S1 restarts, wins a later term and copies its old entry to a majority,
    // but its own entry of the new term is held back.
    c.stop(5);
    c.recover();
    c.restart(1);
    c.rewrite = (m) => (m.type === MessageType.MsgApp ? { ...m, entries: m.entries.filter((e) => e.term !== c.node(1).raft.term) } : m);
    campaignUntilLeader(c, 1);
    const holders = [1, 2, 3, 4].filter((id) => c.node(id).raft.raftLog.matchTerm(oldIndex, 1n));
    assert.deepEqual(holders, [1, 2, 3, 4], 'the old entry is on a majority');
    assert.equal(c.node(1).raft.raftLog.committed, oldIndex - 1n, 'but it is not committed by counting');
    // (d) S1 crashes again; S5 (last term 2) can win and overwrite index 3 everywhere.
    c.stop(1);
    c.rewrite = undefined;
    c.restart(5);
    campaignUntilLeader(c, 5);
    c.restart(1);
    c.tick(30);
    for (const id of [1, 2, 3, 4, 5]) {
      assert.ok(!c.node(id).applied.includes('term1-entry'), `node ${id} applied the uncommitted old entry`);
      assert.ok(c.node(id).applied.includes('s5-entry'), `node ${id} misses s5's entry`);
    }
    c.expectConverged();
  });
});
