import { closeSync, fdatasyncSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType, type Entry } from '../src/proto/gen/etcdtspb/raft.js';
import { Wal } from '../src/server/wal/wal.js';

/**
 * WAL save() throughput, not a test (design.md §4: timings are reported,
 * never asserted). Run after building:
 *   node dist/bench/wal-fsync.js [seconds-per-case] [entry-bytes]
 * Cases: 1 and 100 entries per awaited save() call, and 64 concurrent
 * 1-entry saves (group commit merges them), against the raw
 * write+fdatasync rate of the same disk as the ceiling for one-at-a-time
 * calls.
 */

const seconds = Number(process.argv[2] ?? 3);
const entryBytes = Number(process.argv[3] ?? 256);

function makeEntries(from: bigint, n: number, data: Buffer): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ index: from + BigInt(i), term: 1n, type: EntryType.EntryNormal, data }));
}

interface Result {
  name: string;
  saves: number;
  entries: number;
  syncs: number;
  ms: number;
}

async function run(name: string, perCall: number, concurrency: number): Promise<Result> {
  const root = mkdtempSync(join(tmpdir(), 'etcdts-wal-bench-'));
  try {
    const wal = await Wal.create(join(root, 'wal'), Buffer.from('bench'));
    const data = Buffer.alloc(entryBytes, 0x61);
    let next = 1n;
    let saves = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    while (performance.now() < deadline) {
      const calls: Promise<void>[] = [];
      for (let c = 0; c < concurrency; c++) {
        calls.push(wal.save({ term: 1n, vote: 1n, commit: next - 1n }, makeEntries(next, perCall, data)));
        next += BigInt(perCall);
      }
      await Promise.all(calls);
      saves += concurrency;
    }
    const ms = performance.now() - started;
    const stats = wal.stats();
    await wal.close();
    return { name, saves, entries: saves * perCall, syncs: stats.syncs, ms };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function rawSyncRate(): number {
  const root = mkdtempSync(join(tmpdir(), 'etcdts-wal-bench-'));
  const fd = openSync(join(root, 'raw'), 'w+');
  try {
    ftruncateSync(fd, 64 * 1024 * 1024);
    const buf = Buffer.alloc(entryBytes + 32, 0x61);
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < seconds * 1000) {
      writeSync(fd, buf, 0, buf.length, n * buf.length);
      fdatasyncSync(fd);
      n++;
    }
    return n / ((performance.now() - started) / 1000);
  } finally {
    closeSync(fd);
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`WAL save() throughput, ${entryBytes}-byte entries, ${seconds} s per case, node ${process.version}`);
  console.log(`raw write+fdatasync (sync, no framing): ${rawSyncRate().toFixed(0)} /s`);
  const cases: [string, number, number][] = [
    ['1 entry per save, awaited one by one', 1, 1],
    ['100 entries per save, awaited one by one', 100, 1],
    ['1 entry per save, 64 concurrent', 1, 64],
  ];
  for (const [name, perCall, concurrency] of cases) {
    const r = await run(name, perCall, concurrency);
    const s = r.ms / 1000;
    const mb = (r.entries * entryBytes) / s / 1024 / 1024;
    console.log(
      `${r.name}: ${(r.saves / s).toFixed(0)} saves/s, ${(r.entries / s).toFixed(0)} entries/s, ` +
        `${mb.toFixed(1)} MiB/s of entry data, ${(r.syncs / s).toFixed(0)} fsyncs/s, ` +
        `${((r.ms * 1000) / r.saves).toFixed(0)} us/save`,
    );
  }
}

await main();
