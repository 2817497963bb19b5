import assert from 'node:assert/strict';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import {
  branchElementBytes, bucketHeaderBytes, bucketLeafFlag, encodeMeta, keySizeMaxBytes, leafElementBytes, pageFlag,
  pageHeaderBytes, writerPageSizeBytes,
} from './format.js';

/**
 * Writes a fresh, compact bbolt file (format.ts) from sorted entries, the
 * way a bbolt database looks right after etcd's defrag: every page in use,
 * an empty freelist, both meta pages pointing at the same tree.
 *
 * Layout: pages 0 and 1 are the metas, page 2 the (empty) freelist, data
 * pages follow. Buckets are written one after another, each as its leaf
 * pages in key order (filled up to the page size; an element bigger than a
 * page gets a page with overflow pages of its own) and then the branch
 * levels above them, up to a single root page. The root bucket, a leaf
 * page of bucket headers, comes last, then the freelist and the metas, so
 * a file cut short by a crash has no valid meta and is refused.
 *
 * Memory: one page being filled, plus (first key, page id) of every page
 * of the bucket being written for the branch levels.
 */
const freelistPage = 2n;
const firstDataPage = 3n;

interface Element {
  flags: number;
  key: Buffer;
  value: Buffer;
}

interface Child {
  key: Buffer;
  pgid: bigint;
}

export class BboltWriter {
  private readonly fd: number;
  private nextPage = firstDataPage;
  private readonly buckets: Child[] = [];
  private finished = false;
  private open: { name: Buffer; leaves: LevelWriter; previous: Buffer | undefined } | undefined;

  constructor(path: string, private readonly pageSize = writerPageSizeBytes) {
    this.fd = openSync(path, 'w', 0o600);
  }

  /** Writes one top-level bucket from an iterable; see beginBucket() for the ordering rules. */
  bucket(name: Buffer, entries: Iterable<[Buffer, Buffer]>): void {
    this.beginBucket(name);
    for (const [key, value] of entries) this.put(key, value);
    this.endBucket();
  }

  /**
   * Starts a top-level bucket: names must come in increasing byte order, and
   * put() keys in increasing byte order within the bucket. Keys and values
   * are copied, so callers may reuse their buffers.
   */
  beginBucket(name: Buffer): void {
    assert.ok(!this.finished && this.open === undefined, 'beginBucket() while a bucket is open or after finish()');
    const last = this.buckets.at(-1);
    assert.ok(last === undefined || Buffer.compare(last.key, name) < 0, 'bucket names out of order');
    this.open = { name: Buffer.from(name), leaves: new LevelWriter(this, pageFlag.leaf, leafElementBytes), previous: undefined };
  }

  put(key: Buffer, value: Buffer): void {
    const open = this.open;
    assert.ok(open !== undefined, 'put() outside a bucket');
    assert.ok(open.previous === undefined || Buffer.compare(open.previous, key) < 0, 'keys out of order');
    assert.ok(key.length > 0 && key.length <= keySizeMaxBytes, `key of ${key.length} bytes`);
    const element = { flags: 0, key: Buffer.from(key), value: Buffer.from(value) };
    open.previous = element.key;
    open.leaves.add(element);
  }

  endBucket(): void {
    const open = this.open;
    assert.ok(open !== undefined, 'endBucket() without beginBucket()');
    this.open = undefined;
    this.buckets.push({ key: open.name, pgid: this.buildTree(open.leaves.finish()) });
  }

  /** Writes the root bucket, the freelist and the metas, fsyncs and closes the file. */
  finish(): { bytes: number } {
    assert.ok(!this.finished && this.open === undefined, 'finish() twice or with a bucket open');
    this.finished = true;
    const root = new LevelWriter(this, pageFlag.leaf, leafElementBytes);
    for (const b of this.buckets) {
      const header = Buffer.alloc(bucketHeaderBytes);
      header.writeBigUInt64LE(b.pgid, 0);
      root.add({ flags: bucketLeafFlag, key: b.key, value: header });
    }
    const rootPgid = this.buildTree(root.finish());
    const freelist = Buffer.alloc(this.pageSize);
    writeHeader(freelist, freelistPage, pageFlag.freelist, 0, 0);
    this.writePages(freelistPage, freelist);
    const pages = this.nextPage;
    for (const id of [0n, 1n]) {
      const page = Buffer.alloc(this.pageSize);
      writeHeader(page, id, pageFlag.meta, 0, 0);
      encodeMeta(page, pageHeaderBytes, { pageSize: this.pageSize, flags: 0, root: rootPgid, sequence: 0n, freelist: freelistPage, pgid: pages, txid: 1n });
      this.writePages(id, page);
    }
    fsyncSync(this.fd);
    closeSync(this.fd);
    return { bytes: Number(pages) * this.pageSize };
  }

