/**
 * The shipped stores as a simulated member's state machine: the backend
 * (src/server/mvcc/backend.ts, an LMDB environment in a temporary
 * directory), the MVCC store and its watchable store, and the lessor, with
 * every command applied through the server's Applier (apply.ts and
 * apply-kv.ts), as EtcdServer.applyEntries does. What the server does
 * around them is done here the same way: the applied index is written to
 * the backend with the data it covers, a restart rebuilds the store, the
 * watchable store and the lessor from the backend, and a snapshot from the
 * leader is installed with restoreFrom / reload / reattachLeases.
 *
 * Determinism: every write goes to the backend's in-memory overlay, which
 * serves all reads until LMDB has committed it (the path the server reads
 * through while a batch commits). The simulation never yields to I/O while
 * a seed runs, so no commit completes mid-run and the backend's answers do
 * not depend on disk timing; the data reaches LMDB when the run closes it.
 * Catch-up rounds of the watchable store run when the simulation says, not
 * on setImmediate.
 *
 * Time: one simulated unit is 10 ms (a tick, the heartbeat, is 100 ms and
 * the election timeout 1 s, etcd's defaults); the lessor reads the member's
 * own (skewed) clock.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfState } from '../../src/proto/gen/etcdtspb/raft.js';
import { InternalRaftRequest } from '../../src/proto/gen/etcdtspb/internal.js';
import { RangeRequest, type DeleteRangeResponse, type PutResponse, type TxnResponse } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { Event_EventType, KeyValue, type Event } from '../../src/proto/gen/mvccpb/kv.js';
import { Applier } from '../../src/server/etcdserver/apply.js';
import { applyRange } from '../../src/server/etcdserver/apply-kv.js';
import { LeaseExistsError, LeaseNotFoundError } from '../../src/server/lease/errors.js';
import { Lessor, type Clock } from '../../src/server/lease/lessor.js';
import { Backend, type Bucket } from '../../src/server/mvcc/backend.js';
import { CompactedError, FutureRevisionError } from '../../src/server/mvcc/errors.js';
import { hashKV } from '../../src/server/mvcc/hash.js';
import { KVStore, readU64, u64, type WriteObserver } from '../../src/server/mvcc/kvstore.js';
import { bytesToRevision, mainRevisionToBytes } from '../../src/server/mvcc/revision.js';
import { WatchableStore } from '../../src/server/mvcc/watchable-store.js';
import type { WatchLimits } from '../../src/server/mvcc/watch-limits.js';
import { SafetyViolation } from './invariants.js';
import type { ApplyError, ApplyResult, Command, KvValue, LeaseState, RevisionWrite, SimEvent } from './kv-state-machine.js';
import { tickUnits } from './sim-layer.js';
import type { MemberClock } from './sim-member.js';
import type { SimStateMachine, StateMachineKind } from './state-machine.js';

/** Simulated time units per millisecond of the shipped code's clocks. */
export const msPerUnit = 10;
/** etcd's minimum lease TTL for a 1 s election timeout: ceil(1.5 x 1 s). */
const minLeaseTtlSeconds = 2n;
/** Lease TTLs in the simulation are in ticks; the lessor counts whole seconds. */
const ticksPerSecond = 1000 / (tickUnits * msPerUnit);
const metaConsistentIndex = Buffer.from('consistent_index');
/** The buckets the stores use; a snapshot carries all of them. */
const snapshotBuckets: Bucket[] = ['key', 'meta', 'lease'];

/** What a run's real stores share: time, the watch limits, and an injected bug. */
export interface RealStoresContext {
  /** Simulated time now (units). */
  now(): number;
  limits: Partial<WatchLimits>;
  /** Breaks the stores on purpose (real-mutations.ts); called whenever a member's stores are built. */
  mutate?(sm: RealStateMachine): void;
}

/** The member's clock as the lessor reads it, in milliseconds. */
function lessorClock(ctx: RealStoresContext, clock: MemberClock): Clock {
  return { nowMs: () => clock.local(ctx.now()) * msPerUnit };
}

