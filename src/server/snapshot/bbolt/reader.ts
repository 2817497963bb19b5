import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  BboltFormatError, branchElementBytes, bucketHeaderBytes, bucketLeafFlag, decodeMeta, formatVersion, freelistCountOverflow,
  isPowerOfTwo, leafElementBytes, magic, noFreelist, pageFlag, pageHeaderBytes, pageSizeMaxBytes, pageSizeMinBytes,
  treeDepthMax, type Meta,
} from './format.js';

/**
 * Reads a bbolt file (format.ts) without trusting a byte of it: every page
 * id, element position and size is checked against the file before it is
 * used, trees are walked with a depth limit and a visited set (a page that
 * shows up twice is an error, so a cycle cannot loop), and keys must come in
 * strictly increasing order. Anything wrong is a BboltFormatError with one
 * line that says where; nothing else is thrown for any input.
 *
 * Pages are read one at a time from a PageSource, so memory stays around one
 * page (plus its overflow) however big the file is.
 */
export interface PageSource {
  /** Bytes of the database (a snapshot's trailing hash excluded). */
  readonly size: number;
  read(offset: number, length: number): Buffer;
}

export class BufferSource implements PageSource {
  constructor(private readonly bytes: Buffer) {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number): Buffer {
    return this.bytes.subarray(offset, offset + length);
  }
}

/** A file read with positional reads; close() it when done. */
export class FileSource implements PageSource {
  private readonly fd: number;
  readonly size: number;

  constructor(path: string, size?: number) {
    this.fd = openSync(path, 'r');
    const fileBytes = fstatSync(this.fd).size;
    this.size = size === undefined ? fileBytes : Math.min(size, fileBytes);
  }

  read(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, this.size - offset)));
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Where a bucket's tree is: a root page, or (inline bucket) a leaf page held in its parent's value. */
export type BucketRef = { root: bigint; inline?: undefined } | { root: 0n; inline: Buffer };

export interface Entry {
  key: Buffer;
  /** The value; for a nested bucket, undefined (bbolt's ForEach gives nil). */
  value: Buffer | undefined;
  bucket: BucketRef | undefined;
}

interface Page {
  id: bigint;
  flags: number;
  count: number;
  overflow: number;
  bytes: Buffer;
}

export class BboltReader {
  private constructor(private readonly source: PageSource, readonly meta: Meta) {}

  /** Reads and validates the meta pages; the newest valid one wins, as in bbolt. */
  static open(source: PageSource): BboltReader {
    if (source.size < 2 * pageSizeMinBytes) fail(`${source.size} bytes is too small for a bbolt database`);
    const first = readMeta(source, 0);
    let pageSize = first.meta?.pageSize;
    const second = readMeta(source, pageSize ?? guessSecondMetaOffset(source));
    pageSize ??= second.meta?.pageSize;
    const candidates = [first.meta, second.meta].filter((m): m is Meta => m !== undefined && m.pageSize === pageSize);
    if (candidates.length === 0) fail(`no valid meta page (${first.error ?? 'meta 0 unreadable'}; ${second.error ?? 'meta 1 unreadable'})`);
    candidates.sort((a, b) => (a.txid > b.txid ? -1 : a.txid < b.txid ? 1 : 0));
    const meta = candidates[0]!;
    const needed = meta.pgid * BigInt(meta.pageSize);
    if (meta.pgid < 2n) fail(`meta page claims ${meta.pgid} pages`);
    if (needed > BigInt(source.size)) fail(`truncated: the database needs ${needed} bytes (${meta.pgid} pages of ${meta.pageSize}), the file has ${source.size}`);
    if (meta.root < 2n || meta.root >= meta.pgid) fail(`meta page's root bucket page ${meta.root} is out of bounds (${meta.pgid} pages)`);
    if (meta.freelist !== noFreelist && (meta.freelist < 2n || meta.freelist >= meta.pgid)) fail(`meta page's freelist page ${meta.freelist} is out of bounds (${meta.pgid} pages)`);
    return new BboltReader(source, meta);
  }

  /** The database size as bbolt reports it (tx.Size(): high-water mark times page size). */
  get sizeBytes(): number {
    return Number(this.meta.pgid) * this.meta.pageSize;
  }

  get rootBucket(): BucketRef {
    return { root: this.meta.root };
  }

  /**
   * Every entry of a bucket, in key order. Throws BboltFormatError on any
   * malformed page, cycle or key out of order. Lazy: pages are read as the
   * caller advances, so a caller may pause (commit a batch) between entries.
   */
  *entries(bucket: BucketRef): Generator<Entry> {
    const visited = new PageSet(this.meta.pgid);
    let previous: Buffer | undefined;
    for (const page of this.leafPages(bucket, visited)) {
      for (const [flags, key, value] of leafElements(page)) {
        if (previous !== undefined && Buffer.compare(previous, key) >= 0) fail(`page ${page.id}: keys out of order`);
        previous = key;
        if ((flags & bucketLeafFlag) !== 0) yield { key, value: undefined, bucket: decodeBucketHeader(page.id, value) };
        else yield { key, value, bucket: undefined };
      }
    }
  }

