import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { failpoint } from '../failpoint.js';
import { crc32c } from './crc32c.js';
import { SnapshotCorruptError } from './errors.js';
import { fsyncDir, isNotFound, mkdirDurable, privateFileMode, readWhole, writeFully } from './fs-util.js';
import { hex16 } from './segment-name.js';

/**
 * Raft snapshot files: `<term:016x>-<index:016x>.snap` in the snapshot
 * directory, one etcdtspb.Snapshot each, written atomically (temporary file,
 * fsync, rename, directory fsync) so that a crash never leaves a half file
 * under a real name. Layout, little-endian:
 *
 *   offset  size  field
 *        0     4  crc      CRC-32C of bytes [4, end of file)
 *        4     4  magic    "ETSS"
 *        8     8  length   payload bytes: must equal the file size minus 16
 *       16  length payload  etcdtspb.Snapshot (data + metadata)
 *
 * A file that fails any check is renamed to `<name>.broken` (as etcd does)
 * and the next older one is tried.
 */

export const snapshotSuffix = '.snap';
export const snapshotBrokenSuffix = '.broken';
const tempSuffix = '.tmp';
const headerBytes = 16;
const magic = 0x53535445; // "ETSS" read as a little-endian u32
/** Largest snapshot file read into memory (a Buffer's practical limit). */
export const snapshotFileBytesMax = 2 ** 31 - 1;

/** Snapshot files kept by default (etcd --max-snapshots). */
export const snapshotFilesMaxDefault = 5;

const namePattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapshotterOptions {
  /** Keep at most this many snapshot files; older ones are removed after each save. 0 keeps all. */
  filesMax?: number;
  /** Never fsync (etcd --unsafe-no-fsync). */
  noSync?: boolean;
}

export class Snapshotter {
  private readonly filesMax: number;
  private readonly noSync: boolean;

  constructor(
    readonly dir: string,
    options: SnapshotterOptions = {},
  ) {
    this.filesMax = options.filesMax ?? snapshotFilesMaxDefault;
    this.noSync = options.noSync ?? false;
  }

  static fileName(term: bigint, index: bigint): string {
    return `${hex16(term)}-${hex16(index)}${snapshotSuffix}`;
  }

  /**
   * Saves `snapshot` durably, then purges old files beyond filesMax. An
   * empty snapshot (index 0) is not saved, as in etcd.
   */
  async save(snapshot: Snapshot): Promise<void> {
    const meta = snapshot.metadata;
    if (meta === undefined || meta.index === 0n) return;
    const name = Snapshotter.fileName(meta.term, meta.index);
    const path = join(this.dir, name);
    const payload = Snapshot.encode(snapshot).finish();
    const buf = Buffer.allocUnsafe(headerBytes + payload.length);
    buf.writeUInt32LE(magic, 4);
    buf.writeBigUInt64LE(BigInt(payload.length), 8);
    buf.set(payload, headerBytes);
    buf.writeUInt32LE(crc32c(0, buf, 4), 0);
    await mkdirDurable(this.dir);
    const fh = await open(path + tempSuffix, 'w', privateFileMode);
    try {
      await writeFully(fh, buf, 0);
      if (!this.noSync) await fh.sync();
    } finally {
      await fh.close();
    }
    failpoint('snapBeforeRename');
    await rename(path + tempSuffix, path);
    if (!this.noSync) await fsyncDir(this.dir);
    failpoint('snapAfterSave');
    if (this.filesMax > 0) await this.purge(this.filesMax);
  }

  /** The newest snapshot that reads back intact, or undefined when there is none. */
  async load(): Promise<Snapshot | undefined> {
    return this.loadMatching(() => true);
  }

  /**
   * The newest intact snapshot whose {index, term} the WAL holds a marker
   * for (markers from Wal.readSnapshotMarkers): a snapshot file without a
   * marker may be newer than anything the WAL can continue from.
   */
  async loadNewestAvailable(markers: readonly { index: bigint; term: bigint }[]): Promise<Snapshot | undefined> {
    const wanted = new Set(markers.map((m) => `${m.term}-${m.index}`));
    return this.loadMatching((s) => wanted.has(`${s.metadata!.term}-${s.metadata!.index}`));
  }

  /** Removes all but the newest `keep` snapshot files; resolves with the number removed. */
  async purge(keep: number): Promise<number> {
    const names = await this.names();
    let removed = 0;
    for (const name of names.slice(keep)) {
      await unlink(join(this.dir, name));
      removed++;
    }
    if (removed > 0) await fsyncDir(this.dir);
    return removed;
  }

  /** Snapshot file names, newest first (fixed-width hex sorts as numbers). */
  async names(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return names.filter((n) => namePattern.test(n)).sort().reverse();
  }

  /**
   * Reads and checks one snapshot file; throws SnapshotCorruptError when it
   * cannot be trusted. Never allocates from the length field: the file size
   * bounds the read and the length must match it exactly.
   */
  static async read(path: string): Promise<Snapshot> {
    const { size } = await stat(path);
    if (size < headerBytes) throw new SnapshotCorruptError(path, `file of ${size} bytes is shorter than its header`);
    if (size > snapshotFileBytesMax) throw new SnapshotCorruptError(path, `file of ${size} bytes is too large`);
    const buf = await readWhole(path, size);
    if (buf.readUInt32LE(4) !== magic) throw new SnapshotCorruptError(path, 'bad magic number');
    const length = buf.readBigUInt64LE(8);
    if (length !== BigInt(buf.length - headerBytes)) {
      throw new SnapshotCorruptError(path, `length field ${length} does not match the file size ${buf.length}`);
    }
    const stored = buf.readUInt32LE(0);
    const actual = crc32c(0, buf, 4);
    if (stored !== actual) throw new SnapshotCorruptError(path, 'crc mismatch');
    let snapshot: Snapshot;
    try {
      snapshot = Snapshot.decode(buf.subarray(headerBytes));
    } catch (err) {
      throw new SnapshotCorruptError(path, `undecodable snapshot: ${(err as Error).message}`);
    }
    const meta = snapshot.metadata;
    const base = basename(path);
    if (meta === undefined || base !== Snapshotter.fileName(meta.term, meta.index)) {
      throw new SnapshotCorruptError(path, 'snapshot metadata does not match the file name');
    }
    return snapshot;
  }

  private async loadMatching(match: (s: Snapshot) => boolean): Promise<Snapshot | undefined> {
    await this.removeTemps();
    for (const name of await this.names()) {
      const path = join(this.dir, name);
      let snapshot: Snapshot;
      try {
        snapshot = await Snapshotter.read(path);
      } catch (err) {
        if (!(err instanceof SnapshotCorruptError)) throw err;
        // Keep the bytes for a post-mortem but never look at them again.
        await rename(path, path + snapshotBrokenSuffix);
        continue;
      }
      if (match(snapshot)) return snapshot;
    }
    return undefined;
  }

  /** Temporary files are what a crash during save() left behind: never complete, always safe to drop. */
  private async removeTemps(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const name of names) {
      if (name.endsWith(snapshotSuffix + tempSuffix)) await unlink(join(this.dir, name));
    }
  }
}