  /** Closes the file without finishing it (after an error): it has no valid meta, so no reader takes it. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    closeSync(this.fd);
  }

  /** Builds branch levels over a level of pages until one page is left; returns its id. */
  private buildTree(level: Child[]): bigint {
    while (level.length > 1) {
      const branches = new LevelWriter(this, pageFlag.branch, branchElementBytes);
      for (const child of level) {
        const pgid = Buffer.alloc(8);
        pgid.writeBigUInt64LE(child.pgid);
        branches.add({ flags: 0, key: child.key, value: pgid });
      }
      level = branches.finish();
    }
    return level[0]!.pgid;
  }

  /** @internal Writes a page (and its overflow pages) and returns its id. */
  appendPage(flags: number, elements: Element[], elementBytes: number): bigint {
    const dataBytes = elements.reduce((n, e) => n + elementBytes + e.key.length + (flags === pageFlag.leaf ? e.value.length : 0), 0);
    const pageCount = Math.max(1, Math.ceil((pageHeaderBytes + dataBytes) / this.pageSize));
    const id = this.nextPage;
    this.nextPage += BigInt(pageCount);
    const buf = Buffer.alloc(pageCount * this.pageSize);
    writeHeader(buf, id, flags, elements.length, pageCount - 1);
    let data = pageHeaderBytes + elements.length * elementBytes;
    elements.forEach((e, i) => {
      const at = pageHeaderBytes + i * elementBytes;
      if (flags === pageFlag.leaf) {
        buf.writeUInt32LE(e.flags, at);
        buf.writeUInt32LE(data - at, at + 4);
        buf.writeUInt32LE(e.key.length, at + 8);
        buf.writeUInt32LE(e.value.length, at + 12);
        data += e.key.copy(buf, data);
        data += e.value.copy(buf, data);
      } else {
        buf.writeUInt32LE(data - at, at);
        buf.writeUInt32LE(e.key.length, at + 4);
        e.value.copy(buf, at + 8); // the child's pgid
        data += e.key.copy(buf, data);
      }
    });
    this.writePages(id, buf);
    return id;
  }

  get pageBytes(): number {
    return this.pageSize;
  }

  private writePages(id: bigint, buf: Buffer): void {
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, Number(id) * this.pageSize + done);
  }
}

/** Packs elements of one tree level into pages, in order. */
class LevelWriter {
  private pending: Element[] = [];
  private pendingBytes = pageHeaderBytes;
  private readonly pages: Child[] = [];

  constructor(private readonly writer: BboltWriter, private readonly flags: number, private readonly elementBytes: number) {}

  add(e: Element): void {
    const size = this.elementBytes + e.key.length + (this.flags === pageFlag.leaf ? e.value.length : 0);
    if (this.pending.length > 0 && this.pendingBytes + size > this.writer.pageBytes) this.flush();
    this.pending.push(e);
    this.pendingBytes += size;
  }

  /** The level's pages, each with its first key; an empty level is one empty page. */
  finish(): Child[] {
    if (this.pending.length > 0 || this.pages.length === 0) this.flush();
    return this.pages;
  }

  private flush(): void {
    const first = this.pending[0]?.key ?? Buffer.alloc(0);
    this.pages.push({ key: Buffer.from(first), pgid: this.writer.appendPage(this.flags, this.pending, this.elementBytes) });
    this.pending = [];
    this.pendingBytes = pageHeaderBytes;
  }
}

function writeHeader(buf: Buffer, id: bigint, flags: number, count: number, overflow: number): void {
  buf.writeBigUInt64LE(id, 0);
  buf.writeUInt16LE(flags, 8);
  buf.writeUInt16LE(count, 10);
  buf.writeUInt32LE(overflow, 12);
}
