import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound } from './fs-util.js';

/**
 * Segment files are named `<seq:016x>-<firstIndex:016x>.wal`: seq counts the
 * segments of this WAL from 0 without gaps, and firstIndex is the index of the
 * first entry written after the segment was created (one past the last entry
 * of the segments before it). Fixed-width hex makes lexical order numeric.
 */

export interface SegmentFile {
  seq: bigint;
  firstIndex: bigint;
  name: string;
  path: string;
}

const namePattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
export const segmentTempSuffix = '.tmp';

export function segmentName(seq: bigint, firstIndex: bigint): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function hex16(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

export function parseSegmentName(name: string): { seq: bigint; firstIndex: bigint } | undefined {
  const match = namePattern.exec(name);
  if (match === null) return undefined;
  return { seq: BigInt('0x' + match[1]!), firstIndex: BigInt('0x' + match[2]!) };
}

export interface DirListing {
  segments: SegmentFile[];
  /** Segments a crash left half-created during a cut (never renamed into place). */
  temps: string[];
}

/** Lists the segments in `dir` ordered by seq; a missing directory lists as empty. */
export async function listSegments(dir: string): Promise<DirListing> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return { segments: [], temps: [] };
    throw err;
  }
  const segments: SegmentFile[] = [];
  const temps: string[] = [];
  for (const name of names) {
    const parsed = parseSegmentName(name);
    if (parsed !== undefined) segments.push({ ...parsed, name, path: join(dir, name) });
    else if (name.endsWith('.wal' + segmentTempSuffix)) temps.push(join(dir, name));
  }
  segments.sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  return { segments, temps };
}
