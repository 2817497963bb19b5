import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walRecordBytesMax } from '../../src/server/constants.js';
import { checkFrame, flagSyncStart } from '../../src/server/wal/record.js';
import { listSegments } from '../../src/server/wal/segment-name.js';
import { sectorBytes } from '../../src/server/wal/segment-scan.js';

/**
 * Power loss: what a member's disk holds when the machine loses power, made
 * from what a crash left on it.
 *
 * The member is crashed at the `walBeforeSync` failpoint: it has just written
 * a batch of WAL records and dies before the fdatasync that would make them
 * durable. At that instant what is durable is known exactly:
 *
 * - WAL: every byte before the batch (each earlier batch was fsynced before
 *   the next was written: one write, then one fdatasync, per batch). The
 *   batch starts at its first record, the last one on disk flagged
 *   syncStart. Power loss keeps any subset of the batch's sectors: the page
 *   cache writes back in any order and a disk persists 512-byte sectors, not
 *   records. A sector that did not persist holds what the disk held before,
 *   zeros: segments are preallocated with zeros and fsynced at creation. So
 *   we zero a random subset of the sectors the batch covers (the part of a
 *   shared first sector before the batch is durable and kept).
 * - Backend (LMDB): a commit writes its data pages, fdatasyncs them, then
 *   writes the meta page through a descriptor opened O_DSYNC
 *   (node_modules/lmdb/dependencies/lmdb/libraries/liblmdb/mdb.c,
 *   mdb_env_write_meta; etcdts opens LMDB with sync on and overlappingSync
 *   off). The newest meta page is therefore on disk once written, and pages
 *   written after the last durable meta are not reachable from it. The file
 *   a SIGKILL leaves is already what power loss would leave: nothing to drop.
 * - Snapshot files, new WAL segments, the received snapshot database: each
 *   is written, fsynced, renamed, and its directory fsynced before anything
 *   relies on it; a crash before that leaves a temporary file that startup
 *   removes. Not modelled: renames and unlinks whose directory fsync had not
 *   completed at the crash (a plain crash keeps them; power loss may not).
 */
export interface DroppedTail {
  segment: string;
  /** Bytes of the unsynced batch. */
  unsyncedBytes: number;
  /** Bytes zeroed: the sectors of the batch that did not persist. */
  droppedBytes: number;
}

export async function dropUnsyncedWalTail(dataDir: string, random: () => number): Promise<DroppedTail | undefined> {
  const { segments } = await listSegments(join(dataDir, 'member', 'wal'));
  const tail = segments[segments.length - 1];
  if (tail === undefined) return undefined;
  const buf = readFileSync(tail.path);
  const batch = lastBatch(buf);
  if (batch === undefined) return undefined;
  let dropped = 0;
  for (let sector = Math.floor(batch.start / sectorBytes) * sectorBytes; sector < batch.end; sector += sectorBytes) {
    if (random() >= 0.5) continue;
    const from = Math.max(sector, batch.start);
    const to = Math.min(sector + sectorBytes, batch.end);
    buf.fill(0, from, to);
    dropped += to - from;
  }
  writeFileSync(tail.path, buf);
  return { segment: tail.name, unsyncedBytes: batch.end - batch.start, droppedBytes: dropped };
}

/** The last write batch of a segment: from its last syncStart record to the end of the last intact record. */
function lastBatch(buf: Buffer): { start: number; end: number } | undefined {
  let offset = 0;
  let start: number | undefined;
  for (;;) {
    const check = checkFrame(buf, offset, walRecordBytesMax);
    if (!check.ok) break;
    if ((check.frame.flags & flagSyncStart) !== 0) start = offset;
    offset += check.frame.bytes;
  }
  return start === undefined ? undefined : { start, end: offset };
}
