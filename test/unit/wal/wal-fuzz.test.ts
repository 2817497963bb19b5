import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry, HardState } from '../../../src/proto/gen/etcdtspb/raft.js';
import { walRecordBytesMax } from '../../../src/server/constants.js';
import { WalCorruptError, WalSnapshotNotFoundError } from '../../../src/server/wal/errors.js';
import { flagSyncStart, type Frame } from '../../../src/server/wal/record.js';
import { scanSegment } from '../../../src/server/wal/segment-scan.js';
import { Wal } from '../../../src/server/wal/wal.js';
import { Prng, cleanupTempDirs, entry, hardState, tempDir, walFiles } from './helpers.js';

/**
 * 1,000 seeded corruptions of a multi-segment WAL (reliability-anchors §8
 * row 13). Each must either open with a crc-valid prefix of what was written
 * or be refused with a typed one-line error; never a crash, never a record
 * that was not written. Where the damage provably hit synced data (it is
 * followed by an intact record written after a later fsync, or it lies in a
 * closed segment) it must be refused; where it only touched never-written
 * space, nothing may be lost. Replay a failure with WAL_FUZZ_SEED=<seed>.
 */

const cases = Number(process.env['WAL_FUZZ_CASES'] ?? 1000);
const baseSeed = Number(process.env['WAL_FUZZ_SEED'] ?? 0x5eed);
const options = { segmentBytes: 8192 };
const snap0 = { index: 0n, term: 0n };

interface Fixture {
  dir: string;
  names: string[];
  written: Entry[];
  /** Hard states saved, in order; hardState k commits exactly the entries of save k. */
  states: HardState[];
  /** Per segment: pristine bytes and frames. */
  pristine: Map<string, { bytes: Buffer; frames: Frame[] }>;
}

async function buildFixture(): Promise<Fixture> {
  const dir = join(tempDir(), 'pristine');
  const prng = new Prng(1);
  const wal = await Wal.create(dir, Buffer.from('cluster=fuzz'), options);
  const written: Entry[] = [];
  const states: HardState[] = [];
  let index = 0n;
  for (let save = 0; save < 60; save++) {
    const batch: Entry[] = [];
    for (let n = 1 + prng.int(4); n > 0; n--) batch.push(entry(++index, 1n, prng.bytes(10 + prng.int(400))));
    const state = hardState(1n, 1n, index);
    await wal.save(state, batch);
    written.push(...batch);
    states.push(state);
  }
  const names = wal.segmentNames();
  await wal.close();
  const pristine = new Map<string, { bytes: Buffer; frames: Frame[] }>();
  for (const name of names) {
    const bytes = readFileSync(join(dir, name));
    const frames = scanSegment(bytes, { file: name, isLast: true, chainIn: undefined, recordBytesMax: walRecordBytesMax }).frames;
    pristine.set(name, { bytes, frames });
  }
  return { dir, names, written, states, pristine };
}

/**
 * refuse: synced data was damaged. no-loss: only never-written space was
 * touched, so opening must return everything (or refuse, but only for a
 * length field no writer produces). either: a torn tail or a removed last
 * segment, indistinguishable from a crash.
 */
type Verdict = 'refuse' | 'no-loss' | 'either';

interface Damage {
  what: string;
  verdict: Verdict;
}

/** Applies one random kind of damage to the WAL in `work` and says what open must do about it. */
function damage(fx: Fixture, work: string, prng: Prng): Damage {
  // Half the damage goes to the last segment, where torn tails are repaired.
  const segment = prng.int(2) === 0 ? fx.names.length - 1 : prng.int(fx.names.length);
  const name = fx.names[segment]!;
  const path = join(work, name);
  const { bytes: original, frames } = fx.pristine.get(name)!;
  const isLast = segment === fx.names.length - 1;
  const dataEnd = frames.at(-1)!.offset + frames.at(-1)!.bytes;
  const bytes = Buffer.from(original);
  const spot = () => (isLast && prng.int(4) === 0 ? prng.int(bytes.length) : prng.int(Math.min(dataEnd + 32, bytes.length)));
  const clamp = (end: number) => Math.min(end, bytes.length);
  let what: string;
  let truncateTo: number | undefined;
  switch (prng.int(8)) {
    case 0: {
      const at = spot();
      bytes[at]! ^= 1 << prng.int(8);
      what = `bit flip at ${at}`;
      break;
    }
    case 1: {
      const at = spot();
      const len = 1 + prng.int(1024);
      bytes.fill(0, at, clamp(at + len));
      what = `zeroed [${at}, +${len})`;
      break;
    }
    case 2: {
      const at = spot();
      const garbage = prng.bytes(1 + prng.int(64));
      garbage.copy(bytes, at, 0, clamp(at + garbage.length) - at);
      what = `garbage at ${at}`;
      break;
    }
    case 3: {
      truncateTo = prng.int(dataEnd + 1);
      what = `truncated to ${truncateTo}`;
      break;
    }
    case 4: {
      const frame = frames[prng.int(frames.length)]!;
      const length = prng.int(2) === 0 ? walRecordBytesMax + 1 + prng.int(2 ** 31) : prng.int(2 ** 32);
      bytes.writeUInt32LE(length >>> 0, frame.offset + 8);
      what = `length of record at ${frame.offset} set to ${length >>> 0}`;
      break;
    }
    case 5: {
      const sector = Math.floor(spot() / 512) * 512;
      bytes.fill(0, sector, clamp(sector + 512));
      what = `zeroed sector at ${sector}`;
      break;
    }
    case 6: {
      if (prng.int(3) === 0) {
        unlinkSync(path);
        return { what: `removed ${name}`, verdict: segment === 0 || isLast ? 'either' : 'refuse' };
      }
      // Power loss on the last segment: anything after a point is lost.
      const last = join(work, fx.names.at(-1)!);
      const lastData = fx.pristine.get(fx.names.at(-1)!)!;
      const at = prng.int(lastData.frames.at(-1)!.offset + lastData.frames.at(-1)!.bytes + 1);
      const torn = Buffer.from(lastData.bytes);
      torn.fill(0, at);
      writeFileSync(last, torn);
      return { what: `last segment zeroed from ${at}`, verdict: 'either' };
    }
    default: {
      const at = spot();
      const len = 1 + prng.int(16);
      for (let i = at; i < at + len && i < bytes.length; i++) bytes[i] = prng.int(256);
      what = `random bytes at [${at}, +${len})`;
      break;
    }
  }
  if (truncateTo !== undefined) writeFileSync(path, bytes.subarray(0, truncateTo));
  else writeFileSync(path, bytes);
  return { what: `${name}: ${what}`, verdict: verdictFor(original, truncateTo === undefined ? bytes : bytes.subarray(0, truncateTo), frames, isLast, dataEnd) };
}

