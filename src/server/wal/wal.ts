import assert from 'node:assert';
import { open, readdir, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HardState, SnapshotMetadata, type Entry } from '../../proto/gen/etcdtspb/raft.js';
import { encodeEntry } from '../../proto/fast/codecs.js';
import { walRecordBytesMax, walSegmentBytes } from '../constants.js';
import { failpoint, failpointAsync } from '../failpoint.js';
import { DirLock } from './dir-lock.js';
import {
  WalClosedError,
  WalError,
  WalExistsError,
  WalNotFoundError,
  WalRecordTooLargeError,
  WalSnapshotNotFoundError,
} from './errors.js';
import { fsyncDir, isNotFound, mkdirDurable, privateFileMode, writeFully, writeFullySync, zeroRange } from './fs-util.js';
import { RecordType, encodeSegmentHeader, flagSyncStart, frameBytes, writeFrame } from './record.js';
import { listSegments, segmentName, segmentTempSuffix, type SegmentFile } from './segment-name.js';
import { readWal, segmentFileBytesMax, type SnapshotMarker, type WalReadResult } from './wal-read.js';

export type { SnapshotMarker } from './wal-read.js';

/**
 * The write-ahead log: Raft's entries, hard state and snapshot markers, made
 * durable before the member acts on them. Record framing and recovery rules
 * are documented in record.ts and segment-scan.ts; this file is the writer.
 *
 * Writes are group-committed: every save() is queued, and the queue is
 * drained in order by one loop that writes all queued records with one
 * write and one fdatasync, then resolves every call in the batch. A save()
 * resolves only after the fdatasync that covers its records.
 *
 * After any failed write or fsync the WAL refuses all further calls
 * (WalClosedError): the kernel may have dropped the pages, so a retried fsync
 * could succeed over lost data.
 */

export interface WalOptions {
  /** Preallocated size of a segment file; a new segment is cut when the next record would not fit. */
  segmentBytes?: number;
  /**
   * Segment files kept (etcd --max-wals): releaseLockTo removes released
   * segments only while more than this many exist; 0 never removes any.
   * Unset: every released segment is removed.
   */
  filesMax?: number;
  /** Never fsync (etcd --unsafe-no-fsync): a crash may lose acknowledged writes. */
  noSync?: boolean;
}

export interface OpenedWal {
  wal: Wal;
  metadata: Buffer;
  hardState: HardState;
  /** Entries after the snapshot index, contiguous, later records overriding earlier ones. */
  entries: Entry[];
}

interface PendingRecord {
  type: RecordType;
  payload: Uint8Array;
  /** Entry or marker index, to track the last index written. */
  index?: bigint;
  hardState?: HardState;
}

type Item =
  | {
      kind: 'records';
      records: PendingRecord[];
      hardState: HardState | undefined;
      bytes: number;
      /** False for a hard state that only moves the commit index: written, not synced (unless a batch it joins is). */
      sync: boolean;
      resolve: () => void;
      reject: (err: unknown) => void;
    }
  | { kind: 'purge'; index: bigint; resolve: (removed: number) => void; reject: (err: unknown) => void }
  | { kind: 'close'; resolve: () => void; reject: (err: unknown) => void };

/** Counters for metrics and benchmarks (etcd exports wal_fsync_duration_seconds). */
export interface WalStats {
  /** fdatasync/fsync calls on segment files (appends and cuts). */
  syncs: number;
  /** save() and saveSnapshot() calls resolved. */
  saves: number;
  /** Records and bytes written, padding included. */
  records: number;
  bytes: number;
  /** Segments cut. */
  cuts: number;
}

/** Most record bytes merged into one write + fdatasync. */
const batchBytesMax = 16 * 1024 * 1024;
/**
 * Batches up to this size are written to the page cache from the event loop
 * (tens of microseconds), so that the fdatasync is the only trip to the
 * thread pool: an asynchronous write first cost a second trip, a few hundred
 * microseconds of a write's latency on a busy machine. Larger batches, which
 * would hold the loop for longer, are written asynchronously.
 */
