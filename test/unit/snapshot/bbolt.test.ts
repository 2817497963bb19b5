import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { BboltReader, BufferSource, type BucketRef, type PageSource } from '../../../src/server/snapshot/bbolt/reader.js';
import { BboltWriter } from '../../../src/server/snapshot/bbolt/writer.js';
import { BboltFormatError, bucketLeafFlag, encodeMeta, fnv64a, pageFlag, pageHeaderBytes } from '../../../src/server/snapshot/bbolt/format.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

type Buckets = Map<string, Array<[Buffer, Buffer]>>;

/** Writes buckets (given in any order) with our writer and returns the file's bytes. */
function writeFile(buckets: Buckets, dir: string): Buffer {
  const path = join(dir, `db-${Math.random().toString(36).slice(2)}`);
  const writer = new BboltWriter(path);
  for (const name of [...buckets.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    writer.bucket(Buffer.from(name), buckets.get(name)!);
  }
  writer.finish();
  return readFileSync(path);
}

/** Reads every bucket back with our reader, after its consistency check. */
function readAll(source: PageSource): Map<string, Array<[string, string]>> {
  const reader = BboltReader.open(source);
  reader.check();
  const out = new Map<string, Array<[string, string]>>();
  for (const top of reader.entries(reader.rootBucket)) {
    assert.ok(top.bucket !== undefined);
    out.set(top.key.toString('latin1'), [...reader.entries(top.bucket)].map((e) => [e.key.toString('hex'), e.value?.toString('hex') ?? '']));
  }
  return out;
}

const hex = (entries: Array<[Buffer, Buffer]>): Array<[string, string]> => entries.map(([k, v]) => [k.toString('hex'), v.toString('hex')]);

/** Sorted, distinct, non-empty keys with values of any size (some past a page, for overflow pages). */
const bucketEntries = fc.uniqueArray(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4000, max: 20000 }).map((n) => new Uint8Array(n).fill(7)) },
)), { selector: ([k]) => Buffer.from(k).toString('hex'), maxLength: 120 })
  .map((pairs) => pairs.map(([k, v]): [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)]).sort((a, b) => Buffer.compare(a[0], b[0])));

