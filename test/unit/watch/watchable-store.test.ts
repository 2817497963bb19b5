import assert from 'node:assert/strict';
import { removeTempDirs } from '../../support/procs.js';
import { formatViolations, validateWatches } from '../../support/lincheck/watch-check.js';
import { b, Fixture, Reader, isProgressNotify } from './harness.js';

describe('watchable store: creating and cancelling watchers', () => {
  let f: Fixture;
  beforeEach(() => {
    f = new Fixture();
  });
  afterEach(() => f.close());
  after(removeTempDirs);

  it('answers a create with created=true, the chosen id and the current revision, before any event', () => {
    f.put('a', '1');
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 1n });
    f.put('a', '2');
    f.sync();
    const [created, ...rest] = r.read();
    assert.equal(id, 0n);
    assert.deepEqual([created!.created, created!.watchId, created!.header!.revision, created!.events.length], [true, 0n, 2n, 0]);
    assert.deepEqual(rest.flatMap((x) => x.events.map((e) => e.kv!.value.toString())), ['1', '2']);
  });

  it('numbers server-chosen ids from 0 per stream and skips ids the client took', () => {
    const s = f.watchable.newStream();
    const other = f.watchable.newStream();
    assert.equal(s.watch({ key: b('a') }), 0n);
    assert.equal(s.watch({ key: b('a'), watchId: 2n }), 2n);
    assert.equal(s.watch({ key: b('a') }), 1n);
    assert.equal(s.watch({ key: b('a') }), 3n);
    assert.equal(other.watch({ key: b('a') }), 0n);
  });

  it('refuses a duplicate client id and an empty range with etcd\'s created+canceled response', () => {
    const r = new Reader(f.watchable.newStream());
    r.stream.watch({ key: b('a'), watchId: 7n });
    assert.equal(r.stream.watch({ key: b('b'), watchId: 7n }), -1n);
    assert.equal(r.stream.watch({ key: b('b'), rangeEnd: b('a') }), -1n);
    const [, dup, empty] = r.read();
    assert.deepEqual([dup!.watchId, dup!.created, dup!.canceled, dup!.cancelReason], [-1n, true, true, 'mvcc: duplicate watch ID provided on the WatchStream']);
    assert.deepEqual([empty!.watchId, empty!.created, empty!.canceled, empty!.cancelReason], [-1n, true, true, 'mvcc: watcher range is empty']);
  });

  it('cancels with canceled=true, sends nothing more for that watcher, and ignores unknown ids', () => {
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a') });
    f.put('a', '1');
    assert.equal(r.stream.cancel(id), true);
    assert.equal(r.stream.cancel(99n), false);
    f.put('a', '2');
    f.sync();
    const got = r.read();
    assert.deepEqual(got.map((x) => [x.created, x.events.length, x.canceled]), [[true, 0, false], [false, 1, false], [false, 0, true]]);
    assert.equal(got[2]!.header!.revision, 2n);
    assert.equal(f.watchable.syncedCount, 0);
  });

  it('frees every watcher of a stream when the stream closes', () => {
    f.put('a', '1');
    const s = f.watchable.newStream();
    s.watch({ key: b('a') });
    s.watch({ key: b('a'), startRevision: 1n });
    assert.deepEqual([f.watchable.syncedCount, f.watchable.unsyncedCount], [1, 1]);
    s.close();
    f.sync();
    assert.deepEqual([f.watchable.syncedCount, f.watchable.unsyncedCount, f.watchable.streamCount], [0, 0, 0]);
  });
});

