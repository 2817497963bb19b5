import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Entry, EntryType, HardState } from '../../../src/proto/gen/etcdtspb/raft.js';

/** A small seeded generator (mulberry32): the same seed gives the same corruption, every run. */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Temp directories created by a test file, removed by cleanupTempDirs() in `after`. */
const created: string[] = [];

export function tempDir(prefix = 'etcdts-wal-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

export function walFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
}

export function entry(index: bigint, term: bigint, data: string | Buffer = `e${index}`): Entry {
  return {
    index,
    term,
    type: EntryType.EntryNormal,
    data: typeof data === 'string' ? Buffer.from(data) : data,
  };
}

/** Entries [from, to] in `term`, data derived from the index. */
export function entries(from: bigint, to: bigint, term: bigint, tag = 'e'): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, `${tag}${i}`));
  return out;
}

export function hardState(term: bigint, vote: bigint, commit: bigint): HardState {
  return { term, vote, commit };
}

/** Compact printable form for deep equality checks. */
export function show(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}/${e.term}/${e.data.toString('hex')}`);
}

/** Entry data the crash child writes: derived from the index, so survivors can be checked byte for byte. */
export function crashEntryData(index: bigint): Buffer {
  return Buffer.from(`entry-${index}-`.padEnd(90 + Number(index % 50n), 'x'));
}
