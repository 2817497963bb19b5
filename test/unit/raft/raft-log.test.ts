import assert from 'node:assert/strict';
import type { Entry } from '../../../src/proto/gen/etcdtspb/raft.js';
import { CompactedError } from '../../../src/server/raft/errors.js';
import { RaftLog } from '../../../src/server/raft/raft-log.js';
import { Unstable } from '../../../src/server/raft/raft-log-unstable.js';
import { MemoryStorage } from '../../../src/server/raft/storage.js';
import { ents } from './harness.js';

const pairsOf = (es: Entry[]): Array<[number, number]> => es.map((e) => [Number(e.index), Number(e.term)]);

/** A log whose storage holds `stored` and whose unstable tail holds `unstable`. */
function newLog(stored: Array<[number, number]>, unstable: Array<[number, number]> = []): RaftLog {
  const s = new MemoryStorage();
  s.append(ents(...stored));
  const log = new RaftLog(s, Infinity);
  if (unstable.length > 0) log.append(ents(...unstable));
  return log;
}

const snap = (index: number, term: number) => ({
  data: Buffer.alloc(0),
  metadata: { index: BigInt(index), term: BigInt(term), confState: { voters: [1n], learners: [] } },
});

describe('raft log', () => {
  describe('findConflict', () => {
    const previous: Array<[number, number]> = [[1, 1], [2, 2], [3, 3]];
    const cases: Array<[Array<[number, number]>, number]> = [
      [[], 0],
      [[[1, 1], [2, 2], [3, 3]], 0],
      [[[2, 2], [3, 3]], 0],
      [[[3, 3]], 0],
      [[[1, 1], [2, 2], [3, 3], [4, 4], [5, 4]], 4],
      [[[4, 4], [5, 4]], 4],
      [[[1, 4], [2, 4]], 1],
      [[[2, 1], [3, 4], [4, 4]], 2],
      [[[3, 1], [4, 2], [5, 4], [6, 4]], 3],
    ];
    for (const [add, want] of cases) {
      it(`${JSON.stringify(add)} -> ${want}`, () => {
        assert.equal(newLog([], previous).findConflict(ents(...add)), BigInt(want));
      });
    }
  });

  describe('isUpToDate (election restriction)', () => {
    const log = newLog([], [[1, 1], [2, 2], [3, 3]]);
    const cases: Array<[number, number, boolean]> = [
      [2, 4, true], // higher last term wins regardless of length
      [3, 4, true],
      [4, 4, true],
      [2, 2, false], // lower last term loses regardless of length
      [4, 2, false],
      [2, 3, false], // same term: the longer log wins
      [3, 3, true],
      [4, 3, true],
    ];
    for (const [idx, term, want] of cases) {
      it(`candidate last ${term}/${idx}: ${want}`, () => assert.equal(log.isUpToDate(BigInt(idx), BigInt(term)), want));
    }
  });

  describe('maybeAppend (AppendEntries receiver)', () => {
    const previous: Array<[number, number]> = [[1, 1], [2, 2], [3, 3]];
    const cases: Array<{ name: string; logTerm: number; index: number; commit: number; add: Array<[number, number]>; last?: number; commit2: number }> = [
      { name: 'term mismatch at the previous entry', logTerm: 2, index: 3, commit: 3, add: [[4, 4]], commit2: 1 },
      { name: 'index out of range', logTerm: 3, index: 4, commit: 3, add: [[5, 4]], commit2: 1 },
      { name: 'no new entries', logTerm: 3, index: 3, commit: 3, add: [], last: 3, commit2: 3 },
      { name: 'new entries; commit stops at the last new entry', logTerm: 3, index: 3, commit: 4, add: [[4, 4]], last: 4, commit2: 4 },
      { name: 'commit limited by the leader', logTerm: 3, index: 3, commit: 2, add: [[4, 4]], last: 4, commit2: 2 },
      { name: 'commit never goes back', logTerm: 3, index: 3, commit: 0, add: [[4, 4]], last: 4, commit2: 1 },
      { name: 'conflict replaces the suffix', logTerm: 1, index: 1, commit: 3, add: [[2, 4]], last: 2, commit2: 2 },
      { name: 'entries already present', logTerm: 1, index: 1, commit: 3, add: [[2, 2], [3, 3]], last: 3, commit2: 3 },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const log = newLog([], previous);
        log.committed = 1n;
        const got = log.maybeAppend(BigInt(c.index), BigInt(c.logTerm), BigInt(c.commit), ents(...c.add));
        assert.equal(got, c.last === undefined ? undefined : BigInt(c.last));
        assert.equal(log.committed, BigInt(c.commit2));
      });
    }
    it('refuses to truncate a committed entry', () => {
      const log = newLog([], previous);
      log.committed = 3n;
      assert.throws(() => log.maybeAppend(1n, 1n, 3n, ents([2, 4])), /conflicts with committed entry/);
    });
  });

  it('reads entries across storage and the unstable tail, with size limits', () => {
    const log = newLog([[1, 1], [2, 1], [3, 2]], [[4, 2], [5, 3]]);
    assert.deepEqual(pairsOf(log.entries(2n, Infinity)), [[2, 1], [3, 2], [4, 2], [5, 3]]);
    assert.deepEqual(pairsOf(log.slice(3n, 5n, Infinity)), [[3, 2], [4, 2]]);
    assert.deepEqual(pairsOf(log.slice(2n, 6n, 0)), [[2, 1]]);
    assert.deepEqual(pairsOf(log.slice(4n, 6n, 30)), [[4, 2]]);
    assert.deepEqual(log.entries(6n, Infinity), []);
    assert.throws(() => log.slice(3n, 2n, Infinity), /invalid slice/);
    assert.throws(() => log.slice(2n, 7n, Infinity), /out of bound/);
  });

  it('throws CompactedError for compacted indexes and reads term 0 outside the log', () => {
    const s = new MemoryStorage();
    s.append(ents([1, 1], [2, 1], [3, 2], [4, 2]));
    s.compact(2n);
    const log = new RaftLog(s, Infinity);
    assert.equal(log.firstIndex(), 3n);
    assert.throws(() => log.entries(2n, Infinity), CompactedError);
    assert.equal(log.term(2n), 1n); // the boundary keeps its term
    assert.equal(log.term(1n), 0n);
    assert.equal(log.term(5n), 0n);
    assert.equal(log.matchTerm(1n, 1n), false);
    assert.equal(log.allEntries().length, 2);
  });

  it('hands out committed entries once, from the applied index on', () => {
    const log = newLog([[1, 1], [2, 1], [3, 1]], [[4, 1]]);
    log.commitTo(3n);
    assert.equal(log.hasNextCommittedEntries(), true);
    assert.deepEqual(pairsOf(log.nextCommittedEntries()), [[1, 1], [2, 1], [3, 1]]);
    log.appliedTo(3n);
    assert.equal(log.hasNextCommittedEntries(), false);
    assert.deepEqual(log.nextCommittedEntries(), []);
    assert.throws(() => log.appliedTo(4n), /out of range/);
    assert.throws(() => log.commitTo(9n), /out of range/);
    log.commitTo(2n); // lower commit is ignored
    assert.equal(log.committed, 3n);
  });

  it('commits only entries of the given term (maybeCommit)', () => {
    const log = newLog([], [[1, 1], [2, 2], [3, 2]]);
    assert.equal(log.maybeCommit(2n, 1n), false);
    assert.equal(log.maybeCommit(2n, 2n), true);
    assert.equal(log.maybeCommit(2n, 2n), false);
    assert.equal(log.committed, 2n);
  });

  it('restores from a snapshot, moving commit and first index', () => {
    const log = newLog([[1, 1], [2, 1]]);
    log.restore(snap(10, 3));
    assert.equal(log.committed, 10n);
    assert.equal(log.firstIndex(), 11n);
    assert.equal(log.lastIndex(), 10n);
    assert.equal(log.lastTerm(), 3n);
    assert.equal(log.snapshot().metadata!.index, 10n);
    assert.equal(log.hasNextCommittedEntries(), false);
  });

  it('marks entries stable only if the term still matches', () => {
    const log = newLog([], [[1, 1], [2, 1], [3, 1]]);
    log.stableTo(2n, 2n); // stale: the entry at 2 has term 1
    assert.equal(log.unstable.offset, 1n);
    log.stableTo(2n, 1n);
    assert.equal(log.unstable.offset, 3n);
    assert.deepEqual(pairsOf(log.unstableEntries()), [[3, 1]]);
    log.stableTo(9n, 1n); // beyond the log: ignored
    assert.equal(log.unstable.offset, 3n);
  });

  it('refuses appends that would rewrite committed entries or leave gaps', () => {
    const log = newLog([], [[1, 1], [2, 1]]);
    log.committed = 2n;
    assert.throws(() => log.append(ents([2, 2])), /out of range/);
    assert.throws(() => log.append(ents([4, 1])), /gap/);
    assert.equal(log.append([]), 2n);
    assert.match(log.toString(), /committed=2/);
  });
});

