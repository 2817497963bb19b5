import { WalCorruptError } from './errors.js';
import { checkFrame, flagSyncStart, frameAlignBytes, frameHeaderBytes, hex32, recordTypeMax, type Frame } from './record.js';

/**
 * Reading one segment file that is already in memory: walk the frames, check
 * each one and the crc chain, and decide what a damaged frame means. Pure (no
 * I/O) so that recovery decisions can be tested byte by byte.
 *
 * The rule (etcd's, made stricter): damage is repaired only when it can be
 * the unsynced tail of the last segment. Damage D in the last segment is
 * refused when
 *   - an intact syncStart record follows D (it was written after an fsync that
 *     covered D, so D was acknowledged data), or
 *   - D does not look like a torn write (no all-zero, never-written sector
 *     between D and the next intact record) and an intact record follows it:
 *     that is a bit flip in the middle of the log, not a crash, or
 *   - D's length field exceeds walRecordBytesMax, which no torn write produces.
 * Damage in any other segment is always refused.
 *
 * What no rule can tell apart: damage inside the last sync batch after its
 * fsync completed, when nothing intact follows it or a zeroed sector sits
 * in it. That is exactly what an unsynced batch whose pages never all
 * reached the disk looks like, so it is repaired by dropping the batch from
 * there on, as etcd does. Everything before the last sync batch is protected.
 */

/** Sector size at which a crash may leave part of a write on disk (etcd minSectorSize). */
export const sectorBytes = 512;

export interface SegmentScan {
  frames: Frame[];
  /** Offset just past the last intact frame: where appending resumes. */
  endOffset: number;
  /** crc of the last intact frame (the chain value the next frame must carry). */
  lastCrc: number | undefined;
  /** Set when the last segment ends in a repairable torn tail. */
  tornTail?: { offset: number; reason: string };
  /** One past the last non-zero byte at or after endOffset: the range to zero before appending. */
  dirtyEnd: number;
}

export interface ScanOptions {
  /** Path used in error messages. */
  file: string;
  /** Only the last segment may end in a torn tail. */
  isLast: boolean;
  /** Chain value the first frame must carry, or undefined to accept any (first segment read after a purge). */
  chainIn: number | undefined;
  recordBytesMax: number;
}

export function scanSegment(buf: Buffer, options: ScanOptions): SegmentScan {
  const frames: Frame[] = [];
  let chain = options.chainIn;
  let offset = 0;
  const corrupt = (at: number, reason: string) => new WalCorruptError(options.file, at, reason);
  while (offset < buf.length) {
    const headerEnd = Math.min(offset + frameHeaderBytes, buf.length);
    if (isZero(buf, offset, headerEnd)) {
      // Never-written (preallocated) space: the normal end of a segment,
      // provided nothing but zeros follows.
      const dirty = lastNonZero(buf, offset) + 1;
      if (dirty <= offset) return { frames, endOffset: offset, lastCrc: chain, dirtyEnd: offset };
      if (!options.isLast) throw corrupt(offset, 'zero-filled record followed by data in a closed segment');
      const damage = { offset, reason: 'zero-filled record', zeroHeader: true, extentEnd: headerEnd };
      return { frames, endOffset: offset, lastCrc: chain, ...repairableTail(buf, options, damage) };
    }
    const check = checkFrame(buf, offset, options.recordBytesMax);
    if (!check.ok) {
      if (check.lengthTooLarge || !options.isLast) throw corrupt(offset, check.reason);
      // A frame running past the end of the file is torn only if nothing
      // intact follows it (true of a file cut short by a crash); with
      // intact records after it, its length field itself is damaged.
      const damage = { offset, reason: check.reason, zeroHeader: false, extentEnd: check.extentEnd };
      return { frames, endOffset: offset, lastCrc: chain, ...repairableTail(buf, options, damage) };
    }
    const frame = check.frame;
    if (chain !== undefined && frame.prevCrc !== chain) {
      throw corrupt(
        offset,
        `record does not chain to the one before it (prevCrc ${hex32(frame.prevCrc)}, expected ${hex32(chain)}): records were reordered, lost or spliced`,
      );
    }
    chain = frame.crc;
    frames.push(frame);
    offset += frame.bytes;
  }
  return { frames, endOffset: offset, lastCrc: chain, dirtyEnd: offset };
}

