import assert from 'node:assert';
import { open, stat } from 'node:fs/promises';
import { readWhole } from './fs-util.js';
import { Entry, HardState, SnapshotMetadata, type ConfState } from '../../proto/gen/etcdtspb/raft.js';
import { WalCorruptError } from './errors.js';
import { RecordType, decodeSegmentHeader, type Frame } from './record.js';
import { scanSegment, type SegmentScan } from './segment-scan.js';
import type { SegmentFile } from './segment-name.js';

/**
 * Replays segment files into the state the WAL describes: metadata, the
 * latest hard state, the entries after a snapshot (a later entry at index i
 * replaces i and everything after it, as Raft truncates a conflicting
 * suffix) and the snapshot markers. Everything a crc-valid record claims is
 * still checked (segment structure, metadata equality, index continuity),
 * because a crc only proves the bytes are the ones written, not that they
 * belong here.
 */

/** A snapshot marker record: Raft saved (or received) a snapshot at {index, term}. */
export interface SnapshotMarker {
  index: bigint;
  term: bigint;
  confState?: ConfState | undefined;
}

/** Largest segment file we agree to read into memory (segments are cut at segmentBytes, 64 MiB by default). */
export const segmentFileBytesMax = 1024 * 1024 * 1024;

export interface WalReadResult {
  metadata: Buffer;
  hardState: HardState;
  /** Entries after `from.index`, contiguous, overwrite rule applied. */
  entries: Entry[];
  markers: SnapshotMarker[];
  /** Term of the marker at `from.index`, if one was read. */
  fromTerm: bigint | undefined;
  /** Index of the last entry (or marker) written, the firstIndex of the next segment minus one. */
  lastIndex: bigint;
  tail: TailState;
  /** The last segment held no complete header (an interrupted cut): remove it before appending. */
  incompleteSegment: SegmentFile | undefined;
}

export interface TailState {
  segment: SegmentFile;
  scan: SegmentScan;
  /** Offset just past the segment's crc and metadata records. */
  headerEnd: number;
  fileBytes: number;
}

interface Replay {
  from: bigint;
  collectEntries: boolean;
  metadata: Buffer | undefined;
  hardState: HardState;
  entries: Entry[];
  markers: SnapshotMarker[];
  fromTerm: bigint | undefined;
  lastIndex: bigint;
}

export interface ReadWalOptions {
  /** Index of the snapshot the caller recovers from: entries at or below it are not returned. */
  from: bigint;
  /** False when only markers and the hard state matter (reading for snapshot selection). */
  collectEntries: boolean;
  recordBytesMax: number;
}

export async function readWal(segments: readonly SegmentFile[], options: ReadWalOptions): Promise<WalReadResult> {
  assert(segments.length > 0);
  const { from, collectEntries, recordBytesMax } = options;
  const replay: Replay = {
    from,
    collectEntries,
    metadata: undefined,
    hardState: HardState.create(),
    entries: [],
    markers: [],
    fromTerm: undefined,
    lastIndex: 0n,
  };
  let chain: number | undefined = segments[0]!.seq === 0n ? 0 : undefined;
  let tail: TailState | undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const previous = segments[i - 1];
    if (previous !== undefined && segment.seq !== previous.seq + 1n) {
      throw new WalCorruptError(segment.path, 0, `segment ${segment.seq} follows segment ${previous.seq}: a segment is missing or duplicated`);
    }
    const isLast = i === segments.length - 1;
    const { buf, fileBytes } = await readSegmentFile(segment.path, recordBytesMax);
    const scan = scanSegment(buf, { file: segment.path, isLast, chainIn: chain, recordBytesMax });
    if (scan.frames.length < 2) {
      // Only the last segment may lack its header, and only if a segment
      // before it can take over as the tail: a cut that never completed.
      const at = scan.tornTail?.offset ?? scan.endOffset;
      if (!isLast || tail === undefined) throw new WalCorruptError(segment.path, at, 'segment has no complete header');
      return finish(replay, tail, segment);
    }
    checkHeader(segment, scan.frames);
    for (const frame of scan.frames) applyFrame(replay, segment, frame);
    chain = scan.lastCrc;
    // Keep only what the writer needs from the scan: its frames are views into
    // the whole segment buffer (64 MiB preallocated), which must not outlive the read.
    tail = { segment, scan: { ...scan, frames: [] }, headerEnd: scan.frames[1]!.offset + scan.frames[1]!.bytes, fileBytes };
  }
  return finish(replay, tail!, undefined);
}

function finish(replay: Replay, tail: TailState, incompleteSegment: SegmentFile | undefined): WalReadResult {
  assert(replay.metadata !== undefined);
  return {
    metadata: replay.metadata,
    hardState: replay.hardState,
    entries: replay.entries,
    markers: replay.markers,
    fromTerm: replay.fromTerm,
    lastIndex: replay.lastIndex,
    tail,
    incompleteSegment,
  };
}