  /**
   * bbolt's consistency check (tx.Check): every page below the high-water
   * mark is referenced exactly once (meta, freelist, or a bucket's tree) or
   * is free, and no free page is in use. Walks every bucket, nested ones
   * included, and every entry (so a check that passes means reading will).
   */
  check(): void {
    const reachable = new PageSet(this.meta.pgid);
    reachable.add(0n);
    reachable.add(1n);
    const freed = this.readFreelist(reachable);
    const visitBucket = (ref: BucketRef, depth: number): void => {
      if (depth > treeDepthMax) fail(`buckets nested deeper than ${treeDepthMax} levels`);
      for (const page of this.leafPages(ref, reachable)) {
        if (freed?.has(page.id) === true) fail(`page ${page.id}: reachable freed`);
      }
      for (const entry of this.entries(ref)) {
        if (entry.bucket !== undefined) visitBucket(entry.bucket, depth + 1);
      }
    };
    visitBucket(this.rootBucket, 0);
    if (freed === undefined) return; // No freelist written: the free pages are exactly the unreachable ones.
    for (let id = 0n; id < this.meta.pgid; id++) {
      if (!reachable.has(id) && !freed.has(id)) fail(`page ${id}: unreachable unfreed`);
    }
  }

  private readFreelist(reachable: PageSet): PageSet | undefined {
    if (this.meta.freelist === noFreelist) return undefined;
    const page = this.page(this.meta.freelist);
    if ((page.flags & pageFlag.freelist) === 0) fail(`page ${page.id}: the meta's freelist page is not a freelist page`);
    markPage(reachable, page);
    let count = page.count;
    let start = pageHeaderBytes;
    if (count === freelistCountOverflow) {
      if (page.bytes.length < pageHeaderBytes + 8) fail(`page ${page.id}: freelist count missing`);
      const big = page.bytes.readBigUInt64LE(pageHeaderBytes);
      if (big > BigInt(page.bytes.length)) fail(`page ${page.id}: freelist of ${big} ids does not fit its page`);
      count = Number(big);
      start += 8;
    }
    if (start + count * 8 > page.bytes.length) fail(`page ${page.id}: freelist of ${count} ids does not fit its page`);
    const freed = new PageSet(this.meta.pgid);
    for (let i = 0; i < count; i++) {
      const id = page.bytes.readBigUInt64LE(start + i * 8);
      if (id < 2n || id >= this.meta.pgid) fail(`page ${page.id}: free page ${id} is out of bounds (${this.meta.pgid} pages)`);
      if (freed.has(id)) fail(`page ${id}: already freed`);
      freed.add(id);
    }
    return freed;
  }

  /** The leaf pages of a bucket's tree in key order; every page is visited once, else it is an error. */
  private *leafPages(ref: BucketRef, visited: PageSet): Generator<Page> {
    if (ref.inline !== undefined) {
      yield inlinePage(ref.inline);
      return;
    }
    // Depth-first with an explicit stack of child lists, so depth is counted, not recursed.
    const stack: bigint[][] = [[ref.root]];
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const id = top.shift();
      if (id === undefined) {
        stack.pop();
        continue;
      }
      const page = this.page(id);
      markPage(visited, page);
      if ((page.flags & pageFlag.branch) !== 0) {
        if (page.count === 0) fail(`page ${id}: empty branch page`);
        if (stack.length > treeDepthMax) fail(`page ${id}: tree deeper than ${treeDepthMax} levels`);
        stack.push(branchChildren(page));
      } else if ((page.flags & pageFlag.leaf) !== 0) {
        yield page;
      } else {
        fail(`page ${id}: invalid type ${page.flags.toString(16).padStart(2, '0')} in a bucket's tree`);
      }
    }
  }

  /** Reads one page and its overflow pages, checking that they lie below the high-water mark. */
  private page(id: bigint): Page {
    const { pgid, pageSize } = this.meta;
    if (id < 2n || id >= pgid) fail(`page ${id}: out of bounds (${pgid} pages)`);
    const offset = Number(id) * pageSize;
    const header = this.source.read(offset, pageHeaderBytes);
    if (header.length < pageHeaderBytes) fail(`page ${id}: truncated`);
    const storedId = header.readBigUInt64LE(0);
    if (storedId !== id) fail(`page ${id}: header names page ${storedId}`);
    const overflow = header.readUInt32LE(12);
    if (id + BigInt(overflow) >= pgid) fail(`page ${id}: ${overflow} overflow pages run past the high-water mark (${pgid} pages)`);
    const bytes = this.source.read(offset, (overflow + 1) * pageSize);
    if (bytes.length < (overflow + 1) * pageSize) fail(`page ${id}: truncated`);
    return { id, flags: header.readUInt16LE(8), count: header.readUInt16LE(10), overflow, bytes };
  }
}

function fail(message: string): never {
  throw new BboltFormatError(`not a valid bbolt database: ${message}`);
}