describe('bbolt: our writer and reader', () => {
  after(removeTempDirs);

  it('read back exactly what was written, whatever the keys, values and bucket sizes', () => {
    const dir = tempDir('bbolt-');
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-zA-Z_]{1,12}$/), bucketEntries, { maxKeys: 5 }), (dict) => {
      const buckets: Buckets = new Map(Object.entries(dict));
      const got = readAll(new BufferSource(writeFile(buckets, dir)));
      assert.deepEqual(got, new Map([...buckets].map(([name, entries]) => [name, hex(entries)])));
    }), { numRuns: 60 });
  });

  it('builds branch levels for a bucket of many keys, and reads them back in order', () => {
    const entries = Array.from({ length: 20_000 }, (_, i): [Buffer, Buffer] => [Buffer.from(`key-${String(i).padStart(6, '0')}`), Buffer.from(`value ${i}`)]);
    const bytes = writeFile(new Map([['key', entries]]), tempDir('bbolt-'));
    const reader = BboltReader.open(new BufferSource(bytes));
    reader.check();
    const top = [...reader.entries(reader.rootBucket)][0]!;
    const root = bytes.subarray(Number(top.bucket!.root) * 4096);
    assert.equal(root.readUInt16LE(8), pageFlag.branch, 'the bucket root is a branch page');
    assert.deepEqual(hex([...reader.entries(top.bucket!)].map((e) => [e.key, e.value!])), hex(entries));
    assert.equal(reader.sizeBytes, bytes.length);
  });

  it('reads inline buckets, nested buckets and a freelist as bbolt writes them', () => {
    // Page 2: freelist naming page 5; page 3: root leaf with bucket "a" (inline, holding a nested
    // inline bucket "n" and a value) and bucket "b" (at page 4); page 4: b's leaf; page 5: free.
    const pageSize = 4096;
    const file = Buffer.alloc(6 * pageSize);
    const header = (id: number, flags: number, count: number): void => {
      file.writeBigUInt64LE(BigInt(id), id * pageSize);
      file.writeUInt16LE(flags, id * pageSize + 8);
      file.writeUInt16LE(count, id * pageSize + 10);
    };
    const leaf = (elements: Array<[number, Buffer, Buffer]>): Buffer => {
      const parts: Buffer[] = [];
      const head = Buffer.alloc(pageHeaderBytes + elements.length * 16);
      head.writeUInt16LE(pageFlag.leaf, 8);
      head.writeUInt16LE(elements.length, 10);
      let data = head.length;
      elements.forEach(([flags, k, v], i) => {
        const at = pageHeaderBytes + i * 16;
        head.writeUInt32LE(flags, at);
        head.writeUInt32LE(data - at, at + 4);
        head.writeUInt32LE(k.length, at + 8);
        head.writeUInt32LE(v.length, at + 12);
        parts.push(k, v);
        data += k.length + v.length;
      });
      return Buffer.concat([head, ...parts]);
    };
    const inline = (page: Buffer): Buffer => Buffer.concat([Buffer.alloc(16), page]);
    const nested = inline(leaf([[0, Buffer.from('deep'), Buffer.from('value')]]));
    const a = inline(leaf([[0, Buffer.from('k'), Buffer.from('v')], [bucketLeafFlag, Buffer.from('n'), nested]]));
    const bRef = Buffer.alloc(16);
    bRef.writeBigUInt64LE(4n);
    header(2, pageFlag.freelist, 1);
    file.writeBigUInt64LE(5n, 2 * pageSize + pageHeaderBytes);
    leaf([[bucketLeafFlag, Buffer.from('a'), a], [bucketLeafFlag, Buffer.from('b'), bRef]]).copy(file, 3 * pageSize);
    leaf([[0, Buffer.from('x'), Buffer.from('1')]]).copy(file, 4 * pageSize);
    header(3, pageFlag.leaf, 2);
    header(4, pageFlag.leaf, 1);
    for (const id of [0, 1]) {
      header(id, pageFlag.meta, 0);
      encodeMeta(file, id * pageSize + pageHeaderBytes, { pageSize, flags: 0, root: 3n, sequence: 0n, freelist: 2n, pgid: 6n, txid: BigInt(id) });
    }
    const reader = BboltReader.open(new BufferSource(file));
    reader.check();
    const [bucketA, bucketB] = [...reader.entries(reader.rootBucket)];
    const inA = [...reader.entries(bucketA!.bucket!)];
    assert.deepEqual(inA.map((e) => [e.key.toString(), e.value?.toString()]), [['k', 'v'], ['n', undefined]]);
    assert.deepEqual([...reader.entries(inA[1]!.bucket!)].map((e) => [e.key.toString(), e.value!.toString()]), [['deep', 'value']]);
    assert.deepEqual([...reader.entries(bucketB!.bucket!)].map((e) => [e.key.toString(), e.value!.toString()]), [['x', '1']]);

    // Without the freelist naming page 5, bbolt's check reports it.
    file.writeUInt16LE(0, 2 * pageSize + 10);
    assert.throws(() => BboltReader.open(new BufferSource(file)).check(), (err: Error) => err instanceof BboltFormatError && /page 5: unreachable unfreed/.test(err.message));
  });

  it('checksums meta pages with FNV-1a 64 (Go\'s hash/fnv test vectors)', () => {
    assert.equal(fnv64a(Buffer.from('')), 0xcbf29ce484222325n);
    assert.equal(fnv64a(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv64a(Buffer.from('hello')), 0xa430d84680aabd0bn);
  });
});

