import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Entry, HardState } from '../../../src/proto/gen/etcdtspb/raft.js';
import { walRecordBytesMax } from '../../../src/server/constants.js';
import { WalCorruptError } from '../../../src/server/wal/errors.js';
import { RecordType, type Frame } from '../../../src/server/wal/record.js';
import { scanSegment } from '../../../src/server/wal/segment-scan.js';
import { Wal } from '../../../src/server/wal/wal.js';
import { Prng, cleanupTempDirs, copyDir, entry, hardState, show, tempDir, walFiles } from './helpers.js';

/**
 * What a crash or a bad disk can do to the WAL, and what open must make of
 * it: a torn tail becomes exactly the intact prefix (and the WAL appends
 * after it), anything else is refused with a one-line WalCorruptError.
 */

const options = { segmentBytes: 16 * 1024 };
const meta = Buffer.from('cluster=c1 member=m1');
const snap0 = { index: 0n, term: 0n };

/** The frames of a pristine segment, from the scanner that record.test.ts checks on its own. */
function framesOf(path: string): Frame[] {
  const buf = readFileSync(path);
  return scanSegment(buf, { file: path, isLast: true, chainIn: undefined, recordBytesMax: walRecordBytesMax }).frames;
}

/** What opening should return if exactly `frames` survive: replayed independently of the reader. */
function replay(frames: readonly Frame[]): { entries: Entry[]; hardState: HardState } {
  let entries: Entry[] = [];
  let state = HardState.create();
  for (const frame of frames) {
    if (frame.type === RecordType.entry) {
      const e = Entry.decode(frame.payload);
      entries = entries.filter((x) => x.index < e.index).concat([e]);
    } else if (frame.type === RecordType.hardState) {
      state = HardState.decode(frame.payload);
    }
  }
  return { entries, hardState: state };
}

function assertOneLineCorruption(err: unknown): true {
  assert.ok(err instanceof WalCorruptError, `expected WalCorruptError, got ${String(err)}`);
  assert.ok(!err.message.includes('\n'), 'one line');
  assert.match(err.message, /^wal: corrupt WAL file \S+\.wal at offset \d+: /);
  return true;
}

async function openAndClose(dir: string, opts = options) {
  const opened = await Wal.open(dir, snap0, opts);
  await opened.wal.close();
  return opened;
}

