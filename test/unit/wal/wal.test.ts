import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HardState } from '../../../src/proto/gen/etcdtspb/raft.js';
import { armFailpoints, disarmFailpoints, FailpointError } from '../../../src/server/failpoint.js';
import {
  WalClosedError,
  WalCorruptError,
  WalExistsError,
  WalLockedError,
  WalNotFoundError,
  WalRecordTooLargeError,
  WalSnapshotNotFoundError,
} from '../../../src/server/wal/errors.js';
import { Wal } from '../../../src/server/wal/wal.js';
import { readWal } from '../../../src/server/wal/wal-read.js';
import { listSegments } from '../../../src/server/wal/segment-name.js';
import { walRecordBytesMax } from '../../../src/server/constants.js';
import { cleanupTempDirs, entries, entry, hardState, show, tempDir, walFiles } from './helpers.js';

const small = { segmentBytes: 16 * 1024 };
const meta = Buffer.from('cluster=c1 member=m1');
const snap0 = { index: 0n, term: 0n };

describe('wal', () => {
  after(cleanupTempDirs);
  afterEach(disarmFailpoints);

  async function reopen(dir: string, from = snap0, options = small) {
    return Wal.open(dir, from, options);
  }

  it('round-trips metadata, entries and the hard state', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 0n), entries(1n, 3n, 1n));
    await wal.save(hardState(1n, 1n, 3n), entries(4n, 5n, 1n));
    await wal.close();

    const opened = await reopen(dir);
    assert.deepEqual(opened.metadata, meta);
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 3n));
    assert.deepEqual(show(opened.entries), show(entries(1n, 5n, 1n)));
    await opened.wal.close();
  });

  it('creates the WAL atomically: a leftover temporary directory is ignored and replaced', async () => {
    const parent = tempDir();
    const dir = join(parent, 'wal');
    mkdirSync(dir + '.tmp');
    writeFileSync(join(dir + '.tmp', '0000000000000000-0000000000000000.wal'), 'half a WAL');
    assert.equal(await Wal.exists(dir), false);
    const wal = await Wal.create(dir, meta, small);
    await wal.close();
    assert.equal(existsSync(dir + '.tmp'), false);
    assert.deepEqual(walFiles(dir), ['0000000000000000-0000000000000000.wal']);
    assert.equal(statSync(join(dir, walFiles(dir)[0]!)).size, small.segmentBytes, 'segment is preallocated');
    assert.equal(await Wal.exists(dir), true);
  });

  it('refuses to create over an existing WAL, and to open a missing one', async () => {
    const dir = join(tempDir(), 'wal');
    await assert.rejects(reopen(dir), WalNotFoundError);
    const wal = await Wal.create(dir, meta, small);
    await wal.close();
    await assert.rejects(Wal.create(dir, meta, small), WalExistsError);
  });

  it('crashing before the create rename leaves no WAL', async function () {
    const dir = join(tempDir(), 'wal');
    armFailpoints('walBeforeCreateRename=error');
    await assert.rejects(Wal.create(dir, meta, small), FailpointError);
    disarmFailpoints();
    assert.equal(await Wal.exists(dir), false);
    const wal = await Wal.create(dir, meta, small);
    await wal.close();
  });

  it('applies the overwrite rule: a later entry at index i replaces i and everything after it', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 2n), entries(1n, 5n, 1n));
    await wal.save(hardState(2n, 2n, 2n), [entry(3n, 2n, 'new3'), entry(4n, 2n, 'new4')]);
    await wal.save(undefined, [entry(5n, 2n, 'new5'), entry(6n, 2n, 'new6')]);
    await wal.save(undefined, [entry(6n, 2n, 'newer6')]);
    await wal.close();

    const opened = await reopen(dir);
    assert.deepEqual(opened.entries.map((e) => `${e.index}:${e.term}:${e.data}`), [
      '1:1:e1',
      '2:1:e2',
      '3:2:new3',
      '4:2:new4',
      '5:2:new5',
      '6:2:newer6',
    ]);
    await opened.wal.close();
  });

  it('cuts segments when full and reads across them after reopening', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    const payload = Buffer.alloc(300, 7);
    for (let i = 1n; i <= 60n; i++) await wal.save(hardState(1n, 1n, i - 1n), [entry(i, 1n, payload)]);
    await wal.close();

    const names = walFiles(dir);
    assert.ok(names.length >= 5, `expected several segments, got ${names.length}`);
    names.forEach((name, i) => assert.ok(name.startsWith(i.toString(16).padStart(16, '0') + '-'), name));
    for (const name of names.slice(0, -1)) assert.ok(statSync(join(dir, name)).size <= 4096, `${name} stays within its segment`);

    const opened = await reopen(dir, snap0, { segmentBytes: 4096 });
    assert.equal(opened.entries.length, 60);
    assert.deepEqual(opened.entries.map((e) => e.index), Array.from({ length: 60 }, (_, i) => BigInt(i + 1)));
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 59n));
    // The hard state is repeated at the head of each segment: still there after older segments go.
    await opened.wal.close();
  });

  it('gives a record larger than a segment a segment of its own', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    await wal.save(undefined, [entry(1n, 1n, Buffer.alloc(10_000, 1))]);
    await wal.save(undefined, [entry(2n, 1n, 'small')]);
    await wal.close();
    const opened = await reopen(dir, snap0, { segmentBytes: 4096 });
    assert.deepEqual(opened.entries.map((e) => e.data.length), [10_000, 5]);
    await opened.wal.close();
  });

  it('names each new segment after the first index it will hold', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    for (let i = 1n; i <= 30n; i++) await wal.save(undefined, [entry(i, 1n, Buffer.alloc(400, 1))]);
    const names = wal.segmentNames();
    await wal.close();
    const opened = await reopen(dir, snap0, { segmentBytes: 4096 });
    // Segment k+1 starts right after the last entry that fitted in segment k.
    const firstIndexes = names.map((name) => BigInt('0x' + name.slice(17, 33)));
    assert.equal(firstIndexes[0], 0n);
    for (let k = 1; k < firstIndexes.length; k++) assert.ok(firstIndexes[k]! > firstIndexes[k - 1]!);
    assert.ok(firstIndexes.at(-1)! <= 30n);
    await opened.wal.close();
  });

  it('opens from a snapshot: returns only later entries, and needs its marker', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(2n, 1n, 10n), entries(1n, 10n, 2n));
    await wal.saveSnapshot({ index: 6n, term: 2n, confState: { voters: [1n, 2n, 3n], learners: [] } });
    await wal.save(hardState(2n, 1n, 12n), entries(11n, 12n, 2n));
    await wal.close();

    const opened = await reopen(dir, { index: 6n, term: 2n });
    assert.deepEqual(opened.entries.map((e) => e.index), [7n, 8n, 9n, 10n, 11n, 12n]);
    await opened.wal.close();

    await assert.rejects(reopen(dir, { index: 5n, term: 2n }), (err: unknown) => {
      assert.ok(err instanceof WalSnapshotNotFoundError);
      assert.match(err.message, /snapshot marker \{index 5, term 2\} not found/);
      return true;
    });
    await assert.rejects(reopen(dir, { index: 6n, term: 3n }), /marker at that index has term 2/);
  });

  it('lists the committed snapshot markers for choosing a snapshot file', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 5n), entries(1n, 8n, 1n));
    await wal.saveSnapshot({ index: 5n, term: 1n });
    await wal.saveSnapshot({ index: 8n, term: 1n }); // not committed yet: not offered
    const markers = await Wal.readSnapshotMarkers(dir);
    assert.deepEqual(markers.map((m) => `${m.index}/${m.term}`), ['0/0', '5/1']);
    await wal.close();
  });

  it('removes segments older than a snapshot with releaseLockTo, keeping the one that holds it', async () => {
    const dir = join(tempDir(), 'wal');
    const options = { segmentBytes: 4096 };
    const wal = await Wal.create(dir, meta, options);
    for (let i = 1n; i <= 40n; i++) await wal.save(hardState(1n, 1n, i), [entry(i, 1n, Buffer.alloc(300, 2))]);
    const before = wal.segmentNames();
    const firstIndexes = before.map((n) => BigInt('0x' + n.slice(17, 33)));
    const target = firstIndexes[3]! + 1n; // inside the fourth segment
    await wal.saveSnapshot({ index: target, term: 1n });
    const removed = await wal.releaseLockTo(target);
    assert.equal(removed, 3);
    assert.deepEqual(wal.segmentNames(), before.slice(3).concat(wal.segmentNames().slice(before.length - 3)));
    assert.deepEqual(walFiles(dir), wal.segmentNames());
    await wal.save(hardState(1n, 1n, 41n), [entry(41n, 1n, 'after purge')]);
    await wal.close();

    const opened = await reopen(dir, { index: target, term: 1n }, options);
    assert.equal(opened.entries[0]!.index, target + 1n);
    assert.equal(opened.entries.at(-1)!.index, 41n);
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 41n));
    // Snapshot markers are still readable from the remaining segments.
    assert.ok((await Wal.readSnapshotMarkers(dir)).some((m) => m.index === target));
    // The purged start of the log can no longer be opened.
    await opened.wal.close();
    await assert.rejects(reopen(dir, snap0, options), WalSnapshotNotFoundError);
  });

  for (const [filesMax, kept] of [[2, 2], [0, 'all']] as const) {
    it(`keeps ${kept} segment files with filesMax ${filesMax} (etcd --max-wals), however far the snapshot is`, async () => {
      const dir = join(tempDir(), 'wal');
      const wal = await Wal.create(dir, meta, { segmentBytes: 4096, filesMax });
      for (let i = 1n; i <= 80n; i++) await wal.save(hardState(1n, 1n, i), [entry(i, 1n, Buffer.alloc(300, 2))]);
      const before = wal.segmentNames();
      assert.ok(before.length > 4, `${before.length} segments`);
      await wal.saveSnapshot({ index: 80n, term: 1n });
      await wal.releaseLockTo(80n);
      assert.deepEqual(walFiles(dir), filesMax === 0 ? wal.segmentNames() : wal.segmentNames().slice(-2));
      assert.equal(walFiles(dir).length, filesMax === 0 ? before.length : 2);
      await wal.close();
    });
  }

  it('writes without a single fsync under noSync (etcd --unsafe-no-fsync), and reads back the same', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { ...small, noSync: true });
    await wal.save(hardState(1n, 1n, 3n), entries(1n, 3n, 1n));
    assert.equal(wal.stats().syncs, 0);
    await wal.close();
    const opened = await reopen(dir);
    assert.equal(opened.entries.length, 3);
    await opened.wal.close();
  });

  it('never removes the last segment', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(undefined, entries(1n, 3n, 1n));
    assert.equal(await wal.releaseLockTo(1000n), 0);
    assert.equal(walFiles(dir).length, 1);
    await wal.close();
  });

  it('reopens after a clean close and keeps appending where it stopped', async () => {
    const dir = join(tempDir(), 'wal');
    let wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 1n), entries(1n, 2n, 1n));
    await wal.close();
    for (let round = 0n; round < 3n; round++) {
      const opened = await reopen(dir);
      wal = opened.wal;
      const next = BigInt(opened.entries.length) + 1n;
      await wal.save(hardState(1n, 1n, next), [entry(next, 1n)]);
      await wal.close();
    }
    const opened = await reopen(dir);
    assert.deepEqual(show(opened.entries), show(entries(1n, 5n, 1n)));
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 5n));
    await opened.wal.close();
  });

  it('serializes concurrent saves in call order and shares fsyncs between them', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 8192 });
    const calls: Promise<void>[] = [];
    for (let i = 1n; i <= 200n; i++) calls.push(wal.save(hardState(1n, 1n, i), [entry(i, 1n, `concurrent-${i}`)]));
    await Promise.all(calls);
    const stats = wal.stats();
    assert.equal(stats.saves, 200);
    assert.ok(stats.syncs < 50, `200 concurrent saves took ${stats.syncs} fsyncs`);
    await wal.close();
    const opened = await reopen(dir, snap0, { segmentBytes: 8192 });
    assert.deepEqual(show(opened.entries), show(entries(1n, 200n, 1n, 'concurrent-')));
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 200n));
    await opened.wal.close();
  });

  it('does not write a hard state equal to the last one', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 1n), [entry(1n, 1n)]);
    const size = () => statSync(join(dir, walFiles(dir)[0]!)).size;
    const before = size();
    await wal.save(hardState(1n, 1n, 1n), []);
    await wal.save(undefined, []);
    assert.equal(size(), before);
    await wal.close();
  });

  it('writes a hard state that only moves the commit index at once, without an fsync (etcd\'s raft.MustSync)', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(1n, 1n, 0n), entries(1n, 3n, 1n));
    const syncs = wal.stats().syncs;
    await wal.save(hardState(1n, 1n, 3n), []);
    assert.equal(wal.stats().syncs, syncs, 'a commit-only hard state is not synced');
    // Read while the writer is still open, as after a kill: the record is already in the file.
    const read = await readWal((await listSegments(dir)).segments, { from: 0n, collectEntries: false, recordBytesMax: walRecordBytesMax });
    assert.deepEqual(read.hardState, hardState(1n, 1n, 3n));
    // A new term or vote is synced; so is the next append, which covers the unsynced record too.
    await wal.save(hardState(2n, 2n, 3n), []);
    assert.equal(wal.stats().syncs, syncs + 1);
    await wal.save(hardState(2n, 2n, 3n), entries(4n, 4n, 2n));
    assert.equal(wal.stats().syncs, syncs + 2);
    await wal.close();
    const opened = await reopen(dir);
    assert.deepEqual(opened.hardState, hardState(2n, 2n, 3n));
    assert.deepEqual(show(opened.entries), show([...entries(1n, 3n, 1n), ...entries(4n, 4n, 2n)]));
    await opened.wal.close();
  });

  it('refuses records no reader would accept, without writing anything', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await assert.rejects(wal.save(undefined, [entry(1n, 1n, Buffer.alloc(walRecordBytesMax + 1))]), WalRecordTooLargeError);
    await wal.save(undefined, [entry(1n, 1n)]);
    await wal.close();
    const opened = await reopen(dir);
    assert.equal(opened.entries.length, 1);
    await opened.wal.close();
  });

  it('asserts Raft invariants on what it is asked to save', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(hardState(3n, 1n, 2n), entries(1n, 2n, 3n));
    await assert.rejects(wal.save(undefined, [entry(4n, 3n)]), /gap/);
    await assert.rejects(wal.save(undefined, [entry(3n, 3n), entry(5n, 3n)]), /not contiguous/);
    await assert.rejects(wal.save(hardState(2n, 1n, 2n), []), /term went back/);
    await assert.rejects(wal.save(hardState(3n, 1n, 1n), []), /commit went back/);
    await assert.rejects(wal.save(hardState(3n, 2n, 2n), []), /vote changed/);
    await wal.close();
  });

  it('fails every later call after a failed sync (no retried fsync over lost pages)', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(undefined, [entry(1n, 1n)]);
    armFailpoints('walBeforeSync=1*error');
    await assert.rejects(wal.save(undefined, [entry(2n, 1n)]), FailpointError);
    await assert.rejects(wal.save(undefined, [entry(3n, 1n)]), WalClosedError);
    await wal.close();
    await assert.rejects(wal.save(undefined, [entry(3n, 1n)]), /is closed/);
  });

  it('fires its failpoints around syncs and cuts', async () => {
    const dir = join(tempDir(), 'wal');
    for (const name of ['walBeforeSync', 'walAfterSync', 'walBeforeCut', 'walAfterCut']) {
      rmSync(dir, { recursive: true, force: true });
      const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
      armFailpoints(`${name}=error`);
      let fired = false;
      for (let i = 1n; i <= 20n && !fired; i++) {
        try {
          await wal.save(undefined, [entry(i, 1n, Buffer.alloc(500, 1))]);
        } catch (err) {
          assert.ok(err instanceof FailpointError && err.failpoint === name, String(err));
          fired = true;
        }
      }
      disarmFailpoints();
      assert.ok(fired, `${name} fired`);
      await wal.close();
    }
  });

  it('holds a single-writer lock on the directory', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await assert.rejects(reopen(dir), WalLockedError);
    await wal.close();
    const opened = await reopen(dir);
    await opened.wal.close();
    // A lock left by a process that no longer exists is stale.
    writeFileSync(join(dir, 'LOCK'), '999999999\n');
    const again = await reopen(dir);
    await again.wal.close();
  });

  it('refuses a WAL with a missing segment in the middle', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    for (let i = 1n; i <= 30n; i++) await wal.save(undefined, [entry(i, 1n, Buffer.alloc(400, 3))]);
    await wal.close();
    const names = walFiles(dir);
    assert.ok(names.length >= 3);
    unlinkSync(join(dir, names[1]!));
    await assert.rejects(reopen(dir, snap0, { segmentBytes: 4096 }), (err: unknown) => {
      assert.ok(err instanceof WalCorruptError, String(err));
      assert.match(err.message, /a segment is missing/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  });

  it('refuses segments swapped out of order (their headers name other positions)', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    for (let i = 1n; i <= 30n; i++) await wal.save(undefined, [entry(i, 1n, Buffer.alloc(400, 3))]);
    await wal.close();
    const [a, b] = walFiles(dir).slice(1, 3) as [string, string];
    renameSync(join(dir, a), join(dir, 'swap'));
    renameSync(join(dir, b), join(dir, a));
    renameSync(join(dir, 'swap'), join(dir, b));
    await assert.rejects(reopen(dir, snap0, { segmentBytes: 4096 }), WalCorruptError);
  });

  it('refuses a segment spliced in from another WAL (the crc chain breaks)', async () => {
    const parent = tempDir();
    const one = join(parent, 'one');
    const two = join(parent, 'two');
    for (const dir of [one, two]) {
      const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
      for (let i = 1n; i <= 30n; i++) await wal.save(undefined, [entry(i, 1n, Buffer.alloc(400, dir === one ? 1 : 2))]);
      await wal.close();
    }
    const name = walFiles(one)[2]!;
    assert.equal(walFiles(two)[2], name);
    renameSync(join(two, name), join(one, name));
    await assert.rejects(reopen(one, snap0, { segmentBytes: 4096 }), /does not chain/);
  });

  it('removes the temporary file of an interrupted cut on open', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(undefined, [entry(1n, 1n)]);
    await wal.close();
    writeFileSync(join(dir, '0000000000000001-0000000000000002.wal.tmp'), Buffer.alloc(100, 9));
    const opened = await reopen(dir);
    assert.equal(opened.entries.length, 1);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
    await opened.wal.close();
  });

  it('keeps a hard state of zero out of fresh segments', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { segmentBytes: 4096 });
    for (let i = 1n; i <= 20n; i++) await wal.save(undefined, [entry(i, 1n, Buffer.alloc(500, 1))]);
    await wal.close();
    const opened = await reopen(dir, snap0, { segmentBytes: 4096 });
    assert.deepEqual(opened.hardState, HardState.create());
    await opened.wal.close();
  });
});
