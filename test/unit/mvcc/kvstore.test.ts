import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { CompactedError, FutureRevisionError } from '../../../src/server/mvcc/errors.js';
import { revisionToBytes } from '../../../src/server/mvcc/revision.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

const b = (s: string) => Buffer.from(s);
const single = (k: string) => ({ start: k, end: undefined });
const all = { start: '\u0000', end: null };

async function openStore(dir: string): Promise<KVStore> {
  return new KVStore(Backend.open(join(dir, 'db')));
}

function put(store: KVStore, ...pairs: string[]): bigint {
  const txn = store.write();
  for (let i = 0; i < pairs.length; i += 2) txn.put(b(pairs[i]!), b(pairs[i + 1]!), 0n);
  return txn.end();
}

function del(store: KVStore, key: string): number {
  const txn = store.write();
  const n = txn.deleteRange(single(key));
  txn.end();
  return n;
}

function value(store: KVStore, key: string, rev = 0n): string | undefined {
  return store.read().range(single(key), { rev }).kvs[0]?.value.toString();
}

describe('KVStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('kvstore-');
  });
  after(removeTempDirs);

  it('starts an empty store at revision 1', async () => {
    const store = await openStore(dir);
    assert.equal(store.currentRev, 1n);
    assert.equal(store.compactMainRev, -1n);
  });

  it('gives one revision per write request and sub-revisions inside it', async () => {
    const store = await openStore(dir);
    assert.equal(put(store, 'a', '1'), 2n);
    assert.equal(put(store, 'b', '1', 'c', '1', 'd', '1'), 3n);
    const kvs = store.read().range(all).kvs;
    assert.deepEqual(kvs.map((kv) => [kv.key.toString(), kv.modRevision]), [['a', 2n], ['b', 3n], ['c', 3n], ['d', 3n]]);
  });

  it('tracks create_revision, mod_revision and version through deletes and re-creation', async () => {
    const store = await openStore(dir);
    put(store, 'k', 'v1');
    put(store, 'k', 'v2');
    let kv = store.read().range(single('k')).kvs[0]!;
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [2n, 3n, 2n]);
    assert.equal(del(store, 'k'), 1);
    assert.equal(store.read().range(single('k')).kvs.length, 0);
    put(store, 'k', 'v3');
    kv = store.read().range(single('k')).kvs[0]!;
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [5n, 5n, 1n]);
  });

  it('does not use a revision for a delete that deletes nothing', async () => {
    const store = await openStore(dir);
    put(store, 'a', '1');
    assert.equal(del(store, 'missing'), 0);
    assert.equal(store.currentRev, 2n);
  });

  it('reads history at any uncompacted revision, including through tombstones', async () => {
    const store = await openStore(dir);
    put(store, 'k', 'one');
    put(store, 'k', 'two');
    del(store, 'k');
    put(store, 'k', 'four');
    assert.deepEqual([1n, 2n, 3n, 4n, 5n].map((r) => value(store, 'k', r)), [undefined, 'one', 'two', undefined, 'four']);
  });

  it('refuses reads at future and compacted revisions with typed errors', async () => {
    const store = await openStore(dir);
    put(store, 'k', 'a');
    put(store, 'k', 'b');
    put(store, 'k', 'c');
    assert.throws(() => store.read().range(single('k'), { rev: 99n }), FutureRevisionError);
    await store.compact(3n);
    assert.throws(() => store.read().range(single('k'), { rev: 2n }), CompactedError);
    assert.equal(value(store, 'k', 3n), 'b');
    assert.throws(() => store.compact(3n), CompactedError);
    assert.throws(() => store.compact(10n), FutureRevisionError);
  });

  it('physically removes compacted records but keeps the latest version of live keys', async () => {
    const store = await openStore(dir);
    put(store, 'k', 'a'); // 2
    put(store, 'k', 'b'); // 3
    put(store, 'gone', 'x'); // 4
    del(store, 'gone'); // 5
    put(store, 'k', 'c'); // 6
    await store.compact(5n);
    const stored = (main: number, tomb = false) => store.backend.get('key', revisionToBytes({ main: BigInt(main), sub: 0 }, tomb)) !== undefined;
    // The delete at exactly the compaction revision stays for watches from there (etcd #18089).
    assert.deepEqual([stored(2), stored(3), stored(4), stored(5, true), stored(6)], [false, true, false, true, true]);
    assert.equal(value(store, 'k', 5n), 'b');
    assert.equal(value(store, 'gone', 5n), undefined);
  });

  it('comes back after a restart with the same revision, data and compaction', async () => {
    const first = await openStore(dir);
    put(first, 'a', '1');
    put(first, 'b', '2');
    del(first, 'a');
    await first.compact(3n);
    put(first, 'c', '3');
    await first.backend.close();
    const again = await openStore(dir);
    assert.equal(again.currentRev, 5n);
    assert.equal(again.compactMainRev, 3n);
    assert.deepEqual(again.read().range(all).kvs.map((kv) => kv.key.toString()), ['b', 'c']);
    assert.equal(value(again, 'b', 4n), '2');
    assert.throws(() => again.read().range(single('b'), { rev: 2n }), CompactedError);
    assert.equal(put(again, 'b', 'x'), 6n);
    assert.equal(again.read().range(single('b')).kvs[0]!.version, 2n);
  });

  it('never moves the revision back after every key was deleted and compacted away', async () => {
    const first = await openStore(dir);
    put(first, 'a', '1');
    del(first, 'a');
    await first.compact(3n);
    await first.backend.close();
    const again = await openStore(dir);
    assert.equal(again.currentRev, 3n);
    assert.equal(put(again, 'b', '1'), 4n);
  });

  it('resumes an interrupted compaction at restart', async () => {
    const first = await openStore(dir);
    put(first, 'k', 'a');
    put(first, 'k', 'b');
    put(first, 'k', 'c');
    // Simulate a crash right after the compaction was scheduled: only the marker is durable.
    first.backend.put('meta', Buffer.from('scheduledCompactRev'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]));
    await first.backend.close();
    const again = await openStore(dir);
    await again.compactionsSettled();
    assert.equal(again.compactMainRev, 3n);
    assert.equal(again.backend.get('key', revisionToBytes({ main: 2n, sub: 0 })), undefined);
    assert.equal(value(again, 'k'), 'c');
  });

  it('serves writes before the backend commit from the overlay, and after it from disk', async () => {
    const store = await openStore(dir);
    put(store, 'k', 'pending');
    assert.equal(store.backend.pendingWrites > 0, true);
    assert.equal(value(store, 'k'), 'pending');
    await store.backend.commit();
    assert.equal(value(store, 'k'), 'pending');
  });

  it('counts keys in a range regardless of limit', async () => {
    const store = await openStore(dir);
    put(store, 'a', '1', 'b', '2', 'c', '3');
    const rr = store.read().range(all, { limit: 2 });
    assert.equal(rr.kvs.length, 2);
    assert.equal(rr.count, 3);
    assert.equal(store.read().range({ start: 'b', end: null }, { countOnly: true }).count, 2);
  });
});