describe('watchable store: which events a watcher gets', () => {
  let f: Fixture;
  beforeEach(() => {
    f = new Fixture();
  });
  afterEach(() => f.close());

  it('start revision 0 means from the next revision: nothing older', () => {
    f.put('a', 'old');
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 0n });
    f.put('a', 'new');
    f.sync();
    r.read();
    assert.deepEqual(r.events(id), ['PUT a=new@3']);
  });

  it('a past start revision replays the history from there, then continues live', () => {
    f.put('a', '1');
    f.put('a', '2');
    f.put('a', '3');
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 3n });
    f.sync();
    f.put('a', '4');
    r.read();
    assert.deepEqual(r.events(id), ['PUT a=2@3', 'PUT a=3@4', 'PUT a=4@5']);
  });

  it('a future start revision delivers nothing until the store reaches it, then exactly from it (#20221)', () => {
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 4n, progressNotify: true });
    f.put('a', '1');
    r.stream.requestProgress();
    r.stream.progressTick();
    assert.equal(r.read().filter((x) => !x.created).length, 0, 'no progress notification below the start revision');
    f.put('a', '2');
    f.put('a', '3');
    f.put('a', '4');
    f.sync();
    r.read();
    assert.deepEqual(r.events(id), ['PUT a=3@4', 'PUT a=4@5']);
    const progress = r.all.filter(isProgressNotify);
    assert.deepEqual(progress.map((x) => x.header!.revision), [4n], 'the deferred progress request is answered once the start is reached');
  });

  it('keys, prefixes, from-key ("\\0") and the empty key', () => {
    f.put('\u0000', 'zero');
    const r = new Reader(f.watchable.newStream());
    const single = r.stream.watch({ key: b('ab') });
    const prefix = r.stream.watch({ key: b('a'), rangeEnd: b('b') });
    const fromKey = r.stream.watch({ key: b('b'), rangeEnd: Buffer.from([0]) });
    const everything = r.stream.watch({ key: Buffer.alloc(0), rangeEnd: Buffer.from([0]), startRevision: 1n });
    f.put('a', '1', 'ab', '2', 'abc', '3', 'b', '4', 'zz', '5');
    f.sync();
    r.read();
    assert.deepEqual(r.events(single), ['PUT ab=2@3']);
    assert.deepEqual(r.events(prefix), ['PUT a=1@3', 'PUT ab=2@3', 'PUT abc=3@3']);
    assert.deepEqual(r.events(fromKey), ['PUT b=4@3', 'PUT zz=5@3']);
    assert.equal(r.events(everything).length, 6);
  });

  it('NOPUT and NODELETE filters, live and from history', () => {
    f.put('a', '1');
    f.del('a');
    const r = new Reader(f.watchable.newStream());
    const noPut = r.stream.watch({ key: b('a'), startRevision: 1n, noPut: true });
    const noDelete = r.stream.watch({ key: b('a'), startRevision: 1n, noDelete: true });
    f.sync();
    f.put('a', '2');
    f.del('a');
    r.read();
    assert.deepEqual(r.events(noPut), ['DELETE a@3', 'DELETE a@5']);
    assert.deepEqual(r.events(noDelete), ['PUT a=1@2', 'PUT a=2@4']);
  });

  it('prev_kv: the value before each update and delete, none for a creation, live and from history', () => {
    f.put('a', '1');
    f.put('a', '2');
    f.del('a');
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 2n, prevKv: true });
    const plain = r.stream.watch({ key: b('a'), startRevision: 2n });
    f.sync();
    f.put('a', '3');
    f.put('a', '4');
    f.del('a');
    r.read();
    assert.deepEqual(r.events(id), [
      'PUT a=1@2', 'PUT a=2@3 (prev 1@2)', 'DELETE a@4 (prev 2@3)', 'PUT a=3@5', 'PUT a=4@6 (prev 3@5)', 'DELETE a@7 (prev 4@6)',
    ]);
    assert.ok(r.events(plain).every((e) => !e.includes('prev')));
  });

  it('a txn\'s events arrive in one response, in op order (atomic)', () => {
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('k'), rangeEnd: b('l') });
    f.put('k3', 'x', 'k1', 'y', 'k2', 'z');
    f.put('k1', 'again');
    const late = r.stream.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 2n });
    f.sync();
    r.read();
    const byResponse = r.of(id).filter((x) => x.events.length > 0).map((x) => x.events.map((e) => e.kv!.key.toString()));
    assert.deepEqual(byResponse, [['k3', 'k1', 'k2'], ['k1']]);
    assert.deepEqual(r.events(late), ['PUT k3=x@2', 'PUT k1=y@2', 'PUT k2=z@2', 'PUT k1=again@3']);
  });
});

