/**
 * Log replication beyond the paper: flow control (probe / replicate /
 * inflights), message size limits, proposal forwarding and dropping, the
 * uncommitted-tail limit, heartbeats and unreachable peers.
 */
import assert from 'node:assert/strict';
import type { Raft } from '../../../src/server/raft/raft.js';
import { ProposalDroppedError } from '../../../src/server/raft/errors.js';
import { newEntry, newMessage } from '../../../src/server/raft/messages.js';
import { Cluster, MessageType, newTestRaft, readMessages, type NodeOptions } from './harness.js';

function leader(ids: number[], o: NodeOptions = {}): Raft {
  const r = newTestRaft(1, ids, o);
  r.becomeCandidate();
  r.becomeLeader();
  readMessages(r);
  return r;
}

function propose(r: Raft, data = 'somedata'): void {
  r.step(newMessage({ type: MessageType.MsgProp, from: r.id, to: r.id, entries: [newEntry({ data: Buffer.from(data) })] }));
}

const appResp = (from: bigint, term: bigint, index: bigint, reject = false, hint = 0n) =>
  newMessage({ type: MessageType.MsgAppResp, from, to: 1n, term, index, reject, rejectHint: hint });

describe('raft replication: flow control', () => {
  it('in replicate state the leader streams until the inflights window is full', () => {
    const r = leader([1, 2], { maxInflightMsgs: 3 });
    const pr = r.prs.progress.get(2n)!;
    // Move 2 to replicate by acknowledging the leader's first entry.
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    assert.equal(pr.state, 'replicate');
    for (let i = 0; i < 3; i++) {
      propose(r);
      assert.equal(readMessages(r).length, 1, `proposal ${i} sends a MsgApp`);
    }
    assert.equal(pr.inflights.full(), true);
    for (let i = 0; i < 5; i++) {
      propose(r);
      assert.deepEqual(readMessages(r), [], 'a full window sends nothing');
    }
  });

  it('acknowledgements move the window forward', () => {
    const r = leader([1, 2], { maxInflightMsgs: 3 });
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    const first = r.raftLog.lastIndex();
    for (let i = 0; i < 4; i++) propose(r);
    assert.equal(readMessages(r).length, 3, 'the fourth proposal waits for a free slot');
    const pr = r.prs.progress.get(2n)!;
    for (let k = 1n; k <= 3n; k++) {
      // Acknowledging one more index frees one slot, which the waiting entry takes.
      r.step(appResp(2n, r.term, first + k));
      const sent = readMessages(r).flatMap((m) => m.entries.map((e) => e.index));
      assert.deepEqual(sent, [first + k + 3n]);
      assert.equal(pr.inflights.full(), true);
      propose(r);
      assert.deepEqual(readMessages(r), [], 'a full window sends nothing');
    }
  });

  it('a heartbeat response frees one slot of a full window', () => {
    const r = leader([1, 2], { maxInflightMsgs: 3 });
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    for (let i = 0; i < 3; i++) propose(r);
    readMessages(r);
    const pr = r.prs.progress.get(2n)!;
    for (let tick = 0; tick < 3; tick++) {
      assert.equal(pr.inflights.full(), true);
      r.step(newMessage({ type: MessageType.MsgHeartbeatResp, from: 2n, to: 1n, term: r.term }));
      assert.equal(pr.inflights.full(), false);
      readMessages(r);
      propose(r);
      assert.equal(readMessages(r).length, 1, 'the freed slot is used by the next proposal');
    }
    assert.equal(pr.inflights.full(), true);
  });

  it('in probe state the leader sends one MsgApp and waits (until a heartbeat response)', () => {
    const r = leader([1, 2]);
    const pr = r.prs.progress.get(2n)!;
    assert.equal(pr.state, 'probe');
    propose(r);
    propose(r);
    propose(r);
    const msgs = readMessages(r);
    assert.equal(msgs.filter((m) => m.to === 2n && m.entries.length > 0).length, 1, 'one probe with entries');
    assert.equal(pr.probeSent, true);
    // A heartbeat response proves it is alive: probe again.
    r.step(newMessage({ type: MessageType.MsgHeartbeatResp, from: 2n, to: 1n, term: r.term }));
    assert.equal(readMessages(r).filter((m) => m.type === MessageType.MsgApp).length, 1);
  });

  it('the leader sends an empty MsgApp (a probe without entries) when nothing is new', () => {
    const r = leader([1, 2]);
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    r.sendAppend(2n);
    const [m] = readMessages(r);
    assert.equal(m!.type, MessageType.MsgApp);
    assert.equal(m!.entries.length, 0);
    assert.equal(r.maybeSendAppend(2n, false), false);
  });

  it('a rejection in replicate state goes back to probing from the match index', () => {
    const r = leader([1, 2]);
    const pr = r.prs.progress.get(2n)!;
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    propose(r);
    propose(r);
    readMessages(r);
    assert.equal(pr.state, 'replicate');
    r.step(appResp(2n, r.term, r.raftLog.lastIndex() - 1n, true, 1n));
    assert.equal(pr.state, 'probe');
    const [m] = readMessages(r);
    assert.equal(m!.index, pr.match);
  });

  it('a stale rejection is ignored', () => {
    const r = leader([1, 2]);
    const pr = r.prs.progress.get(2n)!;
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    r.step(appResp(2n, r.term, pr.match, true, 0n));
    assert.equal(pr.state, 'replicate');
    assert.deepEqual(readMessages(r), []);
  });

  it('an unreachable follower in replicate state goes back to probe', () => {
    const r = leader([1, 2]);
    const pr = r.prs.progress.get(2n)!;
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    propose(r);
    readMessages(r);
    assert.equal(pr.state, 'replicate');
    r.step(newMessage({ type: MessageType.MsgUnreachable, from: 2n, to: 1n }));
    assert.equal(pr.state, 'probe');
    assert.equal(pr.next, pr.match + 1n);
  });

  it('messages are split by maxSizePerMsgBytes, but always carry at least one entry', () => {
    const c = new Cluster([1, 2, 3], { maxSizePerMsgBytes: 100 });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.propose(1, `entry-${i}-${'x'.repeat(40)}`);
    c.recover();
    c.delivered = [];
    c.tick(2);
    c.expectConverged();
    const appsTo3 = c.delivered.filter((d) => d.startsWith('1->3 MsgApp') && d.includes('Entries'));
    assert.ok(appsTo3.length >= 5, `catch-up took ${appsTo3.length} messages`);
    for (const d of appsTo3) assert.ok((d.match(/EntryNormal/g) ?? []).length <= 2, d);
  });

  it('heartbeats carry min(match, commit), so a lagging follower never commits past what it holds', () => {
    const r = leader([1, 2, 3]);
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    propose(r);
    propose(r);
    readMessages(r);
    r.step(appResp(2n, r.term, r.raftLog.lastIndex()));
    readMessages(r);
    r.step(newMessage({ type: MessageType.MsgBeat, from: 1n }));
    const hbs = readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat);
    assert.deepEqual(
      hbs.map((m) => [Number(m.to), Number(m.commit)]),
      [
        [2, Number(r.raftLog.committed)],
        [3, 0],
      ],
    );
  });

  it('a follower answers a MsgApp below its commit index with its commit index', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.propose(1, 'a');
    const f = c.node(2).raft;
    f.step(newMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: f.term, index: 0n, logTerm: 0n }));
    const [resp] = readMessages(f);
    assert.equal(resp!.index, f.raftLog.committed);
    assert.equal(resp!.reject, false);
  });
});