describe('raft log: unstable', () => {
  it('answers first/last index and term from a snapshot or entries', () => {
    const u = new Unstable(5n);
    assert.equal(u.maybeFirstIndex(), undefined);
    assert.equal(u.maybeLastIndex(), undefined);
    u.restore(snap(4, 1));
    assert.equal(u.maybeFirstIndex(), 5n);
    assert.equal(u.maybeLastIndex(), 4n);
    assert.equal(u.maybeTerm(4n), 1n);
    assert.equal(u.maybeTerm(3n), undefined);
    u.truncateAndAppend(ents([5, 1], [6, 2]));
    assert.equal(u.maybeLastIndex(), 6n);
    assert.equal(u.maybeTerm(6n), 2n);
    assert.equal(u.maybeTerm(7n), undefined);
    u.stableSnapTo(3n);
    assert.notEqual(u.snapshot, undefined);
    u.stableSnapTo(4n);
    assert.equal(u.snapshot, undefined);
  });

  describe('truncateAndAppend', () => {
    const cases: Array<{ name: string; add: Array<[number, number]>; offset: number; want: Array<[number, number]> }> = [
      { name: 'append to the end', add: [[8, 1], [9, 1]], offset: 5, want: [[5, 1], [6, 1], [7, 1], [8, 1], [9, 1]] },
      { name: 'replace everything from the offset', add: [[5, 2], [6, 2]], offset: 5, want: [[5, 2], [6, 2]] },
      { name: 'replace from before the offset', add: [[4, 2], [5, 2], [6, 2]], offset: 4, want: [[4, 2], [5, 2], [6, 2]] },
      { name: 'truncate in the middle', add: [[6, 2]], offset: 5, want: [[5, 1], [6, 2]] },
      { name: 'truncate and extend', add: [[7, 2], [8, 2]], offset: 5, want: [[5, 1], [6, 1], [7, 2], [8, 2]] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const u = new Unstable(5n);
        u.truncateAndAppend(ents([5, 1], [6, 1], [7, 1]));
        u.truncateAndAppend(ents(...c.add));
        assert.equal(u.offset, BigInt(c.offset));
        assert.deepEqual(pairsOf(u.entries), c.want);
      });
    }
  });
});