/** A page source that records the biggest single read, to bound what a hostile file makes us allocate. */
class CountingSource implements PageSource {
  biggestRead = 0;
  constructor(private readonly inner: BufferSource) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Buffer {
    this.biggestRead = Math.max(this.biggestRead, length);
    return this.inner.read(offset, length);
  }
}

describe('bbolt reader on hostile files', () => {
  after(removeTempDirs);

  /** Reads everything there is to read; returns normally or throws. */
  function readEverything(source: PageSource): void {
    const reader = BboltReader.open(source);
    reader.check();
    const visit = (ref: BucketRef): void => {
      for (const e of reader.entries(ref)) if (e.bucket !== undefined) visit(e.bucket);
    };
    visit(reader.rootBucket);
  }

  function expectParsesOrRefuses(bytes: Buffer): void {
    const source = new CountingSource(new BufferSource(bytes));
    try {
      readEverything(source);
    } catch (err) {
      if (!(err instanceof BboltFormatError)) throw err;
      assert.doesNotMatch(err.message, /\n/, 'one line');
    }
    assert.ok(source.biggestRead <= Math.max(bytes.length, 4096 + 80), `read ${source.biggestRead} bytes at once from a ${bytes.length}-byte file`);
  }

  const seedFile = (): Buffer => writeFile(new Map([
    ['key', Array.from({ length: 400 }, (_, i): [Buffer, Buffer] => [Buffer.from(`k${String(i).padStart(4, '0')}`), Buffer.alloc(i === 7 ? 9000 : 40, i)])],
    ['meta', [[Buffer.from('consistent_index'), Buffer.alloc(8)]]],
  ]), tempDir('bbolt-fuzz-'));

  it('every mutation of a valid file either reads or is one BboltFormatError, within a memory bound', () => {
    const seed = seedFile();
    const mutation = fc.oneof(
      fc.tuple(fc.constant('flip' as const), fc.nat(seed.length - 1), fc.integer({ min: 1, max: 255 })),
      fc.tuple(fc.constant('word' as const), fc.nat(seed.length - 8), fc.bigInt({ min: 0n, max: 0xffffffffffffffffn })),
      fc.tuple(fc.constant('cut' as const), fc.nat(seed.length), fc.constant(0)),
    );
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.boolean(), (mutations, fixChecksum) => {
      let bytes = Buffer.from(seed);
      for (const [kind, at, v] of mutations) {
        if (kind === 'flip') bytes[at] = bytes[at]! ^ v;
        else if (kind === 'word' && at + 8 <= bytes.length) bytes.writeBigUInt64LE(v as bigint, at);
        else if (kind === 'cut') bytes = bytes.subarray(0, at);
      }
      // Re-sign the metas, so that damage past them reaches the page checks.
      if (fixChecksum && bytes.length >= 8192) {
        for (const page of [0, 4096]) bytes.writeBigUInt64LE(fnv64a(bytes.subarray(page + 16, page + 72)), page + 72);
      }
      expectParsesOrRefuses(bytes);
    }), { numRuns: 3000 });
  });

  it('random bytes, and pages that point at themselves, are refused with one line', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20000 }), (bytes) => expectParsesOrRefuses(Buffer.from(bytes))), { numRuns: 500 });
    const looped = seedFile();
    // Turn the key bucket's root into a branch page whose child is itself.
    const reader = BboltReader.open(new BufferSource(looped));
    const keyRoot = Number([...reader.entries(reader.rootBucket)][0]!.bucket!.root) * 4096;
    looped.writeUInt16LE(pageFlag.branch, keyRoot + 8);
    looped.writeUInt16LE(1, keyRoot + 10);
    looped.writeUInt32LE(16, keyRoot + 16);
    looped.writeUInt32LE(1, keyRoot + 20);
    looped.writeBigUInt64LE(looped.readBigUInt64LE(keyRoot), keyRoot + 24);
    assert.throws(() => readEverything(new BufferSource(looped)), /multiple references/);
  });
});
