import assert from 'node:assert/strict';
import {
  formatViolations, inRange, mergeWatchHistories, validateAgreement, validateAtomic, validateBookmarkable,
  validateConsistent, validateOrdered, validateReliable, validateResumable, validateUnique, validateWatches,
  type CommittedRevision, type WatchEvent, type WatchResponse, type WatchStream,
} from '../../support/lincheck/watch-check.js';

const putEv = (key: string, value: string, rev: number): WatchEvent => ({ type: 'put', key, value, modRevision: rev });
const delEv = (key: string, rev: number): WatchEvent => ({ type: 'delete', key, modRevision: rev });

// rev 2: put a=1 · rev 3: put b=1 · rev 4: txn(put a=2, delete b) · rev 5: put c=1 · rev 6: put a=3
const history: CommittedRevision[] = [
  { revision: 2, events: [putEv('a', '1', 2)] },
  { revision: 3, events: [putEv('b', '1', 3)] },
  { revision: 4, events: [putEv('a', '2', 4), delEv('b', 4)] },
  { revision: 5, events: [putEv('c', '1', 5)] },
  { revision: 6, events: [putEv('a', '3', 6)] },
];

const resp = (events: WatchEvent[], extra: Partial<WatchResponse> = {}): WatchResponse =>
  ({ revision: Math.max(0, ...events.map((e) => e.modRevision)), events, ...extra });
const progress = (revision: number): WatchResponse => ({ revision, events: [], progressNotify: true });

/** A watch on [a, c) from revision 2: it should see revisions 2, 3, 4 and 6. */
function stream(responses: WatchResponse[], extra: Partial<WatchStream> = {}): WatchStream {
  return { name: 'w', key: 'a', rangeEnd: 'c', startRevision: 2, responses, ...extra };
}

const perfect = (): WatchResponse[] => [
  resp([putEv('a', '1', 2)]),
  resp([putEv('b', '1', 3)]),
  resp([putEv('a', '2', 4), delEv('b', 4)]),
  resp([putEv('a', '3', 6)]),
  progress(6),
];

const guarantees = (violations: { guarantee: string }[]) => [...new Set(violations.map((v) => v.guarantee))];