interface Damage {
  /** Offset of the first frame that is not intact. */
  offset: number;
  reason: string;
  /** The frame's header is all zeros: a never-written page, which a bit flip cannot produce. */
  zeroHeader: boolean;
  /** End of the damaged frame as far as its header can be trusted. */
  extentEnd: number;
}

/** Decides whether damage in the last segment is a torn tail (returned) or corruption (thrown). */
function repairableTail(buf: Buffer, options: ScanOptions, damage: Damage): Pick<SegmentScan, 'tornTail' | 'dirtyEnd'> {
  const { offset, reason } = damage;
  const later = findIntactFrames(buf, offset + frameAlignBytes, options.recordBytesMax);
  if (later.syncStart !== undefined) {
    throw new WalCorruptError(
      options.file,
      offset,
      `${reason}, followed by an intact record at offset ${later.syncStart} written after a later fsync`,
    );
  }
  if (later.first !== undefined) {
    // A torn write leaves a never-written sector inside the damaged frame,
    // before the next intact record; a bit flip does not.
    const torn = damage.zeroHeader || hasZeroSector(buf, offset, Math.min(damage.extentEnd, later.first));
    if (!torn) {
      throw new WalCorruptError(options.file, offset, `${reason}, followed by an intact record at offset ${later.first}`);
    }
  }
  return { tornTail: { offset, reason }, dirtyEnd: Math.max(offset, lastNonZero(buf, offset) + 1) };
}

/**
 * Looks at every aligned offset from `from` for a frame that is intact on its
 * own. Cheap header checks reject almost every offset before any crc is computed.
 */
export function findIntactFrames(
  buf: Buffer,
  from: number,
  recordBytesMax: number,
): { first: number | undefined; syncStart: number | undefined } {
  let first: number | undefined;
  const start = Math.ceil(from / frameAlignBytes) * frameAlignBytes;
  for (let at = start; at + frameHeaderBytes <= buf.length; at += frameAlignBytes) {
    const type = buf[at + 12]!;
    if (type === 0 || type > recordTypeMax || buf[at + 14] !== 0 || buf[at + 15] !== 0 || buf[at + 13]! > flagSyncStart) continue;
    const check = checkFrame(buf, at, recordBytesMax);
    if (!check.ok) continue;
    first ??= at;
    if ((check.frame.flags & flagSyncStart) !== 0) return { first, syncStart: at };
  }
  return { first, syncStart: undefined };
}

/** True when some whole sector of the file that overlaps [from, to) is all zeros. */
export function hasZeroSector(buf: Buffer, from: number, to: number): boolean {
  for (let sector = Math.floor(from / sectorBytes) * sectorBytes; sector < to; sector += sectorBytes) {
    // The sector `from` falls in may start with bytes an earlier, synced batch wrote there;
    // if the rewrite of that sector never reached the disk, it still holds those bytes and
    // then the zeros it was preallocated with: what follows `from` in it is all zero.
    if (isZero(buf, Math.max(sector, from), Math.min(sector + sectorBytes, buf.length))) return true;
  }
  return false;
}

const zeros = Buffer.alloc(64 * 1024);

export function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += zeros.length) {
    const end = Math.min(to, at + zeros.length);
    if (!buf.subarray(at, end).equals(zeros.subarray(0, end - at))) return false;
  }
  return true;
}

/** Index of the last non-zero byte at or after `from`, or from - 1 when there is none. */
export function lastNonZero(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end > from) {
    const start = Math.max(from, end - zeros.length);
    if (!isZero(buf, start, end)) {
      for (let i = end - 1; i >= start; i--) if (buf[i] !== 0) return i;
    }
    end = start;
  }
  return from - 1;
}
