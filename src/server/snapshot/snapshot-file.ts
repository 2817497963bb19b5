import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OperatingError } from '../operating-error.js';
import { Backend } from '../mvcc/backend.js';
import { checkLmdbFile, LmdbFileError } from '../mvcc/lmdb-file.js';
import { hashBackend } from '../mvcc/hash.js';
import { bytesToRevision } from '../mvcc/revision.js';
import { readU64, u64 } from '../mvcc/kvstore.js';
import { ConfState, EntryType } from '../../proto/gen/etcdtspb/raft.js';
import { Wal } from '../wal/wal.js';
import { Snapshotter } from '../wal/snapshotter.js';
import { computeClusterId, computeMemberId } from '../membership/ids.js';
import { idKey, memberToWire, type MemberInfo } from '../membership/cluster.js';
import { Member as MemberCodec } from '../../proto/gen/etcdserverpb/rpc.js';
import { encodeWalMetadata } from '../etcdserver/bootstrap.js';
import { etcdSnapshotStatus, exportEtcdSnapshot, importEtcdDb, isBboltHeader } from './etcd-snapshot.js';

/**
 * Snapshot files as `snapshot save` writes them: the member's database (an
 * LMDB file, whose size is a multiple of the page size) followed by the
 * SHA-256 of those bytes, as etcd appends one to its bbolt file. A file
 * whose size is 32 bytes past a multiple of 512 carries the hash (etcd's
 * rule); a plain database file copied from a data dir has none.
 */
export const shaBytes = 32;

export class SnapshotFileError extends OperatingError {}

export interface SnapshotFileStatus {
  hash: number;
  revision: bigint;
  totalKey: number;
  totalSize: number;
}

export function hasTrailingHash(size: number): boolean {
  return size % 512 === shaBytes;
}

/** Checks the trailing SHA-256; refuses a truncated or altered file with one line. */
export async function verifySnapshotHash(path: string): Promise<{ dbBytes: number }> {
  if (!existsSync(path)) throw new SnapshotFileError(`open ${path}: no such file or directory`);
  const { size } = await stat(path);
  if (!hasTrailingHash(size)) throw new SnapshotFileError(`snapshot file ${path} has no integrity hash (${size} bytes): truncated or not a snapshot`);
  const dbBytes = size - shaBytes;
  const sha = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 0, end: dbBytes - 1, highWaterMark: 1 << 20 })) sha.update(chunk as Buffer);
  const expected = Buffer.alloc(shaBytes);
  const fh = await open(path, 'r');
  try {
    await fh.read(expected, 0, shaBytes, dbBytes);
  } finally {
    await fh.close();
  }
  const got = sha.digest();
  if (!got.equals(expected)) throw new SnapshotFileError(`snapshot file integrity check failed: expected sha256 ${expected.toString('hex')}, got ${got.toString('hex')}`);
  return { dbBytes };
}

/**
 * The bytes of the database in a snapshot file: all but the trailing
 * SHA-256, which is checked unless skipHashCheck (etcd's rules: a file
 * without one is refused unless the check is skipped).
 */
async function databaseBytes(path: string, skipHashCheck: boolean): Promise<number> {
  const { size } = await stat(path);
  if (hasTrailingHash(size)) return skipHashCheck ? size - shaBytes : (await verifySnapshotHash(path)).dbBytes;
  if (!skipHashCheck) throw new SnapshotFileError('snapshot missing hash but --skip-hash-check=false');
  return size;
}