/**
 * Reads a segment for scanning. Segments are preallocated (64 MiB of which a
 * fresh one uses a few hundred bytes), so the file is read in chunks and the
 * scanner gets the data region followed by enough verified zeros to hold the
 * largest record a length field may announce: every byte left out is known
 * to be zero, which is all the torn-tail rules ask of the rest of the file.
 */
async function readSegmentFile(path: string, recordBytesMax: number): Promise<{ buf: Buffer; fileBytes: number }> {
  const { size } = await stat(path);
  if (size > segmentFileBytesMax) {
    throw new WalCorruptError(path, 0, `segment file of ${size} bytes exceeds the limit of ${segmentFileBytesMax} bytes`);
  }
  const chunkBytes = 1024 * 1024;
  const zeroSlackBytes = recordBytesMax + 64 * 1024;
  const fh = await open(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let read = 0;
    let dataEnd = 0;
    let skipping = false;
    const probe = Buffer.allocUnsafe(chunkBytes);
    while (read < size) {
      const want = Math.min(chunkBytes, size - read);
      const { bytesRead } = await fh.read(probe, 0, want, read);
      if (bytesRead === 0) break;
      const piece = probe.subarray(0, bytesRead);
      const nonZero = lastNonZeroIn(piece);
      if (nonZero >= 0) {
        // Data after a skipped run of zeros (damage far past the end): the
        // kept chunks would not be contiguous, so hand over the whole file.
        if (skipping) return { buf: await readWhole(path, size), fileBytes: size };
        dataEnd = read + nonZero + 1;
      }
      // Keep bytes up to the data end plus the zero slack; beyond it, only check for zeros.
      if (read < dataEnd + zeroSlackBytes) chunks.push(Buffer.from(piece));
      else skipping = true;
      read += bytesRead;
    }
    const kept = Math.min(read, dataEnd + zeroSlackBytes);
    return { buf: Buffer.concat(chunks).subarray(0, kept), fileBytes: read };
  } finally {
    await fh.close();
  }
}

function lastNonZeroIn(buf: Buffer): number {
  for (let i = buf.length - 1; i >= 0; i--) if (buf[i] !== 0) return i;
  return -1;
}

/** Every segment opens with its crc record (naming itself) and the metadata record. */
function checkHeader(segment: SegmentFile, frames: Frame[]): void {
  const first = frames[0]!;
  const header = first.type === RecordType.crc ? decodeSegmentHeader(first.payload) : undefined;
  if (header === undefined) {
    throw new WalCorruptError(segment.path, first.offset, `segment starts with a record of type ${first.type}, not a crc record`);
  }
  if (header.seq !== segment.seq || header.firstIndex !== segment.firstIndex) {
    throw new WalCorruptError(
      segment.path,
      first.offset,
      `segment header says segment ${header.seq} from index ${header.firstIndex}, which does not match the file name`,
    );
  }
  if (frames[1]!.type !== RecordType.metadata) {
    throw new WalCorruptError(segment.path, frames[1]!.offset, 'segment header is not followed by a metadata record');
  }
}

function applyFrame(replay: Replay, segment: SegmentFile, frame: Frame): void {
  const corrupt = (reason: string) => new WalCorruptError(segment.path, frame.offset, reason);
  switch (frame.type) {
    case RecordType.crc:
      if (frame.offset !== 0) throw corrupt('crc record in the middle of a segment');
      return;
    case RecordType.metadata:
      if (replay.metadata !== undefined && !replay.metadata.equals(frame.payload)) {
        throw corrupt('metadata differs from the metadata of earlier segments');
      }
      replay.metadata ??= Buffer.from(frame.payload);
      return;
    case RecordType.entry:
      applyEntry(replay, decode(Entry, frame, corrupt), corrupt);
      return;
    case RecordType.hardState:
      replay.hardState = decode(HardState, frame, corrupt);
      return;
    case RecordType.snapshot: {
      const snap = decode(SnapshotMetadata, frame, corrupt);
      replay.markers.push({ index: snap.index, term: snap.term, confState: snap.confState });
      if (snap.index === replay.from) replay.fromTerm = snap.term;
      if (snap.index > replay.lastIndex) replay.lastIndex = snap.index;
      return;
    }
  }
}

function applyEntry(replay: Replay, entry: Entry, corrupt: (reason: string) => WalCorruptError): void {
  if (replay.collectEntries && entry.index > replay.from) {
    // Position of this entry in the list of entries after the snapshot:
    // anything at or beyond it is an older suffix that Raft overwrote.
    const position = entry.index - replay.from - 1n;
    if (position > BigInt(replay.entries.length)) {
      const last = replay.from + BigInt(replay.entries.length);
      throw corrupt(`entry ${entry.index} does not follow the last entry ${last}: entries are missing`);
    }
    replay.entries.length = Number(position);
    replay.entries.push(entry);
  }
  replay.lastIndex = entry.index;
}

function decode<T>(
  codec: { decode(input: Uint8Array): T },
  frame: Frame,
  corrupt: (reason: string) => WalCorruptError,
): T {
  try {
    return codec.decode(frame.payload);
  } catch (err) {
    throw corrupt(`undecodable record of type ${frame.type}: ${(err as Error).message}`);
  }
}