/** FNV-1a over a string, with a murmur finaliser. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** One stored change as a canonical string (a delete is its tombstone record). */
function changeText(type: 'put' | 'delete', kv: KeyValue): string {
  return `${type}|${kv.key.toString('latin1')}|${kv.value.toString('latin1')}|${kv.createRevision}|${kv.modRevision}|${kv.version}|${kv.lease}`;
}

function toSimEvent(e: Event, prevValue: string | null): SimEvent {
  const kv = e.kv!;
  const key = kv.key.toString();
  if (e.type === Event_EventType.DELETE) return { type: 'delete', key, modRevision: Number(kv.modRevision), prevValue };
  return {
    type: 'put', key, value: kv.value.toString(), modRevision: Number(kv.modRevision),
    createRevision: Number(kv.createRevision), version: Number(kv.version), prevValue,
  };
}

/** The simulator's commands as the requests the server proposes. */
function toRequest(cmd: Command): InternalRaftRequest {
  const header = { ID: 0n, username: '', authRevision: 0n, fromMember: false };
  const put = (k: string, v: string, lease = 0) => ({ key: Buffer.from(k), value: Buffer.from(v), lease: BigInt(lease), prevKv: false, ignoreValue: false, ignoreLease: false });
  switch (cmd.t) {
    case 'put': return { header, put: put(cmd.k, cmd.v, cmd.lease) };
    case 'del': return { header, deleteRange: { key: Buffer.from(cmd.k), rangeEnd: Buffer.alloc(0), prevKv: false } };
    case 'txn': return { header, txn: { compare: [], success: cmd.puts.map((p) => ({ requestPut: put(p.k, p.v) })), failure: [] } };
    case 'compact': return { header, compaction: { revision: BigInt(cmd.rev), physical: false } };
    case 'grant': return { header, leaseGrant: { ID: BigInt(cmd.lease), TTL: BigInt(Math.ceil(cmd.ttl / ticksPerSecond)) } };
    case 'revoke': return { header, leaseRevoke: { ID: BigInt(cmd.lease) } };
  }
}

/** The refusals the simulation expects (applied, nothing changed); anything else is a bug. */
function applyErrorOf(err: Error): ApplyError {
  if (err instanceof LeaseNotFoundError) return 'lease not found';
  if (err instanceof LeaseExistsError) return 'lease exists';
  if (err instanceof FutureRevisionError) return 'future revision';
  if (err instanceof CompactedError) return 'compacted';
  throw new SafetyViolation('Apply', `the apply path refused a request with an unexpected error: ${err.name}: ${err.message}`);
}

export class RealStateMachine implements SimStateMachine {
  backend: Backend;
  store!: KVStore;
  watchable!: WatchableStore;
  lessor!: Lessor;
  private applier!: Applier;
  appliedIndex = 0n;
  confState: ConfState = { voters: [], learners: [] };
  voters = new Set<bigint>();
  learners = new Set<bigint>();
  removed = new Set<bigint>();
  readonly clock: Clock;
  /** Catch-up rounds the watchable store asked for; run by the watch layer's schedule. */
  private syncs: Array<() => void> = [];
  /** The revisions written by the request being applied. */
  private writes: RevisionWrite[] = [];
  /** Per stored revision at or above the compaction, a hash of its changes; XORed into one. */
  private readonly revisionHashes = new Map<bigint, number>();
  private historyHash = 0;

  constructor(
    private readonly kind: RealStores,
    clock: MemberClock,
  ) {
    this.clock = lessorClock(kind.ctx, clock);
    this.backend = kind.openBackend();
    this.open();
  }

