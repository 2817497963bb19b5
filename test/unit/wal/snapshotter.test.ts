import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Snapshot } from '../../../src/proto/gen/etcdtspb/raft.js';
import { armFailpoints, disarmFailpoints, FailpointError } from '../../../src/server/failpoint.js';
import { SnapshotCorruptError } from '../../../src/server/wal/errors.js';
import { Snapshotter } from '../../../src/server/wal/snapshotter.js';
import { Wal } from '../../../src/server/wal/wal.js';
import { Prng, cleanupTempDirs, entries, hardState, tempDir } from './helpers.js';

function snapshot(index: bigint, term: bigint, data = `state at ${index}`): Snapshot {
  return {
    data: Buffer.from(data),
    metadata: { index, term, confState: { voters: [1n, 2n, 3n], learners: [4n] } },
  };
}

describe('wal snapshotter', () => {
  after(cleanupTempDirs);
  afterEach(disarmFailpoints);

  it('round-trips a snapshot under its <term>-<index>.snap name', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    await snapper.save(snapshot(0x1234n, 5n));
    assert.deepEqual(readdirSync(dir), ['0000000000000005-0000000000001234.snap']);
    assert.deepEqual(await snapper.load(), snapshot(0x1234n, 5n));
  });

  it('loads nothing from a missing or empty directory, and ignores an empty snapshot', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    assert.equal(await snapper.load(), undefined);
    await snapper.save({ data: Buffer.alloc(0), metadata: { index: 0n, term: 0n, confState: undefined } });
    assert.equal(await snapper.load(), undefined);
  });

  it('loads the newest snapshot, and the newest the WAL has a marker for', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    for (const [index, term] of [[10n, 1n], [20n, 2n], [30n, 2n]] as const) await snapper.save(snapshot(index, term));
    assert.equal((await snapper.load())!.metadata!.index, 30n);
    const markers = [{ index: 0n, term: 0n }, { index: 10n, term: 1n }, { index: 20n, term: 2n }];
    assert.equal((await snapper.loadNewestAvailable(markers))!.metadata!.index, 20n);
    // A marker with the right index but another term does not match.
    assert.equal(await snapper.loadNewestAvailable([{ index: 20n, term: 3n }]), undefined);
  });

  it('works with the markers a WAL reports (the boot sequence)', async () => {
    const parent = tempDir();
    const wal = await Wal.create(join(parent, 'wal'), Buffer.from('m'), { segmentBytes: 16384 });
    const snapper = new Snapshotter(join(parent, 'snap'));
    await wal.save(hardState(2n, 1n, 8n), entries(1n, 9n, 2n));
    await snapper.save(snapshot(5n, 2n));
    await wal.saveSnapshot({ index: 5n, term: 2n });
    await snapper.save(snapshot(9n, 2n)); // saved, but the WAL never recorded it: not usable
    await wal.close();

    const chosen = await snapper.loadNewestAvailable(await Wal.readSnapshotMarkers(join(parent, 'wal')));
    assert.equal(chosen!.metadata!.index, 5n);
    const opened = await Wal.open(join(parent, 'wal'), { index: 5n, term: 2n }, { segmentBytes: 16384 });
    assert.deepEqual(opened.entries.map((e) => e.index), [6n, 7n, 8n, 9n]);
    await opened.wal.close();
  });

  it('renames corrupt snapshots to .broken and falls back to an older one', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    await snapper.save(snapshot(10n, 1n));
    await snapper.save(snapshot(20n, 1n));
    await snapper.save(snapshot(30n, 1n));
    const path = (i: bigint) => join(dir, Snapshotter.fileName(1n, i));
    flip(path(30n), 40);
    truncateSync(path(20n), 30);
    assert.equal((await snapper.load())!.metadata!.index, 10n);
    assert.ok(existsSync(path(30n) + '.broken') && existsSync(path(20n) + '.broken'));
    assert.deepEqual(await snapper.names(), [Snapshotter.fileName(1n, 10n)]);
  });

  it('rejects every kind of damage with a one-line SnapshotCorruptError, never a crash', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir, { filesMax: 0 });
    await snapper.save(snapshot(7n, 3n, 'x'.repeat(2000)));
    const path = join(dir, Snapshotter.fileName(3n, 7n));
    const pristine = readFileSync(path);
    const prng = new Prng(99);
    const damages: [string, (b: Buffer) => Buffer][] = [
      ['empty', () => Buffer.alloc(0)],
      ['header only', (b) => b.subarray(0, 16)],
      ['huge length field', (b) => (b.writeBigUInt64LE(2n ** 63n, 8), b)],
      ['truncated', (b) => b.subarray(0, b.length - 1)],
      ['extended', (b) => Buffer.concat([b, Buffer.alloc(1)])],
    ];
    for (let i = 0; i < 200; i++) {
      const at = prng.int(pristine.length);
      const bit = prng.int(8);
      damages.push([`bit ${bit} of byte ${at}`, (b) => ((b[at]! ^= 1 << bit), b)]);
    }
    for (const [what, damage] of damages) {
      writeFileSync(path, damage(Buffer.from(pristine)));
      await assert.rejects(Snapshotter.read(path), (err: unknown) => {
        assert.ok(err instanceof SnapshotCorruptError, `${what}: ${String(err)}`);
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    }
    writeFileSync(path, pristine);
    assert.equal((await Snapshotter.read(path)).data.length, 2000);
  });

  it('refuses a valid snapshot stored under another name', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    await snapper.save(snapshot(7n, 3n));
    const other = join(dir, Snapshotter.fileName(3n, 8n));
    writeFileSync(other, readFileSync(join(dir, Snapshotter.fileName(3n, 7n))));
    await assert.rejects(Snapshotter.read(other), /does not match the file name/);
  });

  it('keeps at most filesMax snapshots', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir, { filesMax: 3 });
    for (let i = 1n; i <= 6n; i++) await snapper.save(snapshot(i * 10n, 1n));
    assert.deepEqual(await snapper.names(), [60n, 50n, 40n].map((i) => Snapshotter.fileName(1n, i)));
  });

  it('never exposes a half-written snapshot: a crash before the rename leaves only a temp file, removed on load', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir);
    await snapper.save(snapshot(10n, 1n));
    armFailpoints('snapBeforeRename=error');
    await assert.rejects(snapper.save(snapshot(20n, 1n)), FailpointError);
    disarmFailpoints();
    assert.ok(readdirSync(dir).some((n) => n.endsWith('.snap.tmp')));
    assert.equal((await snapper.load())!.metadata!.index, 10n);
    assert.deepEqual(readdirSync(dir), [Snapshotter.fileName(1n, 10n)]);
  });

  it('leaves other files in the directory alone', async () => {
    const dir = join(tempDir(), 'snap');
    const snapper = new Snapshotter(dir, { filesMax: 1 });
    await snapper.save(snapshot(10n, 1n));
    writeFileSync(join(dir, '0000000000000010.snap.db'), 'backend snapshot');
    await snapper.save(snapshot(20n, 1n));
    assert.equal((await snapper.load())!.metadata!.index, 20n);
    assert.deepEqual(readdirSync(dir).sort(), ['0000000000000001-0000000000000014.snap', '0000000000000010.snap.db']);
  });
});

function flip(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at]! ^= 0x20;
  writeFileSync(path, bytes);
}
