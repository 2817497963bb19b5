import assert from 'node:assert/strict';
import type { KeyRange } from './tree-index.js';

/** What a group needs to know about a watcher: the keys it watches. */
export interface RangedWatcher {
  readonly range: KeyRange;
}

/** True when `key` (a latin1 string, so JS order is byte order) falls in the range. */
export function rangeContains(range: KeyRange, key: string): boolean {
  if (range.end === undefined) return key === range.start;
  if (key < range.start) return false;
  return range.end === null || key < range.end;
}

interface RangeEntry<W> {
  range: KeyRange;
  watchers: Set<W>;
}

/**
 * A set of watchers indexed for the question the store asks on every event:
 * "who watches this key?". Single-key watchers are found by a map lookup;
 * range watchers are grouped by identical range (the common case is many
 * watchers on the same prefix), and each distinct range is tested once per
 * key. etcd keeps ranges in an interval tree; a flat list of distinct ranges
 * is as fast for the few distinct ranges real workloads have, and simpler.
 */
export class WatchGroup<W extends RangedWatcher> {
  private readonly keyWatchers = new Map<string, Set<W>>();
  private readonly rangeWatchers = new Map<string, RangeEntry<W>>();
  private readonly all = new Set<W>();

  get size(): number {
    return this.all.size;
  }

  has(w: W): boolean {
    return this.all.has(w);
  }

  values(): IterableIterator<W> {
    return this.all.values();
  }

  add(w: W): void {
    assert.ok(!this.all.has(w), 'watcher added to a group twice');
    this.all.add(w);
    if (w.range.end === undefined) {
      let set = this.keyWatchers.get(w.range.start);
      if (set === undefined) this.keyWatchers.set(w.range.start, (set = new Set()));
      set.add(w);
      return;
    }
    const id = rangeId(w.range);
    let entry = this.rangeWatchers.get(id);
    if (entry === undefined) this.rangeWatchers.set(id, (entry = { range: w.range, watchers: new Set() }));
    entry.watchers.add(w);
  }

  /** Removes the watcher; false if it was not in the group. */
  delete(w: W): boolean {
    if (!this.all.delete(w)) return false;
    if (w.range.end === undefined) {
      const set = this.keyWatchers.get(w.range.start);
      assert.ok(set !== undefined && set.delete(w), 'single-key watcher missing from its key set');
      if (set.size === 0) this.keyWatchers.delete(w.range.start);
      return true;
    }
    const id = rangeId(w.range);
    const entry = this.rangeWatchers.get(id);
    assert.ok(entry !== undefined && entry.watchers.delete(w), 'range watcher missing from its range set');
    if (entry.watchers.size === 0) this.rangeWatchers.delete(id);
    return true;
  }

  /** Calls fn for every watcher whose range holds key. */
  forEachWatching(key: string, fn: (w: W) => void): void {
    const exact = this.keyWatchers.get(key);
    if (exact !== undefined) for (const w of exact) fn(w);
    for (const entry of this.rangeWatchers.values()) {
      if (rangeContains(entry.range, key)) for (const w of entry.watchers) fn(w);
    }
  }

  /** True when some watcher of the group watches key. */
  watches(key: string): boolean {
    if (this.keyWatchers.has(key)) return true;
    for (const entry of this.rangeWatchers.values()) if (rangeContains(entry.range, key)) return true;
    return false;
  }
}

function rangeId(range: KeyRange): string {
  // '\u0100' cannot occur in a latin1 key string, so the id is unambiguous.
  return `${range.start}\u0100${range.end === null ? '' : `\u0100${range.end}`}`;
}

/** A string naming the range exactly (a single key, a range, or every key from one on), for maps keyed by range. */
export function rangeKey(range: KeyRange): string {
  return range.end === undefined ? range.start : rangeId(range);
}
