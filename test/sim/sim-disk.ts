/**
 * A member's simulated disk: the Raft log, hard state and snapshots. Writes
 * first land in a volatile buffer (the page cache); fsync() makes them
 * durable, in order. A crash drops everything not yet synced, and the member
 * restarts from what is durable.
 */
import type { ConfState, Entry, HardState, Snapshot } from '../../src/proto/gen/etcdtspb/raft.js';
import { MemoryStorage } from '../../src/server/raft/storage.js';
import { snapshotIndex } from '../../src/server/raft/messages.js';

type DiskWrite =
  | { kind: 'snapshot'; snapshot: Snapshot }
  | { kind: 'entries'; entries: Entry[] }
  | { kind: 'hardState'; hardState: HardState };

export class SimDisk {
  /** What survives a crash, kept in a MemoryStorage for convenience. */
  private readonly durable = new MemoryStorage();
  private pending: DiskWrite[] = [];
  /** Counts for reports. */
  fsyncs = 0;
  writesLost = 0;

  write(w: DiskWrite): void {
    this.pending.push(w);
  }

  fsync(): void {
    for (const w of this.pending) {
      if (w.kind === 'snapshot') this.durable.applySnapshot(w.snapshot);
      else if (w.kind === 'entries') this.durable.append(w.entries);
      else this.durable.setHardState(w.hardState);
    }
    this.pending = [];
    this.fsyncs++;
  }

  get unsynced(): number {
    return this.pending.length;
  }

  /** Power loss: writes not yet synced are gone. */
  crash(): void {
    this.writesLost += this.pending.length;
    this.pending = [];
  }

  /**
   * Records a snapshot of the applied state and drops the log entries before
   * `compactTo`. The snapshot file is written and synced first, then the log
   * is released (so a crash in between leaves both, which is harmless).
   */
  saveSnapshot(index: bigint, confState: ConfState, data: Buffer, compactTo: bigint): void {
    this.fsync();
    if (index <= snapshotIndex(this.durable.snapshot())) return;
    this.durable.createSnapshot(index, confState, data);
    if (compactTo > this.durable.firstIndex()) this.durable.compact(compactTo);
  }

  durableHardState(): HardState {
    return this.durable.initialState().hardState;
  }

  durableLastIndex(): bigint {
    return this.durable.lastIndex();
  }

  durableSnapshot(): Snapshot {
    return this.durable.snapshot();
  }

  /** A fresh in-memory storage holding exactly the durable state (for a restart). */
  load(): MemoryStorage {
    const s = new MemoryStorage();
    const snap = this.durable.snapshot();
    if (snapshotIndex(snap) > 0n) s.applySnapshot(snap);
    s.setHardState(this.durable.initialState().hardState);
    const first = this.durable.firstIndex();
    const last = this.durable.lastIndex();
    if (last >= first) s.append(this.durable.entries(first, last + 1n, Infinity));
    return s;
  }
}
