import { Permission_Type, type Permission } from '../../proto/gen/authpb/auth.js';

/**
 * Key permissions merged across a user's roles (etcd's range_perm_cache.go,
 * our structure): for reads and for writes, the union of the granted key
 * intervals as sorted, disjoint, non-adjacent intervals, so that a request
 * range is permitted exactly when one merged interval covers all of it.
 *
 * Keys are latin1 strings (one char per byte), so string order is byte
 * order. An interval is [start, end); end null is "to the end of the
 * keyspace". A permission's range_end follows etcd's encoding: empty for the
 * one key (the interval [key, key+"\0")), "\0" for every key from `key`
 * (from-key), anything else the exclusive end (a prefix grant is
 * [prefix, prefix+1)).
 *
 * Worked example: a role with READ on [a, c) and a role with READWRITE on
 * key "c" and READ from "x" give read = [a, c\0) ∪ [x, ∞), write =
 * [c, c\0). A read of [b, c\0) is allowed (covered by the merged
 * [a, c\0)); a read of [b, d) is not (the keys in [c\0, d) are not granted);
 * a read of "y" is; a from-key read from "w" is not.
 */
export interface Interval {
  start: string;
  end: string | null;
}

export interface UserPermissions {
  read: Interval[];
  write: Interval[];
}

/** The interval a stored permission grants. */
export function permissionInterval(key: Buffer, rangeEnd: Buffer): Interval {
  const start = key.toString('latin1');
  if (rangeEnd.length === 0) return { start, end: `${start}\0` };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: rangeEnd.toString('latin1') };
}

/** Merges the permissions of several roles into read and write unions. */
export function mergePermissions(perms: Iterable<Permission>): UserPermissions {
  const read: Interval[] = [];
  const write: Interval[] = [];
  for (const p of perms) {
    const ivl = permissionInterval(p.key, p.rangeEnd);
    if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE) read.push(ivl);
    if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE) write.push(ivl);
  }
  return { read: union(read), write: union(write) };
}

function endAfter(a: string | null, b: string | null): boolean {
  if (a === null) return b !== null;
  return b !== null && a > b;
}

/** Sorts and merges overlapping or touching intervals; empty ones (end <= start) grant nothing. */
export function union(intervals: Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.end === null || i.end > i.start).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const merged: Interval[] = [];
  for (const ivl of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && (last.end === null || last.end >= ivl.start)) {
      if (endAfter(ivl.end, last.end)) last.end = ivl.end;
    } else {
      merged.push({ ...ivl });
    }
  }
  return merged;
}

/**
 * Whether a merged union permits a request on [key, rangeEnd) in etcd's
 * request encoding: rangeEnd empty is the one key, "\0" every key from `key`
 * (checked as the whole interval to the end of the keyspace: etcd 3.4.23
 * checked only `key`, GHSA-xg4h-6gfc-h4m8), anything else the exclusive end.
 * A request range that is empty (rangeEnd <= key) touches no key; it is
 * permitted when `key` itself is, so it reveals nothing either way.
 */
export function permits(granted: Interval[], key: Buffer, rangeEnd: Buffer): boolean {
  const start = key.toString('latin1');
  if (rangeEnd.length === 0) return coversPoint(granted, start);
  const end = rangeEnd.length === 1 && rangeEnd[0] === 0 ? null : rangeEnd.toString('latin1');
  if (end !== null && end <= start) return coversPoint(granted, start);
  return granted.some((g) => g.start <= start && (g.end === null || (end !== null && g.end >= end)));
}

function coversPoint(granted: Interval[], key: string): boolean {
  return granted.some((g) => g.start <= key && (g.end === null || key < g.end));
}