const inlineWriteBytesMax = 64 * 1024;

export class Wal {
  private readonly counters: WalStats = { syncs: 0, saves: 0, records: 0, bytes: 0, cuts: 0 };
  private queue: Item[] = [];
  private draining = false;
  private failure: unknown = undefined;
  /** Set by close(): every later call fails with WalClosedError. */
  private closed: Promise<void> | undefined;
  /** The next frame written is the first after an fsync: it gets flagSyncStart. */
  private syncStart = true;
  /** Last entry index and hard state accepted by save() (ahead of what is on disk while queued). */
  private queuedLastIndex: bigint;
  private queuedHardState: HardState;
  /**
   * Told how long each sync of the segment being written took, in seconds,
   * where etcd observes etcd_disk_wal_fsync_duration_seconds (appends and cuts).
   */
  onSyncSeconds: ((seconds: number) => void) | undefined;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly options: WalOptions,
    private readonly metadata: Buffer,
    private readonly lock: DirLock,
    /** Every segment file on disk, oldest first; the last one is the tail being appended to. */
    private readonly segments: SegmentFile[],
    private tailFile: FileHandle,
    /** Where the next frame goes in the tail segment. */
    private offset: number,
    /** End of the tail segment's header records: a segment with nothing past it is never cut. */
    private tailHeaderEnd: number,
    private lastCrc: number,
    /** Last entry (or marker) index written: names the next segment. */
    private lastIndex: bigint,
    /** Last hard state written: repeated at the head of every new segment. */
    private hardState: HardState,
  ) {
    this.queuedLastIndex = lastIndex;
    this.queuedHardState = hardState;
  }

  /** True when `dir` holds at least one WAL segment. */
  static async exists(dir: string): Promise<boolean> {
    return (await listSegments(dir)).segments.length > 0;
  }

  /**
   * Creates a WAL in `dir` holding `metadata` and a snapshot marker at {0, 0}.
   * It is built in `<dir>.tmp`, synced and renamed into place, so a crash
   * leaves either no WAL or a complete one.
   */
  static async create(dir: string, metadata: Uint8Array, options: WalOptions = {}): Promise<Wal> {
    const segmentBytes = checkOptions(options);
    checkRecordSize(metadata.length);
    if (await Wal.exists(dir)) throw new WalExistsError(dir);
    const tmp = dir.replace(/\/+$/, '') + '.tmp';
    await rm(tmp, { recursive: true, force: true });
    await mkdirDurable(tmp);
    const header = encodeFrames(
      [
        { type: RecordType.crc, payload: encodeSegmentHeader({ seq: 0n, firstIndex: 0n }) },
        { type: RecordType.metadata, payload: metadata },
        { type: RecordType.snapshot, payload: SnapshotMetadata.encode(SnapshotMetadata.create()).finish() },
      ],
      0,
      true,
    );
    const fh = await open(join(tmp, segmentName(0n, 0n)), 'wx', privateFileMode);
    try {
      await fh.truncate(segmentBytes);
      await writeFully(fh, header.buf, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsyncDir(tmp);
    failpoint('walBeforeCreateRename');
    await removeEmptyDir(dir);
    await rename(tmp, dir);
    await fsyncDir(dirname(dir));
    const { wal } = await Wal.open(dir, { index: 0n, term: 0n }, options);
    return wal;
  }

  /**
   * Opens the WAL for appending, replaying it from the snapshot at `from`
   * (whose marker must be in the WAL). A torn tail left by a crash is cut
   * off and zeroed; any other damage throws WalCorruptError.
   */
  static async open(dir: string, from: { index: bigint; term: bigint }, options: WalOptions = {}): Promise<OpenedWal> {
    const segmentBytes = checkOptions(options);
    const listing = await listSegments(dir);
    if (listing.segments.length === 0) throw new WalNotFoundError(dir, 'no WAL segment files');
    const lock = await DirLock.acquire(dir);
    try {
      const segments = listing.segments;
      const start = findSegmentCovering(segments, from.index);
      if (start < 0) {
        throw new WalSnapshotNotFoundError(dir, from.index, from.term, `the oldest segment ${segments[0]!.name} starts after it`);
      }
      const read = await readWal(segments.slice(start), {
        from: from.index,
        collectEntries: true,
        recordBytesMax: walRecordBytesMax,
      });
      if (read.fromTerm !== from.term) {
        const found = read.fromTerm === undefined ? '' : `the marker at that index has term ${read.fromTerm}`;
        throw new WalSnapshotNotFoundError(dir, from.index, from.term, found);
      }
      const tailFile = await prepareTail(dir, read, listing.temps, segmentBytes);
      const kept = segments.filter((s) => s !== read.incompleteSegment);
      const wal = new Wal(
        dir,
        segmentBytes,
        options,
        read.metadata,
        lock,
        kept,
        tailFile,
        read.tail.scan.endOffset,
        read.tail.headerEnd,
        read.tail.scan.lastCrc ?? 0,
        read.lastIndex,
        read.hardState,
      );
      return { wal, metadata: read.metadata, hardState: read.hardState, entries: read.entries };
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * The snapshot markers of the WAL in `dir` whose index is committed by the
   * WAL's last hard state (etcd's ValidSnapshotEntries): the snapshots a
   * member may recover from. Reads without locking and repairs nothing.
   */
  static async readSnapshotMarkers(dir: string): Promise<SnapshotMarker[]> {
    const { segments } = await listSegments(dir);
    if (segments.length === 0) throw new WalNotFoundError(dir, 'no WAL segment files');
    const read = await readWal(segments, { from: 0n, collectEntries: false, recordBytesMax: walRecordBytesMax });
    return read.markers.filter((m) => m.index <= read.hardState.commit);
  }

  /**
   * Appends `entries` (contiguous; the first may be at or below the last
   * index, overwriting from there) and then `hardState`, and resolves once
   * they are fsynced. Concurrent calls are written in call order and share
   * fsyncs. A hard state equal to the last one is not written again.
   */
  async save(hardState: HardState | undefined, entries: readonly Entry[]): Promise<void> {
    this.checkOpen();
    if (hardState !== undefined) checkHardStateOrder(this.queuedHardState, hardState);
    if (entries.length === 0 && hardState !== undefined && !mustSync(this.queuedHardState, hardState)) {
      // Only the commit index moved (etcd's raft.MustSync): Raft need not have it durable, as
      // it learns it again from the leader and a restart raises it to the applied index. It is
      // written in order, to the page cache (a killed process keeps it), and not waited for:
      // syncing it put an fsync between each commit and the next Ready, on every member.
      this.queuedHardState = hardState;
      const bytes = frameBytes(HardState.encode(hardState).finish().length);
      this.enqueue({ kind: 'records', records: [], hardState, bytes, sync: false, resolve: () => {}, reject: () => {} });
      return;
    }
    const records: PendingRecord[] = [];
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const expected = i === 0 ? undefined : entries[i - 1]!.index + 1n;
      assert(expected === undefined || entry.index === expected, `entries not contiguous at ${entry.index}`);
      const payload = encodeEntry(entry);
      checkRecordSize(payload.length);
      records.push({ type: RecordType.entry, payload, index: entry.index });
      bytes += frameBytes(payload.length);
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      assert(first >= 1n && first <= this.queuedLastIndex + 1n, `entry ${first} would leave a gap after ${this.queuedLastIndex}`);
      this.queuedLastIndex = entries[entries.length - 1]!.index;
    }
    if (hardState !== undefined) this.queuedHardState = hardState;
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'records', records, hardState, bytes, sync: true, resolve, reject });
    });
  }

  /** Records (and fsyncs) that a snapshot at {index, term} exists; Wal.open can then start from it. */
  async saveSnapshot(marker: SnapshotMarker): Promise<void> {
    this.checkOpen();
    const payload = SnapshotMetadata.encode({
      index: marker.index,
      term: marker.term,
      confState: marker.confState,
    }).finish();
    if (marker.index > this.queuedLastIndex) this.queuedLastIndex = marker.index;
    const records = [{ type: RecordType.snapshot, payload, index: marker.index }];
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'records', records, hardState: undefined, bytes: frameBytes(payload.length), sync: true, resolve, reject });
    });
  }

  /**
   * Removes the segment files that hold only entries older than `index`
   * (once a state-machine snapshot at `index` is safely saved): every
   * segment before the one containing `index`. The tail segment is never
   * removed. Resolves with the number of files removed.
   */
  async releaseLockTo(index: bigint): Promise<number> {
    this.checkOpen();
    return new Promise((resolve, reject) => this.enqueue({ kind: 'purge', index, resolve, reject }));
  }

  /** Waits for queued writes, then closes the files and releases the directory lock. */
  async close(): Promise<void> {
    this.closed ??= new Promise((resolve, reject) => this.enqueue({ kind: 'close', resolve, reject }));
    return this.closed;
  }

  stats(): WalStats {
    return { ...this.counters };
  }

  /** Names of the segment files, oldest first (for tests and status output). */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  private checkOpen(): void {
    if (this.closed !== undefined) throw new WalClosedError(this.dir);
    if (this.failure !== undefined) throw new WalClosedError(this.dir, this.failure);
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'close') {
        this.queue.shift();
        await this.closeFiles().then(head.resolve, head.reject);
      } else if (this.failure !== undefined) {
        this.queue.shift();
        head.reject(new WalClosedError(this.dir, this.failure));
      } else if (head.kind === 'purge') {
        this.queue.shift();
        await this.purge(head.index).then(head.resolve, head.reject);
      } else {
        const batch = this.takeBatch();
        try {
          await this.writeBatch(batch);
          this.counters.saves += batch.length;
          for (const item of batch) item.resolve();
        } catch (err) {
          this.failure = err;
          for (const item of batch) item.reject(err);
        }
      }
    }
    this.draining = false;
  }

  /** Takes the queued saves at the head of the queue, up to batchBytesMax (at least one). */
  private takeBatch(): Extract<Item, { kind: 'records' }>[] {
    const batch: Extract<Item, { kind: 'records' }>[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind !== 'records' || (batch.length > 0 && bytes + head.bytes > batchBytesMax)) break;
      this.queue.shift();
      batch.push(head);
      bytes += head.bytes;
    }
    return batch;
  }

  /**
   * Writes the batch's records, cutting a new segment whenever the next
   * record would not fit in the tail (a record larger than a whole segment
   * still gets a segment of its own). One fdatasync per segment written.
   */
  private async writeBatch(batch: Extract<Item, { kind: 'records' }>[]): Promise<void> {
    const records = this.collectRecords(batch);
    const sync = batch.some((item) => item.sync);
    let group: PendingRecord[] = [];
    let groupBytes = 0;
    for (const record of records) {
      const size = frameBytes(record.payload.length);
      const hasData = group.length > 0 || this.offset > this.tailHeaderEnd;
      if (hasData && this.offset + groupBytes + size > this.segmentBytes) {
        if (group.length > 0) await this.appendAndSync(group);
        group = [];
        groupBytes = 0;
        await this.cut();
      }
      group.push(record);
      groupBytes += size;
    }
    if (group.length > 0) await this.appendAndSync(group, sync);
  }

  /** Flattens the batch into records, dropping hard states equal to the one before them. */
  private collectRecords(batch: Extract<Item, { kind: 'records' }>[]): PendingRecord[] {
    const records: PendingRecord[] = [];
    let hardState = this.hardState;
    for (const item of batch) {
      records.push(...item.records);
      if (item.hardState !== undefined && !hardStateEqual(item.hardState, hardState)) {
        hardState = item.hardState;
        records.push({ type: RecordType.hardState, payload: HardState.encode(hardState).finish(), hardState });
      }
    }
    return records;
  }

  /**
   * Writes the records and, when `sync`, fdatasyncs them. Unsynced records
   * start no sync group of their own: the next synced write covers them and
   * continues the group they opened.
   */
  private async appendAndSync(records: PendingRecord[], sync = true): Promise<void> {
    const { buf, lastCrc } = encodeFrames(records, this.lastCrc, this.syncStart);
    this.syncStart = false;
    if (buf.length <= inlineWriteBytesMax) writeFullySync(this.tailFile.fd, buf, this.offset);
    else await writeFully(this.tailFile, buf, this.offset);
    this.offset += buf.length;
    this.lastCrc = lastCrc;
    for (const record of records) {
      if (record.type === RecordType.entry) this.lastIndex = record.index!;
      else if (record.type === RecordType.snapshot && record.index! > this.lastIndex) this.lastIndex = record.index!;
      else if (record.type === RecordType.hardState) this.hardState = record.hardState!;
    }
    this.counters.records += records.length;
    this.counters.bytes += buf.length;
    if (!sync) return;
    await failpointAsync('walBeforeSync');
    if (this.options.noSync !== true) {
      await this.timedSync(() => this.tailFile.datasync());
      this.counters.syncs++;
    }
    await failpointAsync('walAfterSync');
    this.syncStart = true;
  }

  private async timedSync(sync: () => Promise<void>): Promise<void> {
    const started = performance.now();
    await sync();
    this.onSyncSeconds?.((performance.now() - started) / 1000);
  }

  /**
   * Closes the tail (trimmed to its last record, synced) and starts the next
   * segment: built under a temporary name with its header (crc record,
   * metadata, hard state), synced, renamed into place, directory synced. A
   * crash at any point leaves either the old tail or a complete new segment.
   */
  private async cut(): Promise<void> {
    failpoint('walBeforeCut');
    await this.tailFile.truncate(this.offset);
    if (this.options.noSync !== true) await this.timedSync(() => this.tailFile.sync());
    const previous = this.segments[this.segments.length - 1]!;
    const seq = previous.seq + 1n;
    const firstIndex = this.lastIndex + 1n;
    const name = segmentName(seq, firstIndex);
    const path = join(this.dir, name);
    const header: PendingRecord[] = [
      { type: RecordType.crc, payload: encodeSegmentHeader({ seq, firstIndex }) },
      { type: RecordType.metadata, payload: this.metadata },
    ];
    if (!hardStateEqual(this.hardState, HardState.create())) {
      header.push({ type: RecordType.hardState, payload: HardState.encode(this.hardState).finish() });
    }
    const { buf, lastCrc } = encodeFrames(header, this.lastCrc, true);
    const fh = await open(path + segmentTempSuffix, 'w+', privateFileMode);
    try {
      await fh.truncate(this.segmentBytes);
      await writeFully(fh, buf, 0);
      if (this.options.noSync !== true) await fh.sync();
      await rename(path + segmentTempSuffix, path);
      if (this.options.noSync !== true) await fsyncDir(this.dir);
    } catch (err) {
      await fh.close();
      throw err;
    }
    await this.tailFile.close();
    this.tailFile = fh;
    this.segments.push({ seq, firstIndex, name, path });
    this.offset = buf.length;
    this.tailHeaderEnd = buf.length;
    this.lastCrc = lastCrc;
    this.syncStart = true;
    if (this.options.noSync !== true) this.counters.syncs += 2;
    this.counters.cuts++;
    failpoint('walAfterCut');
  }

  private async purge(index: bigint): Promise<number> {
    const releasable = Math.min(findSegmentCovering(this.segments, index), this.segments.length - 1);
    const filesMax = this.options.filesMax;
    // --max-wals: released segments stay while the directory holds no more than filesMax.
    const keepFrom = filesMax === undefined ? releasable : filesMax === 0 ? 0 : Math.min(releasable, this.segments.length - filesMax);
    if (keepFrom <= 0) return 0;
    failpoint('walBeforePurge');
    // Oldest first, so that a crash midway leaves a gap-free run of segments.
    let removed = 0;
    try {
      for (; removed < keepFrom; removed++) await unlink(this.segments[removed]!.path);
    } finally {
      this.segments.splice(0, removed);
      if (removed > 0) await fsyncDir(this.dir);
    }
    return removed;
  }

  private async closeFiles(): Promise<void> {
    try {
      await this.tailFile.close();
    } finally {
      await this.lock.release();
    }
  }
}

