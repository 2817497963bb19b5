import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MajorityConfig, VoteResult } from '../../../src/server/raft/quorum/majority.js';
import { maxUint64 } from '../../../src/server/raft/messages.js';

/** The obvious (slow) definition: the largest index that a majority has reached. */
function naiveCommitted(voters: bigint[], acked: Map<bigint, bigint>): bigint {
  if (voters.length === 0) return maxUint64;
  const candidates = [0n, ...voters.map((v) => acked.get(v) ?? 0n)];
  let best = 0n;
  for (const idx of candidates) {
    const reached = voters.filter((v) => (acked.get(v) ?? 0n) >= idx).length;
    if (reached > voters.length / 2 && idx > best) best = idx;
  }
  return best;
}

function naiveVote(voters: bigint[], votes: Map<bigint, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.VoteWon;
  const yes = voters.filter((v) => votes.get(v) === true).length;
  const no = voters.filter((v) => votes.get(v) === false).length;
  if (yes > voters.length / 2) return VoteResult.VoteWon;
  if (no >= voters.length / 2) return VoteResult.VoteLost;
  return VoteResult.VotePending;
}

const ids = (...xs: number[]): MajorityConfig => new MajorityConfig(new Set(xs.map(BigInt)));

describe('raft quorum: majority', () => {
  describe('committed index', () => {
    const cases: Array<{ voters: number[]; acked: Record<number, number>; want: bigint }> = [
      { voters: [], acked: {}, want: maxUint64 },
      { voters: [1], acked: {}, want: 0n },
      { voters: [1], acked: { 1: 12 }, want: 12n },
      { voters: [1, 2], acked: { 1: 12 }, want: 0n },
      { voters: [1, 2], acked: { 1: 12, 2: 5 }, want: 5n },
      { voters: [1, 2, 3], acked: { 1: 12, 2: 5 }, want: 5n },
      { voters: [1, 2, 3], acked: { 1: 12, 2: 5, 3: 4 }, want: 5n },
      { voters: [1, 2, 3, 4], acked: { 1: 12, 2: 5, 3: 4, 4: 10 }, want: 5n },
      { voters: [1, 2, 3, 4, 5], acked: { 1: 5, 2: 5, 3: 4, 4: 2 }, want: 4n },
      // An id that is not a voter does not count.
      { voters: [1, 2, 3], acked: { 1: 12, 9: 100 }, want: 0n },
    ];
    for (const c of cases) {
      it(`voters ${JSON.stringify(c.voters)} acked ${JSON.stringify(c.acked)} commit ${c.want}`, () => {
        const acked = (id: bigint): bigint | undefined => {
          const v = c.acked[Number(id)];
          return v === undefined ? undefined : BigInt(v);
        };
        assert.equal(ids(...c.voters).committedIndex(acked), c.want);
      });
    }
  });

  describe('vote result', () => {
    const cases: Array<{ voters: number[]; votes: Record<number, boolean>; want: VoteResult }> = [
      { voters: [], votes: {}, want: VoteResult.VoteWon },
      { voters: [1], votes: {}, want: VoteResult.VotePending },
      { voters: [1], votes: { 1: true }, want: VoteResult.VoteWon },
      { voters: [1], votes: { 1: false }, want: VoteResult.VoteLost },
      { voters: [1, 2], votes: { 1: true }, want: VoteResult.VotePending },
      { voters: [1, 2], votes: { 1: true, 2: false }, want: VoteResult.VoteLost },
      { voters: [1, 2, 3], votes: { 1: true, 2: false }, want: VoteResult.VotePending },
      { voters: [1, 2, 3], votes: { 1: true, 3: true }, want: VoteResult.VoteWon },
      { voters: [1, 2, 3], votes: { 2: false, 3: false }, want: VoteResult.VoteLost },
      { voters: [1, 2, 3, 4, 5], votes: { 1: true, 2: true, 3: false, 4: false }, want: VoteResult.VotePending },
    ];
    for (const c of cases) {
      it(`voters ${JSON.stringify(c.voters)} votes ${JSON.stringify(c.votes)}`, () => {
        const votes = new Map(Object.entries(c.votes).map(([k, v]) => [BigInt(k), v] as const));
        assert.equal(ids(...c.voters).voteResult(votes), c.want);
      });
    }
  });

  const voterSets = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 0, maxLength: 7 });

  it('commits what a naive majority count commits (property)', () => {
    fc.assert(
      fc.property(voterSets, fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.bigInt({ min: 0n, max: 50n }))), (voters, acks) => {
        const vs = voters.map(BigInt);
        const acked = new Map(acks.map(([id, idx]) => [BigInt(id), idx] as const));
        const got = new MajorityConfig(new Set(vs)).committedIndex((id) => acked.get(id));
        assert.equal(got, naiveCommitted(vs, acked));
      }),
      { numRuns: 2000 },
    );
  });

  it('decides elections as a naive vote count does (property)', () => {
    fc.assert(
      fc.property(voterSets, fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.boolean())), (voters, vs) => {
        const votes = new Map(vs.map(([id, v]) => [BigInt(id), v] as const));
        const vset = voters.map(BigInt);
        assert.equal(new MajorityConfig(new Set(vset)).voteResult(votes), naiveVote(vset, votes));
      }),
      { numRuns: 2000 },
    );
  });

  it('never commits an index that only a minority has (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 100n }), { minLength: 1, maxLength: 7 }), (indexes) => {
        const voters = indexes.map((_, i) => BigInt(i + 1));
        const c = new MajorityConfig(new Set(voters)).committedIndex((id) => indexes[Number(id) - 1]);
        const atLeast = indexes.filter((i) => i >= c).length;
        assert.ok(atLeast > indexes.length / 2);
      }),
    );
  });
});
