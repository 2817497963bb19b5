import assert from 'node:assert/strict';
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from '../../../src/server/raft/errors.js';
import { MemoryStorage } from '../../../src/server/raft/storage.js';
import type { Entry } from '../../../src/proto/gen/etcdtspb/raft.js';
import { ents } from './harness.js';

const pairsOf = (es: Entry[]): Array<[number, number]> => es.map((e) => [Number(e.index), Number(e.term)]);

/** A storage holding entries 3..5 (terms 3, 4, 5) after a compaction at 3. */
function storage345(): MemoryStorage {
  const s = new MemoryStorage();
  s.append(ents([1, 1], [2, 2], [3, 3], [4, 4], [5, 5]));
  s.compact(3n);
  return s;
}

describe('raft storage: MemoryStorage', () => {
  it('starts empty: first index 1, last index 0, empty hard state', () => {
    const s = new MemoryStorage();
    assert.equal(s.firstIndex(), 1n);
    assert.equal(s.lastIndex(), 0n);
    assert.equal(s.term(0n), 0n);
    assert.deepEqual(s.initialState().hardState, { term: 0n, vote: 0n, commit: 0n });
  });

  describe('term', () => {
    const cases: Array<[number, number | typeof CompactedError | typeof UnavailableError]> = [
      [2, CompactedError],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, UnavailableError],
    ];
    for (const [i, want] of cases) {
      it(`term(${i})`, () => {
        const s = storage345();
        if (typeof want === 'number') assert.equal(s.term(BigInt(i)), BigInt(want));
        else assert.throws(() => s.term(BigInt(i)), want);
      });
    }
  });

  describe('entries', () => {
    const size = ents([4, 4])[0]!.data.length + 24;
    const cases: Array<{ lo: number; hi: number; max: number; want: Array<[number, number]> | typeof CompactedError }> = [
      { lo: 2, hi: 6, max: Infinity, want: CompactedError },
      { lo: 3, hi: 4, max: Infinity, want: CompactedError },
      { lo: 4, hi: 5, max: Infinity, want: [[4, 4]] },
      { lo: 4, hi: 6, max: Infinity, want: [[4, 4], [5, 5]] },
      // at least one entry, even if it exceeds the limit
      { lo: 4, hi: 6, max: 0, want: [[4, 4]] },
      { lo: 4, hi: 6, max: size, want: [[4, 4]] },
      { lo: 4, hi: 6, max: 2 * size, want: [[4, 4], [5, 5]] },
    ];
    for (const c of cases) {
      it(`entries(${c.lo}, ${c.hi}, ${c.max})`, () => {
        const s = storage345();
        if (Array.isArray(c.want)) assert.deepEqual(pairsOf(s.entries(BigInt(c.lo), BigInt(c.hi), c.max)), c.want);
        else assert.throws(() => s.entries(BigInt(c.lo), BigInt(c.hi), c.max), c.want);
      });
    }
  });

  it('reports first and last index around the compaction boundary', () => {
    const s = storage345();
    assert.equal(s.firstIndex(), 4n);
    assert.equal(s.lastIndex(), 5n);
    s.append(ents([6, 5]));
    assert.equal(s.lastIndex(), 6n);
  });

  describe('compact', () => {
    it('refuses to compact at or below the boundary', () => {
      assert.throws(() => storage345().compact(2n), CompactedError);
      assert.throws(() => storage345().compact(3n), CompactedError);
    });
    it('keeps the compacted entry as the new boundary', () => {
      const s = storage345();
      s.compact(4n);
      assert.equal(s.firstIndex(), 5n);
      assert.equal(s.term(4n), 4n);
      assert.throws(() => s.term(3n), CompactedError);
    });
    it('refuses to compact past the last index', () => {
      assert.throws(() => storage345().compact(6n), /out of bound/);
    });
  });

  describe('append', () => {
    const cases: Array<{ name: string; add: Array<[number, number]>; want: Array<[number, number]> }> = [
      { name: 'identical entries', add: [[3, 3], [4, 4], [5, 5]], want: [[4, 4], [5, 5]] },
      { name: 'a conflicting suffix replaces the old one', add: [[3, 3], [4, 6], [5, 6]], want: [[4, 6], [5, 6]] },
      { name: 'extending the log', add: [[3, 3], [4, 4], [5, 5], [6, 5]], want: [[4, 4], [5, 5], [6, 5]] },
      { name: 'entries before the boundary are ignored', add: [[2, 3], [3, 3], [4, 5]], want: [[4, 5]] },
      { name: 'truncating at the last index', add: [[5, 6]], want: [[4, 4], [5, 6]] },
      { name: 'appending right after the last index', add: [[6, 5]], want: [[4, 4], [5, 5], [6, 5]] },
      { name: 'all below the boundary', add: [[1, 1], [2, 2]], want: [[4, 4], [5, 5]] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const s = storage345();
        s.append(ents(...c.add));
        assert.deepEqual(pairsOf(s.entries(s.firstIndex(), s.lastIndex() + 1n, Infinity)), c.want);
      });
    }
    it('refuses a gap', () => {
      assert.throws(() => storage345().append(ents([7, 5])), /missing log entry/);
    });
  });

  it('creates snapshots only above the current one', () => {
    const s = storage345();
    const cs = { voters: [1n, 2n, 3n], learners: [] };
    const snap = s.createSnapshot(4n, cs, Buffer.from('data'));
    assert.equal(snap.metadata!.index, 4n);
    assert.equal(snap.metadata!.term, 4n);
    assert.deepEqual(s.initialState().confState, cs);
    assert.throws(() => s.createSnapshot(4n, cs, Buffer.alloc(0)), SnapshotOutOfDateError);
    assert.throws(() => s.createSnapshot(9n, cs, Buffer.alloc(0)), /out of bound/);
    // Without a conf state the previous one is kept.
    assert.deepEqual(s.createSnapshot(5n, undefined, Buffer.alloc(0)).metadata!.confState, cs);
  });

  it('replaces the whole log when applying a newer snapshot', () => {
    const s = storage345();
    const snap = (i: bigint) => ({ data: Buffer.alloc(0), metadata: { index: i, term: 9n, confState: { voters: [1n], learners: [] } } });
    s.applySnapshot(snap(10n));
    assert.equal(s.firstIndex(), 11n);
    assert.equal(s.lastIndex(), 10n);
    assert.equal(s.term(10n), 9n);
    assert.throws(() => s.entries(11n, 11n, Infinity), UnavailableError);
    assert.throws(() => s.applySnapshot(snap(10n)), SnapshotOutOfDateError);
  });
});