  /**
   * Builds the in-memory parts over the backend, as EtcdServer's constructor
   * does on every start: the store rebuilds its index from the backend (and
   * resumes an interrupted compaction), the lessor loads the leases, the keys
   * are attached to them again.
   */
  open(): void {
    this.store = new KVStore(this.backend);
    this.watchable = new WatchableStore(this.store, { limits: this.kind.ctx.limits, schedule: (fn) => this.syncs.push(fn) });
    this.store.addObserver(this.observer());
    this.lessor = new Lessor(this.backend, this.store, this.clock, minLeaseTtlSeconds);
    this.store.setLeaseTracker(this.lessor);
    this.store.reattachLeases();
    this.applier = new Applier(this.store);
    this.applier.leases = this.lessor;
    this.applier.lessor = this.lessor;
    this.syncs = [];
    const stored = readU64(this.backend.get('meta', metaConsistentIndex)) ?? 0n;
    assert.equal(stored, this.appliedIndex, `the backend holds applied index ${stored}, the member applied ${this.appliedIndex}`);
    this.rehashHistory();
    this.kind.ctx.mutate?.(this);
    // A compaction interrupted by the crash resumes in the background.
    this.kind.background(this.store.compactionsSettled());
  }

  /** Records every write (for the simulation's ground truth) and keeps the history hash. */
  private observer(): WriteObserver {
    return {
      onWrite: (rev, events) => {
        const simEvents = events.map((e) => toSimEvent(e, this.valueBefore(e, rev)));
        this.writes.push({ revision: Number(rev), events: simEvents });
        this.addRevisionHash(rev, events.map((e) => changeText(e.type === Event_EventType.DELETE ? 'delete' : 'put', e.kv!)));
      },
      onCompact: (rev) => {
        for (const [r, h] of this.revisionHashes) {
          if (r >= rev) continue;
          this.revisionHashes.delete(r);
          this.historyHash ^= h;
        }
      },
      onRestore: () => this.rehashHistory(),
    };
  }

  /** The key's value just before the change at `rev` (null when it did not exist). */
  private valueBefore(e: Event, rev: bigint): string | null {
    const kv = e.kv!;
    if (e.type === Event_EventType.PUT && kv.createRevision === kv.modRevision) return null;
    const prev = this.store.read().range({ start: kv.key.toString('latin1'), end: undefined }, { rev: rev - 1n }).kvs[0];
    return prev === undefined ? null : prev.value.toString();
  }

  private addRevisionHash(rev: bigint, changes: string[]): void {
    const h = hash32(`${rev}:${changes.join('\n')}`);
    this.revisionHashes.set(rev, h);
    this.historyHash ^= h;
  }

  /**
   * Recomputes the history hash from what the backend holds (after a restart
   * or a snapshot install): a store rebuilt from a backend that lost or
   * altered a change no longer matches the members that applied it.
   */
  private rehashHistory(): void {
    this.revisionHashes.clear();
    this.historyHash = 0;
    const from = this.store.compactMainRev > 0n ? this.store.compactMainRev : 0n;
    let rev: bigint | undefined;
    let changes: string[] = [];
    this.backend.scan('key', mainRevisionToBytes(from), undefined, (key, value) => {
      const { rev: r, tombstone } = bytesToRevision(key);
      if (rev !== undefined && r.main !== rev) {
        this.addRevisionHash(rev, changes);
        changes = [];
      }
      rev = r.main;
      changes.push(changeText(tombstone ? 'delete' : 'put', KeyValue.decode(value)));
    });
    if (rev !== undefined) this.addRevisionHash(rev, changes);
  }

  get revision(): number {
    return Number(this.store.currentRev);
  }

  get compactRev(): number {
    return this.store.compactMainRev > 0n ? Number(this.store.compactMainRev) : 0;
  }

