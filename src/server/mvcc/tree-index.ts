import BTreeModule from 'sorted-btree';
import { KeyIndex, type KeyIndexHit } from './key-index.js';
import type { Revision } from './revision.js';

// sorted-btree is CommonJS; from ESM its class is the `default` property.
const BTree = BTreeModule.default;

/**
 * A key range as the index understands it, after the wire encoding has been
 * decoded (see keyRangeFromRequest): `end === undefined` means the single key
 * `start`; `end === null` means every key >= start; otherwise [start, end).
 * Keys are latin1 strings, whose JS ordering is the byte order of the keys.
 */
export interface KeyRange {
  start: string;
  end: string | null | undefined;
}

export interface IndexedRevision {
  /** latin1 key string. */
  key: string;
  hit: KeyIndexHit;
}

/**
 * The in-memory index of the key space: key -> KeyIndex (its generations of
 * revisions), kept in a B+ tree so that ranges and prefixes are ordered scans.
 * Values live in the backend, keyed by revision; this index is how a read at
 * revision R finds, for each key, which backend record to load.
 */
export class TreeIndex {
  private readonly tree = new BTree<string, KeyIndex>();

  get size(): number {
    return this.tree.size;
  }

  get(key: string, atRev: bigint): KeyIndexHit | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  keyIndex(key: string): KeyIndex | undefined {
    return this.tree.get(key);
  }

  put(keyString: string, rev: Revision): void {
    let ki = this.tree.get(keyString);
    if (ki === undefined) {
      ki = new KeyIndex(keyString);
      this.tree.set(keyString, ki);
    }
    ki.put(rev);
  }

  /** Records a delete; false when the key has no live generation (nothing to delete). */
  tombstone(keyString: string, rev: Revision): boolean {
    const ki = this.tree.get(keyString);
    if (ki === undefined || ki.isLiveEmpty()) return false;
    ki.tombstone(rev);
    return true;
  }

  /** Calls fn for every key index whose key lies in the range, in key order. */
  forEachKeyIndex(range: KeyRange, fn: (ki: KeyIndex) => void): void {
    if (range.end === undefined) {
      const ki = this.tree.get(range.start);
      if (ki !== undefined) fn(ki);
      return;
    }
    if (range.end === null) {
      const high = this.tree.maxKey();
      if (high === undefined || high < range.start) return;
      this.tree.forRange(range.start, high, true, (_k, ki) => fn(ki));
      return;
    }
    if (range.end <= range.start) return;
    this.tree.forRange(range.start, range.end, false, (_k, ki) => fn(ki));
  }

  /** Every key live at atRev in the range, with the revision to read, in key order. */
  revisions(range: KeyRange, atRev: bigint): IndexedRevision[] {
    const found: IndexedRevision[] = [];
    this.forEachKeyIndex(range, (ki) => {
      const hit = ki.get(atRev);
      if (hit !== undefined) found.push({ key: ki.key, hit });
    });
    return found;
  }

  /** Number of keys live at atRev in the range (count_only reads and the `count` field). */
  countRevisions(range: KeyRange, atRev: bigint): number {
    let count = 0;
    this.forEachKeyIndex(range, (ki) => {
      if (ki.get(atRev) !== undefined) count++;
    });
    return count;
  }

  /**
   * Compacts every key's history at atRev; returns the revisions (as
   * revisionKeyString) that must stay in the backend. Keys left with no
   * history leave the index.
   */
  compact(atRev: bigint): Set<string> {
    const keep = new Set<string>();
    const emptied: string[] = [];
    this.tree.forEachPair((key, ki) => {
      ki.compact(atRev, keep);
      if (ki.isEmpty()) emptied.push(key);
    });
    for (const key of emptied) this.tree.delete(key);
    return keep;
  }

  /** The revisions a compaction at atRev would keep, without compacting (for HashKV). */
  keep(atRev: bigint): Set<string> {
    const keep = new Set<string>();
    this.tree.forEachPair((_key, ki) => ki.keep(atRev, keep));
    return keep;
  }

  /** Rebuild helper at startup: one stored change read back in revision order. */
  restoreChange(keyString: string, rev: Revision, tombstone: boolean, createRevision: bigint, version: bigint): void {
    const ki = this.tree.get(keyString);
    if (tombstone) {
      if (ki !== undefined && !ki.isLiveEmpty()) ki.tombstone(rev);
      return;
    }
    if (ki === undefined) {
      const fresh = new KeyIndex(keyString);
      fresh.restore({ main: createRevision, sub: 0 }, rev, version);
      this.tree.set(keyString, fresh);
      return;
    }
    ki.put(rev);
  }
}