describe('wal recovery', function () {
  this.timeout(120_000);
  after(cleanupTempDirs);

  /** A one-segment WAL whose last save holds several entries and a hard state. */
  async function smallWal(): Promise<{ dir: string; file: string; frames: Frame[] }> {
    const dir = join(tempDir(), 'pristine');
    const wal = await Wal.create(dir, meta, options);
    await wal.save(hardState(1n, 1n, 0n), [entry(1n, 1n), entry(2n, 1n)]);
    await wal.save(hardState(1n, 1n, 2n), [entry(3n, 1n, 'three')]);
    await wal.save(hardState(2n, 2n, 3n), [entry(4n, 2n, 'four'), entry(5n, 2n, 'five!'), entry(6n, 2n, 'six')]);
    await wal.close();
    const file = join(dir, walFiles(dir)[0]!);
    return { dir, file, frames: framesOf(file) };
  }

  for (const mode of ['truncate', 'zero-fill'] as const) {
    it(`recovers exactly the intact prefix when the tail is torn at every byte (${mode}), then appends`, async () => {
      const { dir, file, frames } = await smallWal();
      const size = statSync(file).size;
      const lastFive = frames.slice(-5);
      const from = lastFive[0]!.offset;
      const to = lastFive.at(-1)!.offset + lastFive.at(-1)!.bytes;
      const work = join(tempDir(), 'work');
      const name = file.slice(dir.length + 1);
      for (let cut = from; cut <= to; cut++) {
        copyDir(dir, work);
        const path = join(work, name);
        if (mode === 'truncate') truncateSync(path, cut);
        else zeroFrom(path, cut, size);
        // A frame survives truncation only if all of it is left; zero-filling
        // its padding leaves it intact.
        const survivors = frames.filter((f) =>
          mode === 'truncate' ? f.offset + f.bytes <= cut : f.offset + 16 + f.payload.length <= cut,
        );
        const expected = replay(survivors);
        const opened = await Wal.open(work, snap0, options);
        assert.deepEqual(show(opened.entries), show(expected.entries), `cut at ${cut}`);
        assert.deepEqual(opened.hardState, expected.hardState, `cut at ${cut}`);
        const next = BigInt(opened.entries.length) + 1n;
        await opened.wal.save(hardState(3n, 3n, next), [entry(next, 3n, 'after repair')]);
        await opened.wal.close();
        const again = await openAndClose(work);
        assert.deepEqual(show(again.entries), show([...expected.entries, entry(next, 3n, 'after repair')]), `cut at ${cut}`);
        assert.deepEqual(again.hardState, hardState(3n, 3n, next));
      }
    });
  }

  it('refuses a bit flip at any byte of any record that is followed by an intact record', async () => {
    const { dir, file, frames } = await smallWal();
    const prng = new Prng(2024);
    const work = join(tempDir(), 'work');
    const name = file.slice(dir.length + 1);
    const end = frames.at(-1)!.offset; // every byte before the last record
    for (let at = 0; at < end; at++) {
      copyDir(dir, work);
      const path = join(work, name);
      const bytes = readFileSync(path);
      bytes[at]! ^= 1 << prng.int(8);
      writeFileSync(path, bytes);
      await assert.rejects(Wal.open(work, snap0, options), assertOneLineCorruption, `flip at ${at}`);
    }
  });

  it('refuses a huge length field without allocating it, wherever the record is', async () => {
    const { dir, file, frames } = await smallWal();
    const work = join(tempDir(), 'work');
    const name = file.slice(dir.length + 1);
    for (const frame of [frames[1]!, frames[4]!, frames.at(-1)!]) {
      for (const length of [0xffffffff, 0x80000000, walRecordBytesMax + 1]) {
        copyDir(dir, work);
        const path = join(work, name);
        const bytes = readFileSync(path);
        bytes.writeUInt32LE(length >>> 0, frame.offset + 8);
        writeFileSync(path, bytes);
        const before = process.memoryUsage().arrayBuffers;
        await assert.rejects(Wal.open(work, snap0, options), (err: unknown) => {
          assertOneLineCorruption(err);
          assert.match((err as Error).message, new RegExp(`offset ${frame.offset}: record length \\d+ exceeds the limit`));
          return true;
        });
        const grown = process.memoryUsage().arrayBuffers - before;
        assert.ok(grown < 64 * 1024 * 1024, `grew by ${grown} bytes`);
      }
    }
  });

  it('refuses a length field larger than the rest of the file when intact records follow', async () => {
    const { dir, file, frames } = await smallWal();
    const work = join(tempDir(), 'work');
    copyDir(dir, work);
    const path = join(work, file.slice(dir.length + 1));
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(walRecordBytesMax - 1, frames.at(-3)!.offset + 8);
    writeFileSync(path, bytes);
    await assert.rejects(Wal.open(work, snap0, options), assertOneLineCorruption);
  });

  it('refuses a zeroed sector in synced data, and repairs one inside the unsynced last batch', async () => {
    const dir = join(tempDir(), 'pristine');
    const prng = new Prng(5);
    const wal = await Wal.create(dir, meta, options);
    await wal.save(hardState(1n, 1n, 4n), [1n, 2n, 3n, 4n].map((i) => entry(i, 1n, prng.bytes(300))));
    await wal.save(hardState(1n, 1n, 8n), [5n, 6n, 7n, 8n].map((i) => entry(i, 1n, prng.bytes(300))));
    await wal.close();
    const file = join(dir, walFiles(dir)[0]!);
    const frames = framesOf(file);
    const work = join(tempDir(), 'work');
    const name = file.slice(dir.length + 1);
    const sectorIn = (f: Frame) => Math.ceil((f.offset + 16) / 512) * 512;

    // Entry 2 was synced before the second save began: losing it is corruption.
    const second = frames.find((f) => f.type === RecordType.entry && Entry.decode(f.payload).index === 2n)!;
    copyDir(dir, work);
    zeroRange(join(work, name), sectorIn(second), sectorIn(second) + 512);
    await assert.rejects(Wal.open(work, snap0, options), /written after a later fsync/);

    // Entry 6 belongs to the last batch: a lost page there is a torn write.
    const sixth = frames.find((f) => f.type === RecordType.entry && Entry.decode(f.payload).index === 6n)!;
    copyDir(dir, work);
    zeroRange(join(work, name), sectorIn(sixth), sectorIn(sixth) + 512);
    const opened = await Wal.open(work, snap0, options);
    assert.deepEqual(opened.entries.map((e) => e.index), [1n, 2n, 3n, 4n, 5n]);
    assert.deepEqual(opened.hardState, hardState(1n, 1n, 4n));
    // Entries 7 and 8 were intact behind the hole: the repair must wipe them,
    // or they would surface behind the records appended next.
    await opened.wal.save(hardState(2n, 2n, 6n), [entry(6n, 2n, 'short')]);
    await opened.wal.close();
    const again = await openAndClose(work);
    assert.deepEqual(again.entries.map((e) => `${e.index}/${e.term}`), ['1/1', '2/1', '3/1', '4/1', '5/1', '6/2']);
    assert.deepEqual(again.hardState, hardState(2n, 2n, 6n));
  });

  it('refuses damage in a segment that is not the last', async () => {
    const dir = join(tempDir(), 'pristine');
    const opts = { segmentBytes: 4096 };
    const wal = await Wal.create(dir, meta, opts);
    for (let i = 1n; i <= 30n; i++) await wal.save(hardState(1n, 1n, i), [entry(i, 1n, Buffer.alloc(300, 1))]);
    await wal.close();
    const names = walFiles(dir);
    const work = join(tempDir(), 'work');
    const first = join(work, names[0]!);
    const middle = join(work, names[1]!);
    const damages: [string, () => void][] = [
      ['truncated at a record boundary', () => truncateSync(middle, framesOf(join(dir, names[1]!)).at(-1)!.offset)],
      ['truncated inside a record', () => truncateSync(middle, statSync(middle).size - 5)],
      ['zero-filled at its end', () => zeroRange(middle, statSync(middle).size - 40, statSync(middle).size)],
      ['a flipped bit in its last record', () => flipBit(middle, statSync(middle).size - 30)],
      ['emptied', () => truncateSync(first, 0)],
    ];
    for (const [what, damage] of damages) {
      copyDir(dir, work);
      damage();
      await assert.rejects(Wal.open(work, snap0, opts), assertOneLineCorruption, what);
    }
  });

  it('drops a last segment whose header never made it to disk (an interrupted cut)', async () => {
    const dir = join(tempDir(), 'pristine');
    const opts = { segmentBytes: 4096 };
    const wal = await Wal.create(dir, meta, opts);
    for (let i = 1n; i <= 12n; i++) await wal.save(hardState(1n, 1n, i), [entry(i, 1n, Buffer.alloc(300, 1))]);
    const names = wal.segmentNames();
    await wal.close();
    const work = join(tempDir(), 'work');
    copyDir(dir, work);
    const last = join(work, names.at(-1)!);
    const lastFrames = framesOf(join(dir, names.at(-1)!));
    const lostFrom = lastFrames.filter((f) => f.type === RecordType.entry).map((f) => Entry.decode(f.payload).index)[0]!;
    truncateSync(last, 10);
    const opened = await Wal.open(work, snap0, opts);
    assert.deepEqual(walFiles(work), names.slice(0, -1));
    assert.equal(opened.entries.at(-1)!.index, lostFrom - 1n);
    await opened.wal.save(undefined, [entry(lostFrom, 2n, 'again')]);
    await opened.wal.close();
    const again = await openAndClose(work, opts);
    assert.equal(again.entries.at(-1)!.index, lostFrom);
  });
});

function zeroFrom(path: string, from: number, size: number): void {
  zeroRange(path, from, size);
}

function zeroRange(path: string, from: number, to: number): void {
  const bytes = readFileSync(path);
  bytes.fill(0, from, to);
  writeFileSync(path, bytes);
}

function flipBit(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at]! ^= 0x04;
  writeFileSync(path, bytes);
}