function checkOptions(options: WalOptions): number {
  const segmentBytes = options.segmentBytes ?? walSegmentBytes;
  assert(
    Number.isSafeInteger(segmentBytes) && segmentBytes >= 4096 && segmentBytes % 4096 === 0,
    'segmentBytes must be a positive multiple of 4096',
  );
  assert(segmentBytes + walRecordBytesMax + 4096 <= segmentFileBytesMax, 'segmentBytes too large for the reader');
  return segmentBytes;
}

function checkRecordSize(bytes: number): void {
  if (bytes > walRecordBytesMax) throw new WalRecordTooLargeError(bytes, walRecordBytesMax);
}

/** etcd's raft.MustSync: a new term or vote must be durable before Raft acts on it; a new commit index need not. */
function mustSync(before: HardState, after: HardState): boolean {
  return after.term !== before.term || after.vote !== before.vote;
}

/** Raft never lowers its term or commit index, and votes at most once per term. */
function checkHardStateOrder(before: HardState, after: HardState): void {
  assert(after.term >= before.term, `hard state term went back from ${before.term} to ${after.term}`);
  assert(after.commit >= before.commit, `hard state commit went back from ${before.commit} to ${after.commit}`);
  assert(
    after.term > before.term || before.vote === 0n || after.vote === before.vote,
    `vote changed from ${before.vote} to ${after.vote} within term ${after.term}`,
  );
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Index of the last segment whose firstIndex is at or below `index` (-1 if none). */
function findSegmentCovering(segments: readonly SegmentFile[], index: bigint): number {
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i]!.firstIndex <= index) return i;
  return -1;
}

