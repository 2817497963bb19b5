import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, open, rename, rm } from 'node:fs/promises';
import { Backend } from '../mvcc/backend.js';
import { crc32c } from '../wal/crc32c.js';
import { BboltReader, FileSource, type BucketRef } from './bbolt/reader.js';
import { BboltWriter } from './bbolt/writer.js';
import { BboltFormatError, magic } from './bbolt/format.js';
import { conversionError, type BucketConversion, type Pair } from './bucket-conversion.js';
import { bucketConversions } from './etcd-buckets.js';

/**
 * etcd's snapshot files (a bbolt database, then the SHA-256 of its bytes)
 * read into and written from our backend. The bbolt side is our own reader
 * and writer (bbolt/); the bucket-by-bucket mapping is etcd-buckets.ts.
 */

/** Entries converted per backend commit on import: bounds the memory a big snapshot takes. */
export const importBatchEntriesMax = 10_000;

const byEtcdName = new Map(bucketConversions.map((c) => [c.etcd, c]));

/** True for the first bytes of a bbolt file (page 0's meta magic). */
export function isBboltHeader(head: Buffer): boolean {
  return head.length >= 20 && head.readUInt32LE(16) === magic;
}

export interface EtcdSnapshotStatus {
  hash: number;
  revision: bigint;
  totalKey: number;
  totalSize: number;
}

/**
 * What `etcdctl snapshot status` prints for the file: bbolt's consistency
 * check first, then a CRC-32C over every bucket's name and every key and
 * value in it, the main revision of the last key in `key`, the number of
 * entries and the database size. `dbBytes` excludes the trailing hash.
 */
export function etcdSnapshotStatus(path: string, dbBytes: number): EtcdSnapshotStatus {
  return withReader(path, dbBytes, (reader) => {
    let crc = 0;
    let revision = 0n;
    let totalKey = 0;
    for (const [name, bucket] of topBuckets(reader)) {
      crc = crc32c(crc, name);
      const isKey = name.toString('latin1') === 'key';
      for (const entry of reader.entries(bucket)) {
        crc = crc32c(crc, entry.key);
        if (entry.value !== undefined) crc = crc32c(crc, entry.value);
        if (isKey) {
          if (entry.key.length < 8) throw conversionError('key', entry.key, 'not a revision');
          revision = entry.key.readBigUInt64BE(0);
        }
        totalKey++;
      }
    }
    return { hash: crc >>> 0, revision, totalKey, totalSize: reader.sizeBytes };
  });
}

export interface ImportResult {
  /** etcd buckets we keep no counterpart of, left out. */
  skippedBuckets: string[];
}

/**
 * Converts a bbolt database into a new backend file at `dest`. The whole
 * file is checked (pages and tree structure) before the first entry is
 * converted, and every value is decoded on the way: a file that fails
 * either way throws, and the caller removes `dest`.
 */
export async function importEtcdDb(path: string, dbBytes: number, dest: string): Promise<ImportResult> {
  const source = new FileSource(path, dbBytes);
  const backend = Backend.open(dest);
  try {
    const reader = BboltReader.open(source);
    reader.check();
    const skippedBuckets: string[] = [];
    for (const [name, bucket] of topBuckets(reader)) {
      const conversion = byEtcdName.get(name.toString('latin1'));
      if (conversion === undefined) {
        skippedBuckets.push(name.toString('latin1'));
        continue;
      }
      for (const entry of reader.entries(bucket)) {
        if (entry.value === undefined) throw conversionError(conversion.etcd, entry.key, 'a nested bucket, which etcd never writes');
        const pair = conversion.fromEtcd(entry.key, entry.value);
        // Copies: the entry's bytes point into a whole page.
        if (pair !== undefined) backend.put(conversion.ours, Buffer.from(pair[0]), Buffer.from(pair[1]));
        if (backend.pendingWrites >= importBatchEntriesMax) await backend.commit();
      }
    }
    await backend.commit();
    return { skippedBuckets };
  } finally {
    source.close();
    await backend.close();
  }
}

/**
 * Writes our backend's content as an etcd snapshot file at `dest`: a bbolt
 * database with etcd 3.4's buckets, then its SHA-256, as `etcdctl snapshot
 * save` would have written it. Written to `<dest>.part` and renamed once
 * whole and fsynced.
 */
export async function exportEtcdSnapshot(backend: Backend, dest: string): Promise<{ bytes: number }> {
  const part = `${dest}.part`;
  const writer = new BboltWriter(part);
  try {
    for (const conversion of bucketConversions) {
      writer.beginBucket(Buffer.from(conversion.etcd));
      for (const [key, value] of etcdEntries(backend, conversion)) writer.put(key, value);
      writer.endBucket();
    }
    const { bytes } = writer.finish();
    await appendSha256(part, bytes);
    await rename(part, dest);
    return { bytes: bytes + 32 };
  } catch (err) {
    writer.abort();
    await rm(part, { force: true });
    throw err;
  }
}

/** A bucket's entries converted for etcd, in etcd's key order. */
function etcdEntries(backend: Backend, conversion: BucketConversion): Pair[] | Generator<Pair> {
  if (conversion.sameKeys && conversion.etcdOnly === undefined) return streamed(backend, conversion);
  const pairs: Pair[] = [...(conversion.etcdOnly?.() ?? [])];
  backend.scan(conversion.ours, undefined, undefined, (key, value) => {
    const pair = conversion.toEtcd(key, value);
    if (pair !== undefined) pairs.push([Buffer.from(pair[0]), Buffer.from(pair[1])]);
  });
  return pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
}

/**
 * Streams a bucket whose keys do not change, a range at a time: the
 * backend's scan takes a callback, so it is resumed after the last key.
 */
function* streamed(backend: Backend, conversion: BucketConversion): Generator<Pair> {
  const chunkEntries = 1000;
  let start: Buffer | undefined;
  for (;;) {
    const chunk: Pair[] = [];
    backend.scan(conversion.ours, start, undefined, (key, value) => {
      if (start !== undefined && key.equals(start)) return true;
      const pair = conversion.toEtcd(key, value);
      if (pair !== undefined) chunk.push([Buffer.from(pair[0]), Buffer.from(pair[1])]);
      start = Buffer.from(key);
      return chunk.length < chunkEntries;
    });
    yield* chunk;
    if (chunk.length < chunkEntries) return;
  }
}

async function appendSha256(path: string, dbBytes: number): Promise<void> {
  const sha = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 0, end: dbBytes - 1, highWaterMark: 1 << 20 })) sha.update(chunk as Buffer);
  await appendFile(path, sha.digest());
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function withReader<T>(path: string, dbBytes: number, fn: (reader: BboltReader) => T): T {
  const source = new FileSource(path, dbBytes);
  try {
    const reader = BboltReader.open(source);
    reader.check();
    return fn(reader);
  } finally {
    source.close();
  }
}

/** The root bucket's entries, which must all be buckets. */
function* topBuckets(reader: BboltReader): Generator<[Buffer, BucketRef]> {
  for (const entry of reader.entries(reader.rootBucket)) {
    if (entry.bucket === undefined) throw new BboltFormatError(`not a valid bbolt database: the root holds a plain value under ${JSON.stringify(entry.key.toString('latin1'))}`);
    yield [entry.key, entry.bucket];
  }
}
