import assert from 'node:assert/strict';
import { crc32c } from '../../../src/server/wal/crc32c.js';
import { WalCorruptError } from '../../../src/server/wal/errors.js';
import { RecordType, checkFrame, flagSyncStart, frameBytes, writeFrame } from '../../../src/server/wal/record.js';
import { findIntactFrames, hasZeroSector, lastNonZero, scanSegment } from '../../../src/server/wal/segment-scan.js';
import { Prng } from './helpers.js';

const max = 10 * 1024 * 1024;

/** Lays out frames like the writer does: chained, the first one flagged. */
function layout(payloads: Buffer[], size: number, syncStartAt: number[] = [0]): { buf: Buffer; offsets: number[] } {
  const buf = Buffer.alloc(size);
  const offsets: number[] = [];
  let at = 0;
  let crc = 0;
  payloads.forEach((payload, i) => {
    offsets.push(at);
    crc = writeFrame(buf, at, RecordType.entry, syncStartAt.includes(i) ? flagSyncStart : 0, crc, payload);
    at += frameBytes(payload.length);
  });
  offsets.push(at);
  return { buf, offsets };
}

const scanLast = (buf: Buffer) => scanSegment(buf, { file: 'seg.wal', isLast: true, chainIn: 0, recordBytesMax: max });

