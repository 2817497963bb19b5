import assert from 'node:assert/strict';
import { Inflights } from '../../../src/server/raft/tracker/inflights.js';
import { Progress } from '../../../src/server/raft/tracker/progress.js';

describe('raft tracker: inflights', () => {
  it('fills up to its capacity and then refuses more', () => {
    const inf = new Inflights(3);
    inf.add(1n);
    inf.add(2n);
    assert.equal(inf.full(), false);
    inf.add(3n);
    assert.equal(inf.full(), true);
    assert.throws(() => inf.add(4n), /full/);
  });

  it('frees every message up to an acknowledged index, wrapping around the ring', () => {
    const inf = new Inflights(4);
    for (const i of [1n, 2n, 3n, 4n]) inf.add(i);
    inf.freeLE(2n);
    assert.deepEqual(inf.toArray(), [3n, 4n]);
    inf.add(5n);
    inf.add(6n);
    assert.deepEqual(inf.toArray(), [3n, 4n, 5n, 6n]);
    inf.freeLE(5n);
    assert.deepEqual(inf.toArray(), [6n]);
    inf.freeLE(1n); // stale ack: nothing happens
    assert.deepEqual(inf.toArray(), [6n]);
    inf.freeLE(100n);
    assert.equal(inf.count, 0);
  });

  it('frees the first slot on a heartbeat response', () => {
    const inf = new Inflights(2);
    inf.add(5n);
    inf.add(9n);
    inf.freeFirstOne();
    assert.deepEqual(inf.toArray(), [9n]);
    inf.freeFirstOne();
    inf.freeFirstOne();
    assert.equal(inf.count, 0);
  });

  it('refuses indexes that do not increase', () => {
    const inf = new Inflights(4);
    inf.add(5n);
    assert.throws(() => inf.add(5n), /does not increase/);
  });

  it('clones and resets', () => {
    const inf = new Inflights(4);
    inf.add(1n);
    inf.add(2n);
    const c = inf.clone();
    inf.reset();
    assert.equal(inf.count, 0);
    assert.deepEqual(c.toArray(), [1n, 2n]);
  });
});

describe('raft tracker: progress', () => {
  const pr = (state: 'probe' | 'replicate' | 'snapshot', match: bigint, next: bigint): Progress => {
    const p = new Progress(next, 4, false);
    p.match = match;
    if (state === 'replicate') {
      p.becomeReplicate();
      p.next = next;
    }
    if (state === 'snapshot') p.becomeSnapshot(10n);
    return p;
  };

  it('only accepts newer acknowledgements and unpauses a probe', () => {
    const p = pr('probe', 5n, 6n);
    p.probeSent = true;
    assert.equal(p.maybeUpdate(4n), false);
    assert.equal(p.probeSent, true);
    assert.equal(p.maybeUpdate(7n), true);
    assert.equal(p.match, 7n);
    assert.equal(p.next, 8n);
    assert.equal(p.probeSent, false);
  });

  describe('rejection handling (maybeDecrTo)', () => {
    const cases = [
      // replicate: a rejection at or below match is stale
      { state: 'replicate', match: 5n, next: 10n, rejected: 5n, hint: 5n, ok: false, next2: 10n },
      // replicate: otherwise fall back to match+1
      { state: 'replicate', match: 5n, next: 10n, rejected: 9n, hint: 9n, ok: true, next2: 6n },
      // probe: only the answer to the latest probe counts
      { state: 'probe', match: 0n, next: 10n, rejected: 5n, hint: 5n, ok: false, next2: 10n },
      // probe: jump to the follower's last index + 1
      { state: 'probe', match: 0n, next: 10n, rejected: 9n, hint: 3n, ok: true, next2: 4n },
      // probe: index 0 always matches, so a rejection of it is stale
      { state: 'probe', match: 0n, next: 1n, rejected: 0n, hint: 0n, ok: false, next2: 1n },
      // probe: a hint beyond the rejected index does not move next forward
      { state: 'probe', match: 0n, next: 10n, rejected: 9n, hint: 20n, ok: true, next2: 9n },
      // probe: a stale hint never takes next to or below match
      { state: 'probe', match: 64n, next: 66n, rejected: 65n, hint: 62n, ok: true, next2: 65n },
      // probe: a rejection at or below match is stale
      { state: 'probe', match: 5n, next: 6n, rejected: 5n, hint: 2n, ok: false, next2: 6n },
    ] as const;
    for (const c of cases) {
      it(`${c.state} match=${c.match} next=${c.next} rejected=${c.rejected} hint=${c.hint}`, () => {
        const p = pr(c.state, c.match, c.next);
        p.probeSent = true;
        assert.equal(p.maybeDecrTo(c.rejected, c.hint), c.ok);
        assert.equal(p.next, c.next2);
        if (c.ok && c.state === 'probe') assert.equal(p.probeSent, false);
      });
    }
  });

  it('pauses per state: probe after sending, replicate when the window is full, snapshot always', () => {
    const probe = pr('probe', 0n, 1n);
    assert.equal(probe.isPaused(), false);
    probe.probeSent = true;
    assert.equal(probe.isPaused(), true);
    const rep = pr('replicate', 0n, 1n);
    for (const i of [1n, 2n, 3n]) rep.inflights.add(i);
    assert.equal(rep.isPaused(), false);
    rep.inflights.add(4n);
    assert.equal(rep.isPaused(), true);
    assert.equal(pr('snapshot', 0n, 1n).isPaused(), true);
  });

  it('resumes probing after a snapshot from the snapshot index', () => {
    const p = pr('snapshot', 1n, 2n);
    p.becomeProbe();
    assert.equal(p.state, 'probe');
    assert.equal(p.next, 11n);
    assert.equal(p.pendingSnapshot, 0n);
  });

  it('renders itself for logs', () => {
    const p = pr('replicate', 3n, 4n);
    p.isLearner = true;
    p.recentActive = false;
    p.inflights.add(5n);
    assert.equal(p.toString(), 'replicate match=3 next=4 learner inactive inflight=1');
    const s = pr('snapshot', 0n, 1n);
    assert.match(s.toString(), /snapshot match=0 next=1 paused pendingSnap=10/);
    assert.doesNotThrow(() => p.assertInvariants());
  });
});