function encodeFrames(
  records: readonly { type: RecordType; payload: Uint8Array }[],
  prevCrc: number,
  syncStart: boolean,
): { buf: Buffer; lastCrc: number } {
  let total = 0;
  for (const record of records) total += frameBytes(record.payload.length);
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  let crc = prevCrc;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    crc = writeFrame(buf, at, record.type, i === 0 && syncStart ? flagSyncStart : 0, crc, record.payload);
    at += frameBytes(record.payload.length);
  }
  return { buf, lastCrc: crc };
}

/**
 * Makes the tail segment ready for appending: drops a segment left by an
 * interrupted cut, zeroes the torn tail (so stale bytes can never be read
 * as records after new ones), restores the preallocated size and removes
 * temporary files, syncing what changed.
 */
async function prepareTail(dir: string, read: WalReadResult, temps: string[], segmentBytes: number): Promise<FileHandle> {
  let dirChanged = false;
  for (const temp of temps) {
    await unlink(temp);
    dirChanged = true;
  }
  if (read.incompleteSegment !== undefined) {
    await unlink(read.incompleteSegment.path);
    dirChanged = true;
  }
  if (dirChanged) await fsyncDir(dir);
  const { scan, fileBytes } = read.tail;
  const fh = await open(read.tail.segment.path, 'r+');
  try {
    let changed = false;
    if (scan.dirtyEnd > scan.endOffset) {
      await zeroRange(fh, scan.endOffset, scan.dirtyEnd);
      changed = true;
    }
    if (fileBytes < segmentBytes) {
      await fh.truncate(segmentBytes);
      changed = true;
    }
    if (changed) await fh.sync();
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}

/** Wal.create renames its temporary directory onto `dir`, which may exist only if empty. */
async function removeEmptyDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (names.length > 0) throw new WalError(`wal: cannot create a WAL in ${dir}: the directory is not empty`);
  await rmdir(dir);
}