describe('lincheck: watch guarantees', () => {
  it('finds nothing wrong with a complete, ordered stream', () => {
    assert.deepEqual(validateWatches({ streams: [stream(perfect())], history }), []);
  });

  it('filters the committed history by the watched range', () => {
    assert.ok(inRange({ key: 'a', rangeEnd: 'c' }, 'b'));
    assert.ok(!inRange({ key: 'a', rangeEnd: 'c' }, 'c'));
    assert.ok(inRange({ key: 'a', rangeEnd: '\0' }, 'zzz'));
    assert.ok(inRange({ key: 'a' }, 'a') && !inRange({ key: 'a' }, 'ab'));
    assert.ok(inRange({ key: 'pre/', prefix: true }, 'pre/x') && !inRange({ key: 'pre/', prefix: true }, 'pre'));
    const onlyA = stream([resp([putEv('a', '1', 2)]), resp([putEv('a', '2', 4)]), resp([putEv('a', '3', 6)])], { rangeEnd: undefined });
    assert.deepEqual(validateReliable(onlyA, history), []);
  });

  describe('Ordered', () => {
    it('reports an event older than one already delivered', () => {
      const v = validateOrdered(stream([resp([putEv('a', '2', 4), delEv('b', 4)]), resp([putEv('b', '1', 3)])]));
      assert.equal(v.length, 1);
      assert.match(v[0].message, /put b="1" @3 arrived after delete b @4/);
    });

    it('reports the events of a txn out of op order', () => {
      const v = validateOrdered(stream([resp([delEv('b', 4), putEv('a', '2', 4)])], { startRevision: 4 }), history);
      assert.match(formatViolations(v), /\[ordered\] w: revision 4: events for keys \[b,a\] arrived out of op order \[a,b\]/);
    });

    it('reports an event before the requested start revision', () => {
      const v = validateOrdered(stream([resp([putEv('b', '1', 3)])], { startRevision: 4 }));
      assert.match(v[0].message, /older than the start revision 4/);
    });

    it('reports responses after the watch was canceled', () => {
      const v = validateOrdered(stream([resp([putEv('a', '1', 2)]), { revision: 3, events: [], canceled: true }, resp([putEv('b', '1', 3)])]));
      assert.match(v[0].message, /1 response\(s\) after the cancellation/);
    });
  });

  describe('Unique', () => {
    it('reports an event delivered twice', () => {
      const v = validateUnique(stream([resp([putEv('a', '1', 2)]), resp([putEv('a', '1', 2)])]));
      assert.deepEqual(v.map((x) => x.message), ['put a="1" @2 delivered more than once']);
    });
  });

  describe('Reliable', () => {
    it('reports an event skipped between two delivered ones', () => {
      const v = validateReliable(stream([resp([putEv('a', '1', 2)]), resp([putEv('a', '2', 4), delEv('b', 4)])]), history);
      assert.deepEqual(v.map((x) => x.message), ['missing put b="1" @3 (stream covers revisions 2..4)']);
    });

    it('holds a progress notification to the revisions it vouches for', () => {
      const v = validateReliable(stream([resp([putEv('a', '1', 2)]), progress(3)]), history);
      assert.equal(v.length, 1);
      assert.equal(v[0].revision, 3);
    });

    it('starts a "from now" watch after the revision it was created at', () => {
      const fromNow = stream([resp([putEv('a', '2', 4), delEv('b', 4)])], { startRevision: 0, createdRevision: 3 });
      assert.deepEqual(validateReliable(fromNow, history), []);
      const late = stream([resp([putEv('a', '3', 6)])], { startRevision: 0, createdRevision: 3 });
      assert.equal(validateReliable(late, history).length, 2, 'both events of revision 4 are missing');
    });
  });

  describe('Atomic', () => {
    const split = (fragment: boolean) => stream([resp([putEv('a', '2', 4)], { fragment }), resp([delEv('b', 4)])], { startRevision: 4 });

    it('reports a revision split over two responses', () => {
      assert.match(validateAtomic(split(false))[0].message, /revision 4 is split over responses 0 and 1 without the fragment flag/);
    });

    it('accepts a revision split over fragments', () => {
      assert.deepEqual(validateAtomic(split(true)), []);
    });
  });

  describe('Bookmarkable', () => {
    it('reports an event at or below a progress notification that arrives after it', () => {
      const v = validateBookmarkable(stream([resp([putEv('a', '1', 2)]), progress(4), resp([putEv('b', '1', 3)])]));
      assert.match(v[0].message, /put b="1" @3 arrived after a progress notification at 4/);
    });

    it('reports a progress notification sent before all events up to it were', () => {
      const v = validateBookmarkable(stream([resp([putEv('a', '1', 2)]), resp([putEv('b', '1', 3)]), progress(4)]), history);
      assert.equal(v.length, 2);
      assert.match(v[0].message, /progress notification at 4 \(response 2\) came before put a="2" @4/);
    });
  });

  describe('Resumable', () => {
    const first = stream([resp([putEv('a', '1', 2)]), resp([putEv('b', '1', 3)])]);

    it('accepts a watch resumed right after the last delivered revision', () => {
      const second = stream([resp([putEv('a', '2', 4), delEv('b', 4)]), resp([putEv('a', '3', 6)])], { startRevision: 4 });
      assert.deepEqual(validateResumable([first, second], history), []);
    });

    it('reports a resumed watch that skipped a revision', () => {
      const second = stream([resp([putEv('a', '3', 6)])], { startRevision: 4 });
      const v = validateResumable([first, second], history);
      assert.deepEqual(guarantees(v), ['resumable']);
      assert.match(formatViolations(v), /missing put a="2" @4/);
    });

    it('reports a resumed watch that delivered old events again', () => {
      const second = stream([resp([putEv('b', '1', 3)]), resp([putEv('a', '2', 4), delEv('b', 4)])], { startRevision: 4 });
      assert.match(formatViolations(validateResumable([first, second], history)), /link 1 redelivered put b="1" @3/);
    });

    it('blames the harness for resuming at the wrong revision', () => {
      const second = stream([resp([putEv('a', '2', 4), delEv('b', 4)])], { startRevision: 3 });
      assert.match(formatViolations(validateResumable([first, second], history)), /restarted at 3, outside 4\.\.4/);
    });
  });

  describe('Consistent', () => {
    it('reports an event that differs from the committed one', () => {
      const v = validateConsistent(stream([resp([putEv('a', 'X', 2)])]), history);
      assert.match(v[0].message, /put a="X" @2 differs from the committed put a="1" @2/);
    });

    it('reports an event for a write that never happened', () => {
      assert.match(validateConsistent(stream([resp([putEv('a', '9', 9)])]), history)[0].message, /was never committed/);
    });

    it('reports two watchers that saw different events for one revision', () => {
      const v = validateAgreement([stream([resp([putEv('a', '1', 2)])]), stream([resp([putEv('a', '2', 2)])], { name: 'w2' })]);
      assert.match(formatViolations(v), /\[consistent\] w2: put a="2" @2 differs from put a="1" @2 seen by w/);
    });

    it('merges what all watchers saw into one history', () => {
      const merged = mergeWatchHistories([stream(perfect()), stream([resp([putEv('c', '1', 5)])], { key: 'c', rangeEnd: undefined, name: 'c' })]);
      assert.deepEqual(merged, history);
    });
  });

  it('reports each broken guarantee of a bad stream once per kind and runs every check', () => {
    const bad = stream([
      resp([putEv('a', '1', 2)]),
      resp([putEv('a', '1', 2)]),
      resp([putEv('a', '2', 4)]),
      resp([delEv('b', 4)]),
      progress(6),
    ]);
    assert.deepEqual(guarantees(validateWatches({ streams: [bad], history })).sort(), ['atomic', 'bookmarkable', 'reliable', 'unique']);
  });
});