describe('watchable store: compaction', () => {
  let f: Fixture;
  beforeEach(() => {
    f = new Fixture();
  });
  afterEach(() => f.close());

  it('a start revision below the compaction gets compact_revision, canceled, header revision 0', async () => {
    for (let i = 0; i < 5; i++) f.put('a', `${i}`);
    await f.compact(4n);
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 3n });
    f.sync();
    const [created, compacted, ...rest] = r.read();
    assert.equal(created!.watchId, id);
    assert.deepEqual([compacted!.watchId, compacted!.compactRevision, compacted!.canceled, compacted!.header!.revision, compacted!.cancelReason],
      [id, 4n, true, 0n, '']);
    assert.equal(rest.length, 0);
  });

  it('a start revision equal to the compaction revision is served', async () => {
    for (let i = 0; i < 5; i++) f.put('a', `${i}`);
    await f.compact(4n);
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 4n });
    f.sync();
    r.read();
    assert.deepEqual(r.events(id), ['PUT a=2@4', 'PUT a=3@5', 'PUT a=4@6']);
  });

  // Needs the compaction to keep a tombstone whose revision is the compaction
  // revision (etcd #18089, fixed upstream by PR #18274): today
  // KeyIndex.compact drops it and the backend record is deleted.
  it('a start revision equal to a compacted delete still gets the delete (#18089)', async () => {
    f.put('k', 'v2');
    f.put('k', 'v3');
    f.del('k');
    f.put('k', 'v6');
    await f.compact(4n);
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('k'), startRevision: 4n });
    f.sync();
    r.read();
    assert.deepEqual(r.events(id), ['DELETE k@4', 'PUT k=v6@5']);
  });

  it('an unsynced watcher overtaken by a compaction is canceled with compact_revision after what it got', async () => {
    const f2 = new Fixture({ streamQueueBytesMax: 2000, streamCatchUpBelowBytes: 1000 });
    try {
      const r = new Reader(f2.watchable.newStream());
      const id = r.stream.watch({ key: b('a') });
      for (let i = 0; i < 20; i++) f2.put('a', `${i}`);
      assert.equal(f2.watchable.unsyncedCount, 1, 'the full stream made the watcher a victim');
      await f2.compact(f2.store.currentRev);
      f2.sync();
      r.read();
      const mine = r.of(id);
      const last = mine[mine.length - 1]!;
      assert.deepEqual([last.canceled, last.compactRevision], [true, 21n]);
      const revs = mine.flatMap((x) => x.events.map((e) => Number(e.kv!.modRevision)));
      assert.deepEqual(revs, revs.slice().sort((x, y) => x - y));
      assert.ok(revs.length > 0 && revs.length < 20);
    } finally {
      await f2.close();
    }
  });
});

describe('watchable store: progress notifications', () => {
  let f: Fixture;
  beforeEach(() => {
    f = new Fixture();
  });
  afterEach(() => f.close());

  it('a progress request on a synced stream is answered at once with the store revision, watch id -1', () => {
    const r = new Reader(f.watchable.newStream());
    r.stream.watch({ key: b('a') });
    f.put('b', '1');
    r.stream.requestProgress();
    const [, progress] = r.read();
    assert.deepEqual([progress!.watchId, progress!.header!.revision, isProgressNotify(progress!)], [-1n, 2n, true]);
  });

  it('waits while a watcher is unsynced and answers after its catch-up events (#15220)', () => {
    for (let i = 0; i < 10; i++) f.put('a', `${i}`);
    const r = new Reader(f.watchable.newStream());
    const id = r.stream.watch({ key: b('a'), startRevision: 2n });
    r.stream.requestProgress();
    assert.equal(r.read().length, 1, 'only the create response so far');
    f.sync();
    r.read();
    const kinds = r.all.map((x) => (x.created ? 'created' : isProgressNotify(x) ? `progress@${x.header!.revision}` : `events@${x.events.length}`));
    assert.deepEqual(kinds, ['created', 'events@10', 'progress@11']);
    const violations = validateWatches({ streams: [r.checkStream(id, { key: 'a', startRevision: 2 })], history: f.history });
    assert.equal(violations.length, 0, formatViolations(violations));
  });

  it('periodic ticks notify idle progress_notify watchers only, and skip one that just got events', () => {
    const r = new Reader(f.watchable.newStream());
    const notify = r.stream.watch({ key: b('a'), progressNotify: true });
    r.stream.watch({ key: b('b') });
    r.stream.progressTick();
    f.put('a', '1');
    r.stream.progressTick();
    r.stream.progressTick();
    r.read();
    const seen = r.all.filter((x) => !x.created).map((x) => [x.watchId, x.events.length, x.header!.revision]);
    assert.deepEqual(seen, [[notify, 0, 1n], [notify, 1, 2n], [notify, 0, 2n]]);
  });
});