/** What the damage allows, judged from the bytes that changed and the frames around them. */
function verdictFor(original: Buffer, damaged: Buffer, frames: Frame[], isLast: boolean, dataEnd: number): Verdict {
  let first = -1;
  let last = -1;
  const span = Math.max(original.length, damaged.length);
  for (let i = 0; i < span; i++) {
    if (original[i] !== damaged[i]) {
      if (first < 0) first = i;
      last = i;
    }
  }
  if (first < 0) return 'no-loss';
  if (!isLast) return 'refuse';
  if (first >= dataEnd) return 'no-loss';
  const syncedAfter = frames.some((f) => (f.flags & flagSyncStart) !== 0 && f.offset > last && f.offset + f.bytes <= damaged.length);
  return syncedAfter ? 'refuse' : 'either';
}

/** Puts the pristine segments back (cheaper than copying the directory a thousand times). */
function restore(fx: Fixture, work: string): void {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  for (const [name, { bytes }] of fx.pristine) writeFileSync(join(work, name), bytes);
}

function checkRecovered(fx: Fixture, got: { entries: Entry[]; hardState: HardState }, label: string): void {
  assert.ok(got.entries.length <= fx.written.length, label);
  got.entries.forEach((e, i) => {
    const want = fx.written[i]!;
    assert.ok(e.index === want.index && e.term === want.term && e.data.equals(want.data), `${label}: entry ${i + 1} differs`);
  });
  const zero = got.hardState.term === 0n && got.hardState.commit === 0n;
  assert.ok(zero || fx.states.some((s) => s.commit === got.hardState.commit), `${label}: unknown hard state`);
  // A hard state is written after its entries, so every entry it commits survived with it.
  assert.ok(got.hardState.commit <= BigInt(got.entries.length), `${label}: hard state without its entries`);
}

describe('wal corruption fuzz', function () {
  this.timeout(300_000);
  after(cleanupTempDirs);

  it(`opens ${cases} randomly damaged WALs with a valid prefix or refuses them with a one-line error`, async () => {
    const fx = await buildFixture();
    assert.ok(fx.names.length >= 4, `fixture has ${fx.names.length} segments`);
    const work = join(tempDir(), 'work');
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    for (let i = 0; i < cases; i++) {
      const seed = baseSeed + i;
      restore(fx, work);
      const { what, verdict } = damage(fx, work, new Prng(seed));
      const label = `seed ${seed} (${what})`;
      let opened: Awaited<ReturnType<typeof Wal.open>> | undefined;
      try {
        opened = await Wal.open(work, snap0, options);
      } catch (err) {
        const typed = err instanceof WalCorruptError || err instanceof WalSnapshotNotFoundError;
        assert.ok(typed, `${label}: unexpected ${(err as Error)?.stack ?? String(err)}`);
        assert.ok(!(err as Error).message.includes('\n'), `${label}: multi-line error`);
        if (verdict === 'no-loss') {
          assert.match((err as Error).message, /exceeds the limit/, `${label}: refused undamaged data: ${(err as Error).message}`);
        }
        count(`${verdict} -> refused (${err instanceof WalCorruptError ? 'corrupt' : 'snapshot not found'})`);
        continue;
      }
      try {
        assert.notEqual(verdict, 'refuse', `${label}: accepted damage in synced data`);
        checkRecovered(fx, opened, label);
        if (verdict === 'no-loss') assert.equal(opened.entries.length, fx.written.length, `${label}: lost entries`);
        count(`${verdict} -> ${opened.entries.length === fx.written.length ? 'recovered everything' : 'recovered a prefix'}`);
        // The repaired WAL appends and reads back.
        const next = BigInt(opened.entries.length) + 1n;
        await opened.wal.save(undefined, [entry(next, 2n, 'appended')]);
      } finally {
        await opened.wal.close();
      }
      const again = await Wal.open(work, snap0, options);
      await again.wal.close();
      assert.equal(again.entries.at(-1)?.data.toString(), 'appended', `${label}: append after repair`);
    }
    const summary = [...outcomes].sort().map(([k, v]) => `${k}: ${v}`).join(', ');
    console.log(`      ${cases} damaged WALs (${fx.names.length} segments, base seed ${baseSeed}): ${summary}`);
    assert.equal(walFiles(fx.dir).length, fx.names.length);
    assert.ok(statSync(fx.dir).isDirectory());
  });
});
