import { OperatingError } from '../../operating-error.js';

/**
 * The published facts of bbolt's file format (version 2), the database etcd
 * keeps at member/snap/db and streams as its snapshot. Everything is native
 * byte order, which is little-endian on every platform etcd ships for.
 *
 * A file is a sequence of pages of `pageSize` bytes; page N starts at
 * N * pageSize. Every page begins with a 16-byte header:
 *
 *   id u64 | flags u16 | count u16 | overflow u32
 *
 * `overflow` is the number of further pages the page spans (a page holding a
 * big value), `count` the number of elements. Pages 0 and 1 are the two meta
 * pages; a writer alternates between them (by transaction id), so one of them
 * is always whole after a crash. The meta record follows the page header:
 *
 *   magic u32 | version u32 | pageSize u32 | flags u32 |
 *   root bucket (root pgid u64, sequence u64) | freelist pgid u64 |
 *   high-water mark pgid u64 | txid u64 | checksum u64
 *
 * where the checksum is FNV-1a 64 over the 56 bytes before it. Buckets are
 * B+trees: branch pages hold (key, child pgid) elements, leaf pages hold
 * (flags, key, value) elements; a leaf element flagged as a bucket holds a
 * nested bucket's 16-byte header, and when that header's root is 0 the
 * bucket is "inline": its single leaf page follows the header inside the
 * value. The freelist page lists the ids of free pages (a count of 0xFFFF
 * means the real count is the first u64); etcd skips writing it
 * (NoFreelistSync) and then the meta names no freelist.
 */
export const magic = 0xed0cdaed;
export const formatVersion = 2;

export const pageHeaderBytes = 16;
export const metaBytes = 64;
/** The checksum covers the meta record up to the checksum field. */
export const metaChecksummedBytes = 56;
export const branchElementBytes = 16;
export const leafElementBytes = 16;
export const bucketHeaderBytes = 16;

export const pageFlag = {
  branch: 0x01,
  leaf: 0x02,
  meta: 0x04,
  freelist: 0x10,
} as const;

export const bucketLeafFlag = 0x01;

/** The meta's freelist pgid when the freelist is not written (NoFreelistSync). */
export const noFreelist = 0xffffffffffffffffn;
/** A freelist page whose count field is this stores the count in its first u64. */
export const freelistCountOverflow = 0xffff;

/** Page sizes we accept: powers of two; bbolt uses the OS page size (4 KiB, 16 KiB, 64 KiB). */
export const pageSizeMinBytes = 512;
export const pageSizeMaxBytes = 65536;
/** The page size our writer uses: the OS page size on the platforms etcd runs on. */
export const writerPageSizeBytes = 4096;
/** bbolt refuses keys longer than this. */
export const keySizeMaxBytes = 32768;
/** B+trees deeper than this are refused: a real tree of 2^64 keys is far shallower. */
export const treeDepthMax = 64;

/** A file that is not a well-formed bbolt database, described in one line. */
export class BboltFormatError extends OperatingError {}

export interface Meta {
  pageSize: number;
  flags: number;
  root: bigint;
  sequence: bigint;
  freelist: bigint;
  /** The high-water mark: pages [0, pgid) are in use or free; later ones are not part of the database. */
  pgid: bigint;
  txid: bigint;
  checksum: bigint;
}

const fnvOffset = 0xcbf29ce484222325n;
const fnvPrime = 0x100000001b3n;
const mask64 = 0xffffffffffffffffn;

/** FNV-1a, 64 bits (Go's hash/fnv New64a), as bbolt checksums its meta pages. */
export function fnv64a(bytes: Uint8Array): bigint {
  let hash = fnvOffset;
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * fnvPrime) & mask64;
  }
  return hash;
}

/** Decodes the meta record that starts `offset` bytes into `buf` (after the page header). */
export function decodeMeta(buf: Buffer, offset: number): { magic: number; version: number; meta: Meta; expectedChecksum: bigint } {
  return {
    magic: buf.readUInt32LE(offset),
    version: buf.readUInt32LE(offset + 4),
    meta: {
      pageSize: buf.readUInt32LE(offset + 8),
      flags: buf.readUInt32LE(offset + 12),
      root: buf.readBigUInt64LE(offset + 16),
      sequence: buf.readBigUInt64LE(offset + 24),
      freelist: buf.readBigUInt64LE(offset + 32),
      pgid: buf.readBigUInt64LE(offset + 40),
      txid: buf.readBigUInt64LE(offset + 48),
      checksum: buf.readBigUInt64LE(offset + 56),
    },
    expectedChecksum: fnv64a(buf.subarray(offset, offset + metaChecksummedBytes)),
  };
}

/** Encodes a meta record with its checksum into `buf` at `offset`. */
export function encodeMeta(buf: Buffer, offset: number, meta: Omit<Meta, 'checksum'>): void {
  buf.writeUInt32LE(magic, offset);
  buf.writeUInt32LE(formatVersion, offset + 4);
  buf.writeUInt32LE(meta.pageSize, offset + 8);
  buf.writeUInt32LE(meta.flags, offset + 12);
  buf.writeBigUInt64LE(meta.root, offset + 16);
  buf.writeBigUInt64LE(meta.sequence, offset + 24);
  buf.writeBigUInt64LE(meta.freelist, offset + 32);
  buf.writeBigUInt64LE(meta.pgid, offset + 40);
  buf.writeBigUInt64LE(meta.txid, offset + 48);
  buf.writeBigUInt64LE(fnv64a(buf.subarray(offset, offset + metaChecksummedBytes)), offset + 56);
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