describe('raft replication: proposals', () => {
  it('a follower forwards proposals to the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.propose(2, 'from a follower');
    c.expectConverged();
    assert.ok(c.node(3).applied.includes('from a follower'));
  });

  it('proposals are dropped (ProposalDroppedError) when there is no leader', () => {
    const c = new Cluster([1, 2, 3]);
    assert.throws(() => c.node(1).rn.propose(Buffer.from('x')), ProposalDroppedError);
    c.isolate(1);
    c.campaign(1);
    c.expectState(1, 'candidate');
    assert.throws(() => c.node(1).rn.propose(Buffer.from('x')), (e: unknown) => e instanceof ProposalDroppedError && /no leader/.test(e.message));
  });

  it('with forwarding disabled a follower drops proposals', () => {
    const r = newTestRaft(2, [1, 2]);
    (r as { disableProposalForwarding: boolean }).disableProposalForwarding = true;
    r.becomeFollower(1n, 1n);
    assert.throws(() => propose(r), /forwarding is disabled/);
  });

  it('a forwarded proposal the leader cannot accept is dropped silently', () => {
    const c = new Cluster([1, 2]);
    c.campaign(1);
    c.node(1).rn.transferLeader(2n);
    c.cut(1, 2);
    // The leader is transferring; a forwarded proposal arrives through the network.
    c.node(1).rn.step(newMessage({ type: MessageType.MsgProp, from: 2n, to: 1n, entries: [newEntry({ data: Buffer.from('x') })] }));
    assert.ok(!c.node(1).raft.raftLog.allEntries().some((e) => e.data.toString() === 'x'));
  });

  it('the leader refuses proposals beyond maxUncommittedEntriesBytes until entries commit', () => {
    const r = leader([1, 2, 3], { maxUncommittedEntriesBytes: 100 });
    const data = 'x'.repeat(40);
    propose(r, data);
    propose(r, data);
    assert.throws(() => propose(r, data), /too many uncommitted entries/);
    readMessages(r);
    // Commit the two proposals: the budget frees up.
    for (const id of [2n, 3n]) r.step(appResp(id, r.term, r.raftLog.lastIndex()));
    const committed = r.raftLog.nextCommittedEntries();
    r.advance(committed[committed.length - 1]!.index, committed, undefined, undefined);
    assert.equal(r.uncommittedSize, 0);
    propose(r, data);
  });

  it('an empty uncommitted tail accepts one proposal of any size', () => {
    const r = leader([1, 2, 3], { maxUncommittedEntriesBytes: 10 });
    propose(r, 'y'.repeat(1000));
    assert.throws(() => propose(r, 'z'), ProposalDroppedError);
  });

  it('a proposal without entries is a bug', () => {
    const r = leader([1, 2]);
    assert.throws(() => r.step(newMessage({ type: MessageType.MsgProp, from: 1n })), /empty MsgProp/);
  });

  it('a lagging follower that comes back is caught up', () => {
    const c = new Cluster([1, 2, 3]);
    c.campaign(1);
    c.stop(3);
    for (let i = 0; i < 20; i++) c.propose(1, `v${i}`);
    c.restart(3);
    c.tick(3);
    c.expectConverged();
    assert.equal(c.node(3).applied.length, 20);
  });
});