describe('watchable store: slow consumers and the guarantees', function () {
  this.timeout(120_000);
  after(removeTempDirs);

  it('a stream that reads nothing during 50k writes stays bounded, then gets every event once, in order', async () => {
    const cap = 256 * 1024;
    const f = new Fixture({ streamQueueBytesMax: cap, streamCatchUpBelowBytes: cap / 2 });
    try {
      const slow = new Reader(f.watchable.newStream());
      const fast = new Reader(f.watchable.newStream());
      const slowId = slow.stream.watch({ key: b('k'), rangeEnd: b('l'), prevKv: true });
      const fastId = fast.stream.watch({ key: b('k'), rangeEnd: b('l') });
      globalThis.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      let maxQueued = 0;
      for (let i = 0; i < 50_000; i++) {
        f.put(`k${i % 1000}`, `value-${i}`);
        if (i % 1000 === 999) await f.store.backend.commit();
        if (i % 100 === 0) fast.read();
        maxQueued = Math.max(maxQueued, slow.stream.pendingBytes);
      }
      f.sync();
      globalThis.gc?.();
      const heapAfter = process.memoryUsage().heapUsed;
      assert.equal(f.watchable.unsyncedCount, 1, 'the slow watcher waits, unsynced, for its client');
      // Now the client reads; each read makes room for the next catch-up batch.
      while (slow.read().length > 0 || f.sync() > 0) maxQueued = Math.max(maxQueued, slow.stream.pendingBytes);
      assert.ok(maxQueued < cap + 4096, `queue reached ${maxQueued} bytes`);
      fast.read();
      const streams = [
        slow.checkStream(slowId, { key: 'k', rangeEnd: 'l', startRevision: 0, createdRevision: 1 }),
        fast.checkStream(fastId, { key: 'k', rangeEnd: 'l', startRevision: 0, createdRevision: 1 }),
      ];
      assert.equal(streams[0]!.responses.flatMap((x) => x.events).length, 50_000);
      assert.equal(streams[1]!.responses.flatMap((x) => x.events).length, 50_000);
      const violations = validateWatches({ streams, history: f.history });
      assert.equal(violations.length, 0, formatViolations(violations));
      assert.equal(f.watchable.syncedCount, 2);
      console.log(`      slow consumer: max queued ${maxQueued} B (cap ${cap}), victims ${f.watchable.stats.victims}, catch-up rounds ${f.watchable.stats.catchUpRounds} (longest ${f.watchable.stats.catchUpMsMax.toFixed(1)} ms), heap ${(heapBefore / 1048576).toFixed(1)} -> ${(heapAfter / 1048576).toFixed(1)} MiB${globalThis.gc ? '' : ' (no --expose-gc)'}`);
    } finally {
      await f.close();
    }
  });

  it('a full stream only hurts itself: other streams keep getting live events', () => {
    const f = new Fixture({ streamQueueBytesMax: 1024, streamCatchUpBelowBytes: 512 });
    try {
      const stuck = new Reader(f.watchable.newStream());
      const healthy = new Reader(f.watchable.newStream());
      stuck.stream.watch({ key: b('a') });
      const id = healthy.stream.watch({ key: b('a') });
      for (let i = 0; i < 100; i++) {
        f.put('a', `${i}`);
        assert.equal(healthy.read().length, i === 0 ? 2 : 1, 'one response per write, right away');
      }
      assert.equal(healthy.events(id).length, 100);
      assert.ok(stuck.stream.pendingBytes <= 1024 + 1024, 'at most one response past the cap');
    } finally {
      void f.close();
    }
  });

  it('catch-up batches are bounded and never split a revision', () => {
    const f = new Fixture({ catchUpRevisionsMax: 7 });
    try {
      for (let i = 0; i < 100; i++) f.put(`a${i}`, 'x', `b${i}`, 'y');
      const r = new Reader(f.watchable.newStream());
      const id = r.stream.watch({ key: b('a'), rangeEnd: b('c'), startRevision: 1n });
      f.sync();
      r.read();
      const responses = r.of(id).filter((x) => x.events.length > 0);
      assert.equal(responses.length, Math.ceil(100 / 7));
      for (const resp of responses) {
        const revs = new Set(resp.events.map((e) => e.kv!.modRevision));
        assert.ok(revs.size <= 7 && resp.events.length === 2 * revs.size);
      }
    } finally {
      void f.close();
    }
  });

  it('resumes exactly after the last delivered revision on a new stream (resumable)', () => {
    const f = new Fixture();
    try {
      for (let i = 0; i < 30; i++) f.put(`k${i % 3}`, `${i}`);
      const first = new Reader(f.watchable.newStream());
      const a = first.stream.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 5n });
      f.sync();
      first.read();
      for (let i = 30; i < 40; i++) f.put(`k${i % 3}`, `${i}`);
      first.read(3);
      first.stream.close();
      const got = first.of(a).flatMap((x) => x.events);
      const last = Number(got[got.length - 1]!.kv!.modRevision);
      const second = new Reader(f.watchable.newStream());
      const b2 = second.stream.watch({ key: b('k'), rangeEnd: b('l'), startRevision: BigInt(last + 1) });
      f.sync();
      for (let i = 40; i < 50; i++) f.put(`k${i % 3}`, `${i}`);
      second.read();
      const chain = [
        first.checkStream(a, { key: 'k', rangeEnd: 'l', startRevision: 5 }),
        second.checkStream(b2, { key: 'k', rangeEnd: 'l', startRevision: last + 1 }),
      ];
      const violations = validateWatches({ streams: chain, chains: [chain], history: f.history });
      assert.equal(violations.length, 0, formatViolations(violations));
      assert.equal(chain.flatMap((s) => s.responses.flatMap((x) => x.events)).length, 51 - 5 + 1, 'revisions 5..51, each once');
    } finally {
      void f.close();
    }
  });

  it('mixed writers, slow readers and progress requests: all six guarantees hold (bookmarkable included)', () => {
    const f = new Fixture({ streamQueueBytesMax: 2048, streamCatchUpBelowBytes: 1024, catchUpRevisionsMax: 13 });
    try {
      let seed = 7;
      const rand = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const readers = [0, 1, 2].map(() => new Reader(f.watchable.newStream()));
      const watches = readers.map((r, i) => ({ r, id: r.stream.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 1n + BigInt(i) }), start: 1 + i }));
      for (let step = 0; step < 3000; step++) {
        const op = rand(10);
        if (op < 6) f.put(`k${rand(20)}`, `v${step}`);
        else if (op < 7) f.del(`k${rand(20)}`);
        else if (op < 8) readers[rand(3)]!.stream.requestProgress();
        else if (op < 9) readers[rand(3)]!.read(rand(5));
        else f.sync(1);
      }
      while (readers.some((r) => r.read().length > 0) || f.sync() > 0) { /* drain */ }
      for (const r of readers) r.stream.requestProgress();
      for (const r of readers) r.read();
      const streams = watches.map((w) => w.r.checkStream(w.id, { key: 'k', rangeEnd: 'l', startRevision: w.start }));
      assert.ok(streams.every((s) => s.responses.some((x) => x.progressNotify)));
      const violations = validateWatches({ streams, history: f.history });
      assert.equal(violations.length, 0, formatViolations(violations));
      assert.ok(f.watchable.stats.victims > 0, 'the run exercised the slow-consumer path');
    } finally {
      void f.close();
    }
  });
});
