import { crc32c } from './crc32c.js';

/**
 * One WAL record on disk (a "frame"), little-endian, every frame starting at
 * an 8-byte aligned offset:
 *
 *   offset  size  field
 *        0     4  crc      CRC-32C of bytes [4, 16 + length): prevCrc, length,
 *                          type, flags and the payload; so a flipped bit in any
 *                          header field or payload byte is detected
 *        4     4  prevCrc  the crc of the record before this one (0 for the
 *                          first record of a WAL); this chains the records, so
 *                          a reordered, duplicated or spliced record breaks
 *                          the chain even though its own crc is intact
 *        8     4  length   payload bytes, at most walRecordBytesMax
 *       12     1  type     RecordType; 0 is never written, so a zero-filled
 *                          (preallocated, never written) header reads as "end"
 *       13     1  flags    bit 0 (syncStart): the first record written after an
 *                          fsync completed, see below
 *       14     2  zero
 *       16  length payload
 *        …   0..7 zero padding to the next multiple of 8 (checked on read)
 *
 * syncStart is what lets recovery tell a torn unsynced tail from damage in
 * synced data: a syncStart record can only exist on disk after every byte
 * before it was fsynced, so damage followed by an intact syncStart record is
 * damage in acknowledged data, which we refuse rather than truncate.
 *
 * Because each frame carries its own crc over its own bytes (and the chain is
 * a separate field), any frame can be validated on its own, which recovery
 * uses to look for intact records after a damaged one.
 */

export const RecordType = {
  /** Opaque bytes the server gave to Wal.create (cluster and member identity). Repeated in every segment. */
  metadata: 1,
  /** A Raft log entry (etcdtspb.Entry). */
  entry: 2,
  /** The Raft hard state (etcdtspb.HardState); the last one read wins. */
  hardState: 3,
  /** A snapshot marker (etcdtspb.SnapshotMetadata: index, term, conf state). */
  snapshot: 4,
  /** First record of every segment: its sequence number and first index (see segmentHeader). */
  crc: 5,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const recordTypeMax = 5;

export const frameHeaderBytes = 16;
export const frameAlignBytes = 8;
export const flagSyncStart = 1;
const flagsKnown = flagSyncStart;

/** Total bytes a frame with `payloadBytes` of payload occupies on disk. */
export function frameBytes(payloadBytes: number): number {
  return frameHeaderBytes + alignUp(payloadBytes, frameAlignBytes);
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export interface Frame {
  offset: number;
  type: RecordType;
  flags: number;
  prevCrc: number;
  crc: number;
  /** A view into the file buffer: copy it if it must outlive the buffer. */
  payload: Buffer;
  /** Bytes the frame occupies including padding. */
  bytes: number;
}

/**
 * Writes one frame at `target[at]` and returns its crc. The caller sized
 * `target` with frameBytes(); padding is zeroed here because the reader
 * insists on zero padding.
 */
export function writeFrame(
  target: Buffer,
  at: number,
  type: RecordType,
  flags: number,
  prevCrc: number,
  payload: Uint8Array,
): number {
  const end = at + frameBytes(payload.length);
  target.writeUInt32LE(prevCrc >>> 0, at + 4);
  target.writeUInt32LE(payload.length, at + 8);
  target[at + 12] = type;
  target[at + 13] = flags;
  target[at + 14] = 0;
  target[at + 15] = 0;
  target.set(payload, at + frameHeaderBytes);
  target.fill(0, at + frameHeaderBytes + payload.length, end);
  const crc = crc32c(0, target, at + 4, at + frameHeaderBytes + payload.length);
  target.writeUInt32LE(crc, at);
  return crc;
}

export type FrameCheck =
  | { ok: true; frame: Frame }
  | {
      ok: false;
      reason: string;
      /** The length field exceeds walRecordBytesMax: no torn write produces that. */
      lengthTooLarge: boolean;
      /** Where the damaged frame ends as far as its header can be trusted. */
      extentEnd: number;
    };

/**
 * Validates the frame at `buf[at]` on its own: header fields, bounds, crc and
 * padding. Every length is checked against both `recordBytesMax` and the
 * bytes left in the buffer before it is used, so a corrupt length can never
 * drive an allocation or an out-of-range read.
 */
export function checkFrame(buf: Buffer, at: number, recordBytesMax: number): FrameCheck {
  const bad = (reason: string, extra: Partial<{ lengthTooLarge: boolean; extentEnd: number }> = {}) =>
    ({
      ok: false as const,
      reason,
      lengthTooLarge: extra.lengthTooLarge ?? false,
      extentEnd: extra.extentEnd ?? Math.min(at + frameHeaderBytes, buf.length),
    });
  if (buf.length - at < frameHeaderBytes) return bad('partial record header at end of file');
  const length = buf.readUInt32LE(at + 8);
  const type = buf[at + 12]!;
  const flags = buf[at + 13]!;
  if (length > recordBytesMax) {
    return bad(`record length ${length} exceeds the limit of ${recordBytesMax} bytes`, { lengthTooLarge: true });
  }
  const bytes = frameBytes(length);
  if (at + bytes > buf.length) {
    return bad(`record of ${length} bytes runs past the end of file`, { extentEnd: buf.length });
  }
  const extentEnd = at + bytes;
  if (type === 0 || type > recordTypeMax) return bad(`unknown record type ${type}`, { extentEnd });
  if ((flags & ~flagsKnown) !== 0 || buf[at + 14] !== 0 || buf[at + 15] !== 0) {
    return bad('reserved header bits are set', { extentEnd });
  }
  const payloadEnd = at + frameHeaderBytes + length;
  const crc = buf.readUInt32LE(at);
  const actual = crc32c(0, buf, at + 4, payloadEnd);
  if (crc !== actual) {
    return bad(`crc mismatch (stored ${hex32(crc)}, computed ${hex32(actual)})`, { extentEnd });
  }
  for (let i = payloadEnd; i < extentEnd; i++) {
    if (buf[i] !== 0) return bad('non-zero padding', { extentEnd });
  }
  return {
    ok: true,
    frame: {
      offset: at,
      type: type as RecordType,
      flags,
      prevCrc: buf.readUInt32LE(at + 4),
      crc,
      payload: buf.subarray(at + frameHeaderBytes, payloadEnd),
      bytes,
    },
  };
}

export function hex32(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** Payload of the crc record that opens every segment: ties the file's content to its name. */
export interface SegmentHeader {
  seq: bigint;
  firstIndex: bigint;
}

export const segmentHeaderBytes = 16;

export function encodeSegmentHeader(header: SegmentHeader): Buffer {
  const out = Buffer.alloc(segmentHeaderBytes);
  out.writeBigUInt64LE(header.seq, 0);
  out.writeBigUInt64LE(header.firstIndex, 8);
  return out;
}

/** Returns undefined when the payload has the wrong size (a crc-valid record written by something else). */
export function decodeSegmentHeader(payload: Buffer): SegmentHeader | undefined {
  if (payload.length !== segmentHeaderBytes) return undefined;
  return { seq: payload.readBigUInt64LE(0), firstIndex: payload.readBigUInt64LE(8) };
}
