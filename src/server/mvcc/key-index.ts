import assert from 'node:assert/strict';
import type { Revision } from './revision.js';

/**
 * The history of one key in the in-memory index, split into generations.
 *
 * A generation runs from the creation of a key to its deletion. Each holds the
 * revisions of the changes in it; when the key is deleted, the delete's
 * revision (the tombstone) closes the generation and an empty one is opened
 * for a later re-creation. The current generation is always the last one.
 *
 * Worked example: put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0)
 * on key "foo" gives
 *
 *   generations:
 *     {empty}
 *     {4.0, 5.0(t)}
 *     {1.0, 2.0, 3.0(t)}
 *
 * Compacting at revision N removes every revision below N except the newest
 * one at or below N in each surviving generation (the value a read at N must
 * still see); a generation that ended (tombstone) at or below N goes away
 * entirely, and a key whose only generation is empty leaves the index:
 *
 *   compact(2) -> {empty} {4.0, 5.0(t)} {2.0, 3.0(t)}
 *   compact(4) -> {empty} {4.0, 5.0(t)}
 *   compact(5) -> {empty}            (the tombstone 5.0 leaves the index, but
 *                                     its record stays in the backend until the
 *                                     next compaction, for a watch from 5)
 *   compact(6) -> {empty}            -> the key is removed from the index
 */
export interface Generation {
  /** Number of changes in this generation so far (the key's `version`). */
  version: bigint;
  /** Revision at which this generation was created; meaningful when revs is non-empty. */
  created: Revision;
  /** Revisions of changes, ascending; in a closed generation the last one is the tombstone. */
  revs: Revision[];
}

export interface KeyIndexHit {
  modified: Revision;
  created: Revision;
  version: bigint;
}

export class KeyIndexNotFoundError extends Error {
  constructor() {
    super('mvcc: revision not found');
  }
}

export class KeyIndex {
  /** The newest revision of any change of this key. */
  modified: Revision = { main: 0n, sub: 0 };
  generations: Generation[] = [];

  /** The key as a latin1 string (byte order = string order); no Buffer is kept per key. */
  constructor(readonly key: string) {}

  put(rev: Revision): void {
    assert.ok(this.modified.main < rev.main || (this.modified.main === rev.main && this.modified.sub < rev.sub),
      `put of ${rev.main}.${rev.sub} on key ${this.key} not after ${this.modified.main}.${this.modified.sub}`);
    // Arrays start as exact-size literals: an empty array grown by push()
    // reserves ~17 slots, which across a million keys is most of the index.
    const current = this.generations[this.generations.length - 1];
    if (current === undefined) {
      this.generations = [{ version: 1n, created: rev, revs: [rev] }];
    } else if (current.revs.length === 0) {
      current.created = rev;
      current.revs = [rev];
      current.version = 1n;
    } else {
      current.revs.push(rev);
      current.version += 1n;
    }
    this.modified = rev;
  }

  /** Records a delete: the tombstone closes the current generation. */
  tombstone(rev: Revision): void {
    if (this.isLiveEmpty()) throw new KeyIndexNotFoundError();
    this.put(rev);
    this.generations.push({ version: 0n, created: { main: 0n, sub: 0 }, revs: [] });
  }

  /** Restores a change read back from the backend at startup (no ordering assertion across restarts). */
  restore(created: Revision, modified: Revision, version: bigint): void {
    assert.equal(this.generations.length, 0, 'restore on a non-empty key index');
    this.modified = modified;
    this.generations = [{ version, created, revs: [modified] }];
  }

  /** True when the key has no live generation (never created, or deleted last). */
  isLiveEmpty(): boolean {
    const last = this.generations[this.generations.length - 1];
    return last === undefined || last.revs.length === 0;
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.revs.length === 0;
  }

  /**
   * The change visible at revision `atRev`: the newest revision at or below it
   * in the generation alive at atRev. Undefined when the key did not exist then.
   */
  get(atRev: bigint): KeyIndexHit | undefined {
    const gen = this.findGeneration(atRev);
    if (gen === undefined) return undefined;
    for (let i = gen.revs.length - 1; i >= 0; i--) {
      const rev = gen.revs[i]!;
      if (rev.main <= atRev) {
        return { modified: rev, created: gen.created, version: gen.version - BigInt(gen.revs.length - 1 - i) };
      }
    }
    return undefined;
  }

  /** The generation that holds the key's state at atRev, or undefined if it was absent then. */
  private findGeneration(atRev: bigint): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const gen = this.generations[i]!;
      if (gen.revs.length === 0) continue;
      // A closed generation whose tombstone is at or below atRev: the key was deleted by then.
      if (i !== last && gen.revs[gen.revs.length - 1]!.main <= atRev) return undefined;
      if (gen.revs[0]!.main <= atRev) return gen;
    }
    return undefined;
  }

  /** Revisions of this key with main >= rev, across generations, ascending (watch catch-up). */
  since(rev: bigint): Revision[] {
    const found: Revision[] = [];
    for (const gen of this.generations) {
      for (const r of gen.revs) if (r.main >= rev) found.push(r);
    }
    return found;
  }

  /**
   * Drops history below atRev (see the class comment). Revisions that must
   * stay in the backend are added to `keep`, keyed by revisionKeyString.
   */
  compact(atRev: bigint, keep: Set<string>): void {
    assert.ok(this.generations.length > 0, 'compact of an empty key index');
    let genIdx = 0;
    // Skip the generations that ended (tombstone) at or below atRev; the last one always stays.
    while (genIdx < this.generations.length - 1) {
      const gen = this.generations[genIdx]!;
      const tomb = gen.revs[gen.revs.length - 1]!;
      if (tomb.main > atRev) break;
      // A delete exactly at the compaction revision stays readable by a watch
      // from that revision (etcd #18089); the next compaction removes it.
      if (tomb.main === atRev) keep.add(`${tomb.main}_${tomb.sub}`);
      genIdx++;
    }
    const gen = this.generations[genIdx]!;
    let keepFrom = -1;
    for (let i = gen.revs.length - 1; i >= 0; i--) {
      if (gen.revs[i]!.main <= atRev) {
        keepFrom = i;
        break;
      }
    }
    if (gen.revs.length > 0) {
      if (keepFrom !== -1) {
        const kept = gen.revs[keepFrom]!;
        keep.add(`${kept.main}_${kept.sub}`);
        gen.revs = gen.revs.slice(keepFrom);
      }
      // Only a tombstone left in a closed generation: nothing can be read from it any more.
      if (gen.revs.length === 1 && genIdx !== this.generations.length - 1) {
        const only = gen.revs[0]!;
        keep.delete(`${only.main}_${only.sub}`);
        genIdx++;
      }
    }
    this.generations = this.generations.slice(genIdx);
  }

  /** Would compacting at atRev keep this revision? Used by HashKV to hash the same set on every member. */
  keep(atRev: bigint, keep: Set<string>): void {
    const copy = new KeyIndex(this.key);
    copy.modified = this.modified;
    copy.generations = this.generations.map((g) => ({ version: g.version, created: g.created, revs: g.revs.slice() }));
    copy.compact(atRev, keep);
  }
}
