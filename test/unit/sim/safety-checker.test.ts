/**
 * The simulator's safety checker (test/sim/invariants.ts), on its own: each
 * property passes on a history that keeps it and fails, naming the property,
 * on one that breaks it. The mutation tables then show it does so inside a
 * running cluster too.
 */
import assert from 'node:assert/strict';
import { EntryType, type Entry } from '../../../src/proto/gen/etcdtspb/raft.js';
import { RaftLog } from '../../../src/server/raft/raft-log.js';
import { MemoryStorage } from '../../../src/server/raft/storage.js';
import { SafetyChecker, SafetyViolation } from '../../sim/invariants.js';

/** An entry at `index` of `term` whose content is `data` (the checker compares contents). */
function entry(index: number, term: number, data = `e${index}t${term}`): Entry {
  return { index: BigInt(index), term: BigInt(term), type: EntryType.EntryNormal, data: Buffer.from(data) };
}

/** A log holding one entry per term given, from index 1 (contents as `entry` makes them). */
function logOf(...terms: number[]): RaftLog {
  const s = new MemoryStorage();
  s.append(terms.map((t, i) => entry(i + 1, t)));
  return new RaftLog(s, Infinity);
}

/** Runs `f`, which must throw a violation of `property`. */
function violates(property: string, f: () => void): void {
  assert.throws(f, (err: unknown) => err instanceof SafetyViolation && err.property === property);
}

describe('simulator safety checker', () => {
  describe('Election Safety', () => {
    it('accepts one leader per term, seen any number of times, and new leaders in later terms', () => {
      const c = new SafetyChecker();
      assert.equal(c.observeRole(1n, 'leader', 2n), true);
      assert.equal(c.observeRole(1n, 'leader', 2n), false);
      assert.equal(c.observeRole(2n, 'follower', 2n), false);
      assert.equal(c.observeRole(2n, 'leader', 3n), true);
      assert.equal(c.termsWithLeader, 2);
    });

    it('fails on a second leader in the same term', () => {
      const c = new SafetyChecker();
      c.observeRole(1n, 'leader', 2n);
      violates('Election Safety', () => c.observeRole(3n, 'leader', 2n));
    });
  });

  describe('Log Matching', () => {
    it('accepts the same entries persisted by several members', () => {
      const c = new SafetyChecker();
      c.onPersist(1n, [entry(1, 1), entry(2, 1), entry(3, 2)], 0n);
      c.onPersist(2n, [entry(2, 1), entry(3, 2)], 1n);
      c.onPersist(3n, [entry(3, 2)], 1n);
    });

    it('fails when one (index, term) names two different contents', () => {
      const c = new SafetyChecker();
      c.onPersist(1n, [entry(1, 1), entry(2, 1)], 0n);
      violates('Log Matching', () => c.onPersist(2n, [entry(2, 1, 'something else')], 1n));
    });

    it('fails when one (index, term) follows two different previous terms', () => {
      const c = new SafetyChecker();
      c.onPersist(1n, [entry(1, 1), entry(2, 2)], 0n);
      c.onPersist(2n, [entry(1, 2)], 0n);
      violates('Log Matching', () => c.onPersist(2n, [entry(2, 2)], 2n));
    });

    it('compares live logs pairwise: a shared entry implies a shared prefix', () => {
      const c = new SafetyChecker();
      c.checkLogsPairwise([{ id: 1n, log: logOf(1, 1, 2, 2) }, { id: 2n, log: logOf(1, 1, 2, 3, 3) }]);
      violates('Log Matching', () => c.checkLogsPairwise([{ id: 1n, log: logOf(1, 1, 2) }, { id: 2n, log: logOf(1, 2, 2) }]));
    });
  });

  describe('State Machine Safety', () => {
    it('accepts members committing and applying the same entries, in any order of arrival', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 1n, logOf(1, 1, 1), 0n, 3n);
      c.onCommitted(2n, 1n, logOf(1, 1), 0n, 2n);
      for (const id of [1n, 2n]) {
        c.onApplied(id, entry(1, 1), 'state after 1');
        c.onApplied(id, entry(2, 1), 'state after 2');
      }
      c.onSnapshotRestored(3n, 2n, 'state after 2');
      assert.equal(c.maxCommitted, 3n);
    });

    it('fails when a member commits a different entry at a committed index', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 1n, logOf(1, 1), 0n, 2n);
      violates('State Machine Safety', () => c.onCommitted(2n, 2n, logOf(1, 2), 1n, 2n));
    });

    it('fails when two members apply different entries at one index', () => {
      const c = new SafetyChecker();
      c.onApplied(1n, entry(1, 1), 'a');
      violates('State Machine Safety', () => c.onApplied(2n, entry(1, 1, 'another command'), 'a'));
    });

    it('fails when the same entries leave two members in different states', () => {
      const c = new SafetyChecker();
      c.onApplied(1n, entry(1, 1), 'k=1');
      violates('State Machine Safety', () => c.onApplied(2n, entry(1, 1), 'k=2'));
    });

    it('fails when a snapshot restores a state no member had at its index', () => {
      const c = new SafetyChecker();
      c.onApplied(1n, entry(1, 1), 'k=1');
      violates('State Machine Safety', () => c.onSnapshotRestored(2n, 1n, 'k=0'));
    });
  });

  describe('Leader Completeness', () => {
    it('accepts a new leader that holds every entry committed in earlier terms', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 1n, logOf(1, 1), 0n, 2n);
      c.checkLeaderCompleteness(2n, 2n, logOf(1, 1, 2));
    });

    it('does not require an entry committed in the leader\'s own term or later', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 3n, logOf(1, 3), 0n, 2n);
      c.checkLeaderCompleteness(2n, 3n, logOf(1));
    });

    it('fails when a new leader\'s log ends before a committed entry', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 1n, logOf(1, 1), 0n, 2n);
      violates('Leader Completeness', () => c.checkLeaderCompleteness(2n, 2n, logOf(1)));
    });

    it('fails when a new leader holds another term at a committed index', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 1n, logOf(1, 1), 0n, 2n);
      violates('Leader Completeness', () => c.checkLeaderCompleteness(2n, 3n, logOf(1, 2)));
    });

    it('counts an entry as committed in the lowest term any member saw it committed', () => {
      const c = new SafetyChecker();
      c.onCommitted(1n, 4n, logOf(1, 1), 0n, 2n);
      c.onCommitted(2n, 2n, logOf(1, 1), 0n, 2n);
      violates('Leader Completeness', () => c.checkLeaderCompleteness(3n, 3n, logOf(1)));
    });
  });
});