function readMeta(source: PageSource, offset: number): { meta?: Meta; error?: string } {
  const buf = source.read(offset, pageHeaderBytes + 64);
  if (buf.length < pageHeaderBytes + 64) return { error: `meta at ${offset} truncated` };
  if ((buf.readUInt16LE(8) & pageFlag.meta) === 0) return { error: `page at ${offset} is not a meta page` };
  const decoded = decodeMeta(buf, pageHeaderBytes);
  if (decoded.magic !== magic) return { error: `meta at ${offset}: bad magic` };
  if (decoded.version !== formatVersion) return { error: `meta at ${offset}: version ${decoded.version}, not ${formatVersion}` };
  if (decoded.meta.checksum !== 0n && decoded.meta.checksum !== decoded.expectedChecksum) return { error: `meta at ${offset}: checksum mismatch` };
  const size = decoded.meta.pageSize;
  if (!isPowerOfTwo(size) || size < pageSizeMinBytes || size > pageSizeMaxBytes) return { error: `meta at ${offset}: page size ${size}` };
  if (offset !== 0 && offset !== size) return { error: `meta at ${offset}: page size ${size} puts it elsewhere` };
  return { meta: decoded.meta };
}

/** When meta 0 is damaged, bbolt looks for meta 1 one OS page in; try the sizes it can be. */
function guessSecondMetaOffset(source: PageSource): number {
  for (let size = 4096; size <= pageSizeMaxBytes; size *= 2) {
    if (readMeta(source, size).meta !== undefined) return size;
  }
  for (let size = pageSizeMinBytes; size < 4096; size *= 2) {
    if (readMeta(source, size).meta !== undefined) return size;
  }
  return 4096;
}

function markPage(set: PageSet, page: Page): void {
  for (let i = 0n; i <= BigInt(page.overflow); i++) {
    const id = page.id + i;
    if (set.has(id)) fail(`page ${id}: multiple references`);
    set.add(id);
  }
}

function inlinePage(bytes: Buffer): Page {
  if (bytes.length < pageHeaderBytes) fail('inline bucket too short for its page header');
  const flags = bytes.readUInt16LE(8);
  if ((flags & pageFlag.leaf) === 0) fail(`inline bucket's page is not a leaf (flags ${flags})`);
  return { id: 0n, flags, count: bytes.readUInt16LE(10), overflow: 0, bytes };
}

function decodeBucketHeader(pageId: bigint, value: Buffer): BucketRef {
  if (value.length < bucketHeaderBytes) fail(`page ${pageId}: bucket value of ${value.length} bytes has no header`);
  const root = value.readBigUInt64LE(0);
  if (root === 0n) return { root: 0n, inline: value.subarray(bucketHeaderBytes) };
  return { root };
}

function checkElements(page: Page, elementBytes: number): void {
  if (pageHeaderBytes + page.count * elementBytes > page.bytes.length) fail(`page ${page.id}: ${page.count} elements do not fit the page`);
}

function* leafElements(page: Page): Generator<[flags: number, key: Buffer, value: Buffer]> {
  checkElements(page, leafElementBytes);
  const b = page.bytes;
  for (let i = 0; i < page.count; i++) {
    const at = pageHeaderBytes + i * leafElementBytes;
    const flags = b.readUInt32LE(at);
    const keyStart = at + b.readUInt32LE(at + 4);
    const keySize = b.readUInt32LE(at + 8);
    const valueSize = b.readUInt32LE(at + 12);
    if (keyStart + keySize + valueSize > b.length) fail(`page ${page.id}: element ${i} runs past the end of its page`);
    yield [flags, b.subarray(keyStart, keyStart + keySize), b.subarray(keyStart + keySize, keyStart + keySize + valueSize)];
  }
}

function branchChildren(page: Page): bigint[] {
  checkElements(page, branchElementBytes);
  const b = page.bytes;
  const children: bigint[] = [];
  for (let i = 0; i < page.count; i++) {
    const at = pageHeaderBytes + i * branchElementBytes;
    const keyStart = at + b.readUInt32LE(at);
    if (keyStart + b.readUInt32LE(at + 4) > b.length) fail(`page ${page.id}: element ${i} runs past the end of its page`);
    children.push(b.readBigUInt64LE(at + 8));
  }
  return children;
}

/** A set of page ids below the high-water mark, one bit each. */
class PageSet {
  private readonly bits: Uint8Array;

  constructor(private readonly limit: bigint) {
    this.bits = new Uint8Array(Number((limit + 7n) / 8n));
  }

  has(id: bigint): boolean {
    if (id < 0n || id >= this.limit) return false;
    const n = Number(id);
    return (this.bits[n >> 3]! & (1 << (n & 7))) !== 0;
  }

  add(id: bigint): void {
    if (id < 0n || id >= this.limit) fail(`page ${id}: out of bounds (${this.limit} pages)`);
    const n = Number(id);
    this.bits[n >> 3] = this.bits[n >> 3]! | (1 << (n & 7));
  }
}