  advanceTo(index: bigint): void {
    assert.equal(index, this.appliedIndex + 1n, `apply ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
    // The applied index goes into the same backend batch as the data it covers (EtcdServer.applyEntries).
    this.backend.put('meta', metaConsistentIndex, u64(index));
  }

  apply(cmd: Command): ApplyResult {
    this.writes = [];
    const result = this.applier.apply(toRequest(cmd));
    const writes = this.writes;
    this.writes = [];
    const revision = this.revision;
    if (result.error !== undefined) {
      assert.equal(writes.length, 0, `a refused ${cmd.t} wrote revisions`);
      return { writes, error: applyErrorOf(result.error), revision };
    }
    // The physical part of a compaction runs in the background; the run waits for it at close().
    if (result.physical !== undefined) this.kind.background(result.physical);
    switch (cmd.t) {
      case 'put': return { writes, revision, output: { revision: Number((result.response as PutResponse).header!.revision) } };
      case 'del': {
        const r = result.response as DeleteRangeResponse;
        return { writes, revision, output: { deleted: Number(r.deleted), revision: Number(r.header!.revision) } };
      }
      case 'txn': {
        const r = result.response as TxnResponse;
        return { writes, revision, output: { succeeded: r.succeeded, revision: Number(r.header!.revision), results: r.responses.map(() => ({})) } };
      }
      case 'compact': return { writes, revision, compacted: cmd.rev };
      default: return { writes, revision };
    }
  }

  get(key: string): { value: string | null; modRevision: number; revision: number } {
    const r = applyRange(this.store.read(), RangeRequest.fromPartial({ key: Buffer.from(key) }));
    const kv = r.kvs[0];
    return { value: kv === undefined ? null : kv.value.toString(), modRevision: kv === undefined ? 0 : Number(kv.modRevision), revision: Number(r.header!.revision) };
  }

  /**
   * A clean restart from the files, which the simulation cannot do (it would
   * wait for I/O): commits what the backend holds, lets the background
   * compactions finish, closes the database and opens it again from disk,
   * then rebuilds like any restart.
   */
  async reopenFromDisk(): Promise<void> {
    await this.backend.commit();
    await this.kind.settle();
    await this.backend.close();
    this.backend = this.kind.openBackend(this.backend.path);
    this.open();
  }

  /** Runs the watchable store's pending catch-up rounds (each may schedule the next). */
  runWatchSyncs(): void {
    const due = this.syncs;
    this.syncs = [];
    for (const fn of due) fn();
  }

  get leases(): ReadonlyMap<number, LeaseState> {
    const out = new Map<number, LeaseState>();
    for (const id of this.lessor.ids()) {
      const lease = this.lessor.lookup(id)!;
      out.set(Number(id), { ttl: Number(lease.ttlSeconds) * ticksPerSecond, keys: new Set(lease.keys) });
    }
    return out;
  }

  get kv(): ReadonlyMap<string, KvValue> {
    const out = new Map<string, KvValue>();
    for (const kv of this.store.read().range({ start: '', end: null }).kvs) {
      out.set(kv.key.toString(), {
        value: kv.value.toString(), modRevision: Number(kv.modRevision), createRevision: Number(kv.createRevision),
        version: Number(kv.version), lease: Number(kv.lease),
      });
    }
    return out;
  }

  fingerprint(): string {
    const kvs = [...this.kv.entries()].map(([k, v]) => [k, v.value, v.createRevision, v.modRevision, v.version, v.lease]);
    const leases = [...this.leases.entries()].map(([id, l]) => [id, l.ttl, [...l.keys].sort()]);
    const ids = (s: Set<bigint>) => [...s].sort((a, b) => (a < b ? -1 : 1)).join(',');
    const content = JSON.stringify({ kvs, revision: this.revision, compactRev: this.compactRev, leases, removed: ids(this.removed) });
    return `${content}|h=${this.historyHash.toString(16)}|v=${ids(this.voters)}|l=${ids(this.learners)}`;
  }

  serialize(): Buffer {
    const records: Array<[Bucket, string, string]> = [];
    for (const bucket of snapshotBuckets) {
      this.backend.scan(bucket, undefined, undefined, (k, v) => {
        records.push([bucket, k.toString('base64'), v.toString('base64')]);
      });
    }
    return Buffer.from(JSON.stringify({ records, removed: [...this.removed].map(String) }));
  }

  /**
   * Installs a snapshot's database in place, as EtcdServer.applySnapshot
   * does: a new backend holding the leader's data, then the store, the
   * lessor and the watchable store (through the store's observers) switch
   * to it.
   */
  install(data: Buffer, index: bigint, confState: ConfState): void {
    const parsed = JSON.parse(data.toString()) as { records: Array<[Bucket, string, string]>; removed: string[] };
    const backend = this.kind.openBackend();
    for (const [bucket, k, v] of parsed.records) backend.put(bucket, Buffer.from(k, 'base64'), Buffer.from(v, 'base64'));
    this.backend = backend;
    this.store.restoreFrom(backend);
    this.lessor.reload(backend);
    this.store.reattachLeases();
    this.kind.background(this.store.compactionsSettled());
    const applied = readU64(backend.get('meta', metaConsistentIndex)) ?? 0n;
    assert.equal(applied, index, `snapshot database is at index ${applied}, the snapshot at ${index}`);
    this.appliedIndex = applied;
    this.confState = confState;
    this.voters = new Set(confState.voters);
    this.learners = new Set(confState.learners);
    this.removed = new Set(parsed.removed.map(BigInt));
  }
}

/**
 * Where the run's databases go: a memory-backed file system when the
 * machine has one. Opening an LMDB environment creates its buckets in
 * synced transactions; on a disk shared with other work those syncs were
 * most of a run's time, and the simulation gains nothing from them.
 */
function scratchDir(): string {
  return existsSync(memoryFsDir) ? memoryFsDir : tmpdir();
}

const memoryFsDir = '/dev/shm';

/** The shipped stores for one run: every member's backend lives in one temporary directory. */
export class RealStores implements StateMachineKind {
  private readonly dir = mkdtempSync(join(scratchDir(), 'etcdts-sim-'));
  private backends: Backend[] = [];
  /** Work the stores started in the background (physical compaction), awaited before the databases close. */
  private work: Array<Promise<unknown>> = [];

  constructor(readonly ctx: RealStoresContext) {}

  /** A new database (or, given its path, one opened again from disk). */
  openBackend(path = join(this.dir, `db-${this.backends.length}`)): Backend {
    const b = Backend.open(path);
    this.backends.push(b);
    return b;
  }

  /** Waits for the background work started so far; throws the first failure. */
  async settle(): Promise<void> {
    const work = this.work;
    this.work = [];
    const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
    if (failed !== undefined) throw new Error(`a store's background work failed: ${String((failed as PromiseRejectedResult).reason)}`);
  }

  background(work: Promise<unknown>): void {
    this.work.push(work);
  }

  create(clock: MemberClock): SimStateMachine {
    return new RealStateMachine(this, clock);
  }

  restore(current: SimStateMachine, data: Buffer, index: bigint, confState: ConfState): SimStateMachine {
    assert.ok(current instanceof RealStateMachine);
    current.install(data, index, confState);
    return current;
  }

  reopen(sm: SimStateMachine): void {
    assert.ok(sm instanceof RealStateMachine);
    sm.open();
  }

  /** HashKV (the hash etcd compares across members) must be equal on every final member. */
  compareFinal(finals: ReadonlyArray<{ id: bigint; sm: SimStateMachine }>): void {
    let first: { id: bigint; hash: number; rev: bigint } | undefined;
    for (const { id, sm } of finals) {
      assert.ok(sm instanceof RealStateMachine);
      const h = hashKV(sm.store, 0n);
      if (first === undefined) first = { id, hash: h.hash, rev: h.hashRev };
      else if (h.hash !== first.hash || h.hashRev !== first.rev) {
        throw new SafetyViolation('HashKV', `member ${id} has hash ${h.hash} at revision ${h.hashRev}, member ${first.id} has ${first.hash} at ${first.rev}`);
      }
    }
  }

  /**
   * Lets the background work finish, drops every backend of the run and
   * removes the files. What was never committed is not committed now: it
   * would only cost time, and the differential test
   * (real-stores-differential.test.ts) covers the stores on disk.
   */
  async close(): Promise<void> {
    try {
      await this.settle();
    } finally {
      for (const b of this.backends) await b.discard().catch(() => undefined);
      this.backends = [];
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