/** Copies the database part of a snapshot file to `dest` (without the hash) and fsyncs it. */
async function extractDb(path: string, dest: string, dbBytes: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  await copyFile(path, dest);
  const fh = await open(dest, 'r+');
  try {
    await fh.truncate(dbBytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Puts the snapshot's database at `dest` as our backend: copied as it is
 * from an etcdts snapshot, converted from an etcd (bbolt) one.
 */
async function unpackDb(path: string, dest: string, skipHashCheck: boolean): Promise<{ format: SnapshotFormat; skippedBuckets: string[] }> {
  const format = await snapshotFormat(path);
  const dbBytes = await databaseBytes(path, skipHashCheck);
  if (format === 'etcdts') {
    await extractDb(path, dest, dbBytes);
    return { format, skippedBuckets: [] };
  }
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  const { skippedBuckets } = await importEtcdDb(path, dbBytes, dest);
  return { format, skippedBuckets };
}

export type SnapshotFormat = 'etcd' | 'etcdts';

/** Which kind of database a snapshot file holds, from its first page: etcd's bbolt or our LMDB. */
export async function snapshotFormat(path: string): Promise<SnapshotFormat> {
  const head = Buffer.alloc(32);
  const fh = await open(path, 'r');
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  return isBboltHeader(head) ? 'etcd' : 'etcdts';
}

/** Opens an extracted database and checks that it is an etcdts backend (structure first: see lmdb-file.ts). */
async function openChecked(dbPath: string): Promise<Backend> {
  try {
    await checkLmdbFile(dbPath);
  } catch (err) {
    if (err instanceof LmdbFileError) throw new SnapshotFileError(`not an etcdts snapshot: ${err.message}`);
    throw err;
  }
  let backend: Backend;
  try {
    backend = Backend.open(dbPath);
  } catch (err) {
    throw new SnapshotFileError(`not an etcdts snapshot: ${(err as Error).message}`);
  }
  if (backend.get('meta', Buffer.from('consistent_index')) === undefined) {
    void backend.close();
    throw new SnapshotFileError('not an etcdts snapshot: the database has no consistent index');
  }
  return backend;
}

/** Hash, revision, keys and size of a snapshot file, as `snapshot status` prints them. */
export async function snapshotStatus(path: string): Promise<SnapshotFileStatus> {
  const { dbBytes } = await verifySnapshotHash(path);
  if ((await snapshotFormat(path)) === 'etcd') return etcdSnapshotStatus(path, dbBytes);
  const tmpDir = join(dirname(path), `.snapshot-status-${process.pid}-${Date.now()}`);
  const dbPath = join(tmpDir, 'db');
  try {
    await extractDb(path, dbPath, dbBytes);
    const backend = await openChecked(dbPath);
    try {
      let revision = 0n;
      let totalKey = 0;
      backend.scan('key', undefined, undefined, (key) => {
        revision = bytesToRevision(key).rev.main;
      });
      for (const bucket of ['key', 'meta', 'lease', 'auth', 'authUsers', 'authRoles', 'members', 'membersRemoved', 'alarm', 'cluster'] as const) {
        backend.scan(bucket, undefined, undefined, () => {
          totalKey++;
        });
      }
      return { hash: hashBackend(backend), revision, totalKey, totalSize: dbBytes };
    } finally {
      await backend.close();
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

export interface RestoreOptions {
  snapshotPath: string;
  dataDir: string;
  walDir?: string;
  name: string;
  /** name -> peer URLs */
  initialCluster: Map<string, string[]>;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string[];
  skipHashCheck: boolean;
  /** Replace a non-empty data dir (the operator confirmed it) instead of refusing, once the restore is whole. */
  replaceExisting?: boolean;
}

export interface RestoreResult {
  /** The kind of snapshot restored: etcd's (converted) or ours. */
  format: SnapshotFormat;
  /** Buckets of an etcd snapshot that etcdts keeps nothing of, left out. */
  skippedBuckets: string[];
  memberId: bigint;
  clusterId: bigint;
  revision: bigint;
  dataDir: string;
}

/**
 * Builds a fresh data dir from a snapshot (etcdutl snapshot restore), ours
 * or etcd's (converted bucket by bucket, etcd-buckets.ts): the key space,
 * its revisions, leases and auth come from the snapshot; the
 * membership and the cluster identity are new, taken from the flags, so
 * every member of a new cluster restored from the same file agrees. The Raft
 * log starts with a snapshot at index N (N = number of members), exactly as
 * if the N bootstrap entries had been applied.
 */
export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  if (opts.replaceExisting !== true && existsSync(opts.dataDir) && readdirSync(opts.dataDir).length > 0) throw new SnapshotFileError(`data-dir "${opts.dataDir}" exists`);
  const members: MemberInfo[] = [...opts.initialCluster.entries()].map(([name, urls]) => ({
    id: computeMemberId(urls, opts.initialClusterToken), name, peerUrls: urls, clientUrls: [], isLearner: false,
  }));
  const memberId = computeMemberId(opts.initialAdvertisePeerUrls, opts.initialClusterToken);
  if (!members.some((m) => m.id === memberId)) throw new SnapshotFileError(`--initial-advertise-peer-urls of ${opts.name} do not match its entry in --initial-cluster`);
  const clusterId = computeClusterId(members.map((m) => m.id));
  const staging = `${opts.dataDir.replace(/\/+$/, '')}.restore-tmp`;
  try {
    await rm(staging, { recursive: true, force: true });
    const dbPath = join(staging, 'member', 'snap', 'db');
    const { format, skippedBuckets } = await unpackDb(opts.snapshotPath, dbPath, opts.skipHashCheck);
    const index = BigInt(members.length);
    const confState: ConfState = { voters: members.map((m) => m.id), learners: [] };
    const backend = await openChecked(dbPath);
    let revision = 0n;
    try {
      backend.scan('key', undefined, undefined, (key) => {
        revision = bytesToRevision(key).rev.main;
      });
      rewriteMembership(backend, members, index, confState);
      await backend.commit();
    } finally {
      await backend.close();
    }
    const stagingWal = join(staging, 'member', 'wal');
    await writeRaftState(stagingWal, join(staging, 'member', 'snap'), memberId, clusterId, index, confState);
    if (opts.walDir !== undefined && opts.walDir !== '') {
      if (existsSync(opts.walDir) && readdirSync(opts.walDir).length > 0) throw new SnapshotFileError(`wal-dir "${opts.walDir}" exists`);
      await mkdir(dirname(opts.walDir), { recursive: true });
      await rm(opts.walDir, { recursive: true, force: true });
      await rename(stagingWal, opts.walDir);
    }
    await mkdir(dirname(opts.dataDir), { recursive: true });
    await putInPlace(staging, opts.dataDir);
    return { format, skippedBuckets, memberId, clusterId, revision, dataDir: opts.dataDir };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Renames the finished restore to the data dir. A data dir that is there
 * (replaceExisting) is moved aside first and removed only once the new one
 * is in place, so a failure leaves one or the other whole.
 */
async function putInPlace(staging: string, dataDir: string): Promise<void> {
  if (!existsSync(dataDir)) {
    await rename(staging, dataDir);
    return;
  }
  const old = `${dataDir.replace(/\/+$/, '')}.replaced-${process.pid}`;
  await rename(dataDir, old);
  await rename(staging, dataDir);
  await rm(old, { recursive: true, force: true });
}

function rewriteMembership(backend: Backend, members: MemberInfo[], index: bigint, confState: ConfState): void {
  for (const bucket of ['members', 'membersRemoved', 'alarm'] as const) {
    const doomed: Buffer[] = [];
    backend.scan(bucket, undefined, undefined, (key) => {
      doomed.push(Buffer.from(key));
    });
    for (const key of doomed) backend.delete(bucket, key);
  }
  for (const m of members) backend.put('members', idKey(m.id), Buffer.from(MemberCodec.encode(memberToWire(m)).finish()));
  backend.put('meta', Buffer.from('consistent_index'), u64(index));
  backend.put('meta', Buffer.from('conf_state'), Buffer.from(ConfState.encode(confState).finish()));
  if (readU64(backend.get('meta', Buffer.from('consistent_index'))) !== index) throw new Error('restore: could not write the consistent index');
}

async function writeRaftState(walDir: string, snapDir: string, memberId: bigint, clusterId: bigint, index: bigint, confState: ConfState): Promise<void> {
  await mkdir(snapDir, { recursive: true, mode: 0o700 });
  const snapshotter = new Snapshotter(snapDir);
  await snapshotter.save({ data: Buffer.alloc(0), metadata: { index, term: 1n, confState } });
  const wal = await Wal.create(walDir, encodeWalMetadata(memberId, clusterId));
  try {
    await wal.saveSnapshot({ index, term: 1n, confState });
    await wal.save({ term: 1n, vote: 0n, commit: index }, []);
  } finally {
    await wal.close();
  }
}

/**
 * Writes an etcdts snapshot file as an etcd one (bbolt with etcd's buckets
 * and the trailing SHA-256) at `dest`, for `etcdctl snapshot restore`.
 */
export async function exportSnapshot(path: string, dest: string, skipHashCheck = false): Promise<{ bytes: number; revision: bigint }> {
  if ((await snapshotFormat(path)) === 'etcd') throw new SnapshotFileError(`${path} is an etcd snapshot already`);
  const dbBytes = await databaseBytes(path, skipHashCheck);
  const tmpDir = join(dirname(dest), `.snapshot-export-${process.pid}-${Date.now()}`);
  const dbPath = join(tmpDir, 'db');
  try {
    await extractDb(path, dbPath, dbBytes);
    const backend = await openChecked(dbPath);
    try {
      let revision = 0n;
      backend.scan('key', undefined, undefined, (key) => {
        revision = bytesToRevision(key).rev.main;
      });
      const { bytes } = await exportEtcdSnapshot(backend, dest);
      return { bytes, revision };
    } finally {
      await backend.close();
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

export { EntryType };
