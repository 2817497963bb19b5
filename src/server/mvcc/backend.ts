import assert from 'node:assert/strict';
import { mkdirSync, statSync, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { failpoint } from '../failpoint.js';

/**
 * The on-disk backend: named buckets of byte keys -> byte values in one LMDB
 * environment (our counterpart of etcd's bbolt file at member/snap/db).
 *
 * Writes are batched: the apply loop calls put/delete for a whole batch of
 * committed entries and then commit(), which hands the batch to LMDB's writer
 * thread as one transaction and resolves once it is durable (fsynced). Until
 * then the writes sit in an in-memory overlay that every read consults first,
 * so readers always see the applied state, never a half-committed one:
 * the overlay entry for a key is dropped only when the transaction that wrote
 * it has committed and no later write to the same key is pending.
 *
 * Invariant: batches commit in the order commit() was called, so the stored
 * consistent index (written by the applier in the same batch as the data it
 * covers) never gets ahead of the data on disk.
 */
export const buckets = ['key', 'meta', 'lease', 'auth', 'authUsers', 'authRoles', 'members', 'membersRemoved', 'alarm', 'cluster'] as const;
export type Bucket = (typeof buckets)[number];

interface PendingWrite {
  bucket: Bucket;
  key: Buffer;
  /** null for a delete. */
  value: Buffer | null;
}

export interface BackendOptions {
  /** Tests and tools may open read-only (snapshot status, offline inspection). */
  readOnly?: boolean;
  /** Commit without fsync (etcd --unsafe-no-fsync): a crash may lose committed transactions. */
  noSync?: boolean;
}

export class Backend {
  private env: RootDatabase<Buffer, Buffer>;
  private readonly dbs = new Map<Bucket, Database<Buffer, Buffer>>();
  private readonly overlay = new Map<string, PendingWrite>();
  private batch: PendingWrite[] = [];
  private lastCommit: Promise<void> = Promise.resolve();
  /** While a defragmentation copies the file: commits wait for it (see defragment()). */
  private commitsHeld: Promise<void> | undefined;
  /** Bytes of keys and values held by commits that wait for a defragmentation's copy. */
  private heldBytesNow = 0;
  /** Resolves when the running defragmentation's copy is written (or failed). */
  private copyWritten: Promise<void> = Promise.resolve();
  private commitsInFlight = 0;
  private cachedSize: number | undefined;
  /** Counters that metrics will read. */
  readonly stats = { commits: 0, writesCommitted: 0, commitMsTotal: 0 };
  /** Told how long each commit took to become durable, in seconds (etcd_disk_backend_commit_duration_seconds). */
  onCommitSeconds: ((seconds: number) => void) | undefined;

  private constructor(readonly path: string, private readonly options: BackendOptions) {
    if (!options.readOnly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.env = this.openEnv();
  }

  private openEnv(): RootDatabase<Buffer, Buffer> {
    const env = open<Buffer, Buffer>({
      path: this.path,
      noSubdir: true,
      keyEncoding: 'binary',
      encoding: 'binary',
      maxDbs: 32,
      // Commit and fsync in the writer thread before resolving: a resolved
      // commit() is durable, which is what the apply loop's contract needs.
      overlappingSync: false,
      readOnly: this.options.readOnly ?? false,
      noSync: this.options.noSync ?? false,
    });
    this.dbs.clear();
    for (const name of buckets) {
      this.dbs.set(name, env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
    }
    return env;
  }

  /**
   * Replaces the database file with another one (a compacted copy of itself
   * after defragmentation, or a snapshot received from the leader) and
   * reopens it, in place: every holder of this Backend keeps working with
   * the new file. The caller must make sure nothing writes meanwhile.
   */
  async replaceFile(source: string): Promise<void> {
    await this.commit();
    assert.equal(this.overlay.size, 0, 'replacing the backend file with writes pending');
    await this.env.close();
    await rename(source, this.path);
    this.env = this.openEnv();
    this.cachedSize = undefined;
  }

  /**
   * Rewrites the database without its free pages (etcd's defrag): a compacted
   * copy is written next to the file, then swapped in. Returns the sizes.
   *
   * Writes go on meanwhile: the copy is taken from a read transaction after
   * everything so far is committed, and commits made while it runs are held
   * (their writes stay in the overlay, which serves reads) and made in order
   * into the new file once it is in place. Only the swap itself, a close,
   * rename and reopen, runs inside `exclusive` (nothing applied meanwhile).
   * A crash before the swap leaves the old file whole, and the held writes
   * are applied again from the WAL.
   */
  async defragment(exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn()): Promise<{ before: number; after: number }> {
    assert.equal(this.commitsHeld, undefined, 'one defragmentation at a time');
    const before = this.sizeBytes();
    const tmp = `${this.path}.defrag`;
    if (existsSync(tmp)) await rm(tmp, { force: true });
    // Everything committed before the copy's read transaction starts: no await until commits are held.
    await this.commit();
    let release!: () => void;
    this.commitsHeld = new Promise<void>((resolve) => (release = resolve));
    let copied!: () => void;
    this.copyWritten = new Promise<void>((resolve) => (copied = resolve));
    try {
      failpoint('defragBeforeCopy');
      try {
        await this.env.backup(tmp, true);
      } finally {
        copied();
      }
      failpoint('defragBeforeRename');
      await exclusive(async () => {
        await this.env.close();
        await rename(tmp, this.path);
        this.env = this.openEnv();
        this.cachedSize = undefined;
      });
    } finally {
      this.commitsHeld = undefined;
      this.heldBytesNow = 0;
      release();
    }
    await this.lastCommit;
    return { before, after: this.sizeBytes() };
  }

  static open(path: string, options: BackendOptions = {}): Backend {
    return new Backend(path, options);
  }

  private db(bucket: Bucket): Database<Buffer, Buffer> {
    const db = this.dbs.get(bucket);
    assert.ok(db !== undefined, `unknown bucket ${bucket}`);
    return db;
  }

  private static overlayId(bucket: Bucket, key: Buffer): string {
    return `${bucket}\u0000${key.toString('latin1')}`;
  }

  get(bucket: Bucket, key: Buffer): Buffer | undefined {
    const pending = this.overlay.get(Backend.overlayId(bucket, key));
    if (pending !== undefined) return pending.value ?? undefined;
    return this.db(bucket).getBinary(key) ?? undefined;
  }

  put(bucket: Bucket, key: Buffer, value: Buffer): void {
    const write: PendingWrite = { bucket, key, value };
    this.overlay.set(Backend.overlayId(bucket, key), write);
    this.batch.push(write);
  }

  delete(bucket: Bucket, key: Buffer): void {
    const write: PendingWrite = { bucket, key, value: null };
    this.overlay.set(Backend.overlayId(bucket, key), write);
    this.batch.push(write);
  }

  /** A defragmentation is copying the file: commits wait for it. */
  get defragmenting(): boolean {
    return this.commitsHeld !== undefined;
  }

  /** Bytes of writes whose commits wait for the running defragmentation. */
  get heldBytes(): number {
    return this.heldBytesNow;
  }

  /** Resolves once the running defragmentation's copy is written: held commits stop growing then. */
  copyFinished(): Promise<void> {
    return this.copyWritten;
  }

  /** Writes not yet handed to commit(). */
  get pendingWrites(): number {
    return this.batch.length;
  }

  /**
   * Commits every write made since the last commit() in one durable
   * transaction. Resolves when it (and every earlier commit) is on disk.
   */
  commit(): Promise<void> {
    const writes = this.batch;
    if (writes.length === 0) return this.lastCommit;
    this.batch = [];
    const started = performance.now();
    this.commitsInFlight++;
    failpoint('beforeCommit');
    // The environment is looked up when the batch runs: after a defragmentation it is the new one.
    const write = () => this.env.batch(() => {
      for (const w of writes) {
        const db = this.db(w.bucket);
        if (w.value === null) db.remove(w.key);
        else db.put(w.key, w.value);
      }
    });
    if (this.commitsHeld !== undefined) for (const w of writes) this.heldBytesNow += w.key.length + (w.value?.length ?? 0);
    const done = this.commitsHeld === undefined ? write() : this.commitsHeld.then(write);
    const previous = this.lastCommit;
    this.lastCommit = Promise.all([previous, done]).then(() => {
      failpoint('afterCommit');
      this.commitsInFlight--;
      this.stats.commits++;
      this.stats.writesCommitted += writes.length;
      const ms = performance.now() - started;
      this.stats.commitMsTotal += ms;
      this.onCommitSeconds?.(ms / 1000);
      this.cachedSize = undefined;
      // Make the committed data visible to this thread's reads before the
      // overlay stops covering it.
      this.env.resetReadTxn();
      for (const w of writes) {
        const id = Backend.overlayId(w.bucket, w.key);
        if (this.overlay.get(id) === w) this.overlay.delete(id);
      }
    });
    return this.lastCommit;
  }

  /** Resolves when every commit issued so far is durable (does not commit the open batch). */
  settled(): Promise<void> {
    return this.lastCommit;
  }

  /**
   * Calls fn for every entry with start <= key < end (end undefined: to the
   * last key) in key order, merging pending writes over the stored data.
   * Returning false from fn stops the scan.
   */
  scan(bucket: Bucket, start: Buffer | undefined, end: Buffer | undefined, fn: (key: Buffer, value: Buffer) => boolean | void): void {
    const pending = this.pendingInRange(bucket, start, end);
    let p = 0;
    const stored = this.db(bucket).getRange({ start, end });
    for (const { key, value } of stored) {
      while (p < pending.length && Buffer.compare(pending[p]!.key, key) < 0) {
        const w = pending[p++]!;
        if (w.value !== null && fn(w.key, w.value) === false) return;
      }
      if (p < pending.length && Buffer.compare(pending[p]!.key, key) === 0) {
        const w = pending[p++]!;
        if (w.value !== null && fn(w.key, w.value) === false) return;
        continue;
      }
      if (fn(key, value) === false) return;
    }
    while (p < pending.length) {
      const w = pending[p++]!;
      if (w.value !== null && fn(w.key, w.value) === false) return;
    }
  }

  private pendingInRange(bucket: Bucket, start: Buffer | undefined, end: Buffer | undefined): PendingWrite[] {
    if (this.overlay.size === 0) return [];
    const found: PendingWrite[] = [];
    for (const w of this.overlay.values()) {
      if (w.bucket !== bucket) continue;
      if (start !== undefined && Buffer.compare(w.key, start) < 0) continue;
      if (end !== undefined && Buffer.compare(w.key, end) >= 0) continue;
      found.push(w);
    }
    return found.sort((a, b) => Buffer.compare(a.key, b.key));
  }

  /**
   * Physically allocated size of the database file, in bytes. The file only
   * grows when a transaction commits, so the size is read once per commit
   * rather than on every quota check.
   */
  sizeBytes(): number {
    if (this.cachedSize === undefined) {
      try {
        this.cachedSize = statSync(this.path).size;
      } catch {
        this.cachedSize = 0;
      }
    }
    return this.cachedSize;
  }

  /** Bytes in pages LMDB is using (the rest of the file is free pages it can reuse). */
  sizeInUseBytes(): number {
    const stats = this.env.getStats() as { pageSize?: number; treeBranchPageCount?: number; treeLeafPageCount?: number; overflowPages?: number; lastPageNumber?: number; freelistEntries?: number };
    const pageSize = stats.pageSize ?? 4096;
    let pages = 0;
    for (const db of this.dbs.values()) {
      const s = db.getStats() as { treeBranchPageCount?: number; treeLeafPageCount?: number; overflowPages?: number };
      pages += (s.treeBranchPageCount ?? 0) + (s.treeLeafPageCount ?? 0) + (s.overflowPages ?? 0);
    }
    return pages * pageSize;
  }

  /**
   * Writes a consistent copy of the committed database to `path` (LMDB's
   * env copy runs in its own read transaction), after committing every write
   * made so far. With `compact`, free pages are left out (defragmentation).
   */
  async backup(path: string, compact = false): Promise<void> {
    await this.commit();
    await this.env.backup(path, compact);
  }

  async close(): Promise<void> {
    await this.commit();
    await this.env.close();
  }

  /**
   * Closes without committing what was written since the last commit():
   * those writes are lost, as in a crash. For tests, which drop a
   * simulated member's database this way.
   */
  async discard(): Promise<void> {
    this.batch = [];
    await this.lastCommit.catch(() => undefined);
    this.overlay.clear();
    await this.env.close();
  }
}