describe('wal crc32c', () => {
  it('matches the standard check values', () => {
    assert.equal(crc32c(0, Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(0, Buffer.alloc(0)), 0);
    assert.equal(crc32c(0, Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(0, Buffer.alloc(32, 0xff)), 0x62a8ab43);
  });

  it('extends a running crc: crc(a ++ b) == crc(crc(a), b), at any split and alignment', () => {
    const prng = new Prng(7);
    const data = prng.bytes(1000);
    const whole = crc32c(0, data);
    for (const split of [0, 1, 7, 8, 9, 63, 500, 999, 1000]) {
      assert.equal(crc32c(crc32c(0, data, 0, split), data, split), whole, `split ${split}`);
    }
    assert.equal(crc32c(0, data, 3, 11), crc32c(0, data.subarray(3, 11)));
  });
});

describe('wal record frames', () => {
  it('round-trips a frame and rejects every single-bit flip in it', () => {
    const payload = Buffer.from('a payload of some bytes');
    const buf = Buffer.alloc(frameBytes(payload.length));
    const crc = writeFrame(buf, 0, RecordType.entry, flagSyncStart, 0x1234, payload);
    const check = checkFrame(buf, 0, max);
    assert.ok(check.ok);
    assert.equal(check.frame.crc, crc);
    assert.equal(check.frame.prevCrc, 0x1234);
    assert.equal(check.frame.flags, flagSyncStart);
    assert.deepEqual(check.frame.payload, payload);
    for (let bit = 0; bit < buf.length * 8; bit++) {
      const flipped = Buffer.from(buf);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(checkFrame(flipped, 0, max).ok, false, `bit ${bit} flipped`);
    }
  });

  it('bounds the length field by the limit and by the bytes left before using it', () => {
    const buf = Buffer.alloc(64);
    writeFrame(buf, 0, RecordType.entry, 0, 0, Buffer.from('x'));
    buf.writeUInt32LE(0xffffffff, 8);
    const huge = checkFrame(buf, 0, max);
    assert.ok(!huge.ok && huge.lengthTooLarge);
    buf.writeUInt32LE(1000, 8);
    const past = checkFrame(buf, 0, max);
    assert.ok(!past.ok && !past.lengthTooLarge && /past the end/.test(past.reason));
  });
});

describe('wal segment scan', () => {
  const prng = new Prng(11);
  const payloads = Array.from({ length: 6 }, () => prng.bytes(40 + prng.int(60)));

  it('reads every frame up to the zero-filled end', () => {
    const { buf, offsets } = layout(payloads, 4096);
    const scan = scanLast(buf);
    assert.equal(scan.frames.length, 6);
    assert.equal(scan.endOffset, offsets[6]);
    assert.equal(scan.tornTail, undefined);
    assert.equal(scan.dirtyEnd, offsets[6]);
  });

  it('cuts a torn last frame and reports the garbage to zero', () => {
    const { buf, offsets } = layout(payloads, 4096);
    buf[offsets[5]! + 20]! ^= 0x10;
    const scan = scanLast(buf);
    assert.equal(scan.frames.length, 5);
    assert.equal(scan.endOffset, offsets[5]);
    assert.ok(scan.tornTail);
    assert.ok(scan.dirtyEnd > offsets[5]!);
  });

  it('refuses a bad frame followed by an intact one when nothing shows a torn write', () => {
    const { buf, offsets } = layout(payloads, 4096);
    buf[offsets[2]! + 20]! ^= 0x01;
    assert.throws(() => scanLast(buf), (err: unknown) => err instanceof WalCorruptError && err.offset === offsets[2]);
  });

  it('refuses damage followed by a frame written after a later fsync, even if it looks torn', () => {
    const big = Array.from({ length: 6 }, () => prng.bytes(700));
    const { buf, offsets } = layout(big, 8192, [0, 4]);
    // A whole never-written sector inside frame 1: torn-looking, but frame 4 proves it was synced.
    const sector = Math.ceil((offsets[1]! + 16) / 512) * 512;
    buf.fill(0, sector, sector + 512);
    assert.throws(() => scanLast(buf), /written after a later fsync/);
  });

  it('repairs a never-written sector inside the last sync batch (pages persisted out of order)', () => {
    const big = Array.from({ length: 6 }, () => prng.bytes(700));
    const { buf, offsets } = layout(big, 8192, [0]);
    const sector = Math.ceil((offsets[2]! + 16) / 512) * 512;
    buf.fill(0, sector, sector + 512);
    const scan = scanLast(buf);
    assert.equal(scan.frames.length, 2);
    assert.ok(scan.tornTail);
  });

  it('repairs a batch whose first sector, shared with the synced batch before it, never persisted', () => {
    const big = Array.from({ length: 6 }, () => prng.bytes(700));
    const { buf, offsets } = layout(big, 8192, [0, 2]);
    // Batch 2 starts inside a sector that batch 0 had written and synced: that sector kept its
    // old bytes and its zeros, the later sectors of batch 2 reached the disk.
    const start = offsets[2]!;
    const sectorEnd = Math.ceil((start + 1) / 512) * 512;
    assert.ok(start % 512 !== 0 && sectorEnd < offsets[3]!, 'the batch starts mid-sector, its first frame spans the boundary');
    buf.fill(0, start, sectorEnd);
    const scan = scanLast(buf);
    assert.equal(scan.frames.length, 2);
    assert.equal(scan.tornTail?.offset, start);
  });

  it('refuses any damage in a segment that is not the last', () => {
    const { buf, offsets } = layout(payloads, payloads.reduce((n, p) => n + frameBytes(p.length), 0));
    buf[offsets[5]! + 20]! ^= 0x10;
    assert.throws(() => scanSegment(buf, { file: 'a.wal', isLast: false, chainIn: 0, recordBytesMax: max }), WalCorruptError);
  });

  it('refuses a frame that does not chain to the previous one', () => {
    const { buf } = layout(payloads, 4096);
    assert.throws(() => scanSegment(buf, { file: 'a.wal', isLast: true, chainIn: 99, recordBytesMax: max }), /does not chain/);
  });

  it('finds intact frames by their own crc, and zero sectors by file position', () => {
    const { buf, offsets } = layout(payloads, 4096, [0, 3]);
    assert.deepEqual(findIntactFrames(buf, offsets[1]! + 1, max), { first: offsets[2], syncStart: offsets[3] });
    assert.equal(hasZeroSector(buf, 0, offsets[6]!), false);
    assert.equal(hasZeroSector(buf, 0, 4096), true);
    const last = lastNonZero(buf, 0);
    assert.ok(last >= offsets[5]! && last < offsets[6]!);
    assert.equal(lastNonZero(buf, offsets[6]!), offsets[6]! - 1, 'nothing after the end');
  });
});
