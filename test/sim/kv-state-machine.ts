/**
 * The simulated members' state machine: a small etcd-like MVCC store applied
 * from committed entries. It is durable together with its applied index, as
 * the server's backend is (style.md §4), so apply is exactly once across
 * crashes, and it is deterministic: the same entries give the same state on
 * every member.
 *
 * Like etcd's store it keeps, besides the current key values, the events of
 * every revision since the last compaction (the watchable history a watch
 * catches up from), the leases with the keys attached to them, and the
 * compaction revision. Semantics (etcd v3.4.23 `mvcc/kvstore_txn.go`,
 * `lease/lessor.go`, `etcdserver/apply.go`):
 * - an empty store is at revision 1; each request that writes gets the next
 *   revision, however many keys it writes (a txn, a lease revoke);
 * - a put with a lease the store does not know fails ("lease not found") and
 *   changes nothing; a put moves its key to the put's lease (or to none);
 * - revoking a lease deletes every key attached to it in ONE revision; a
 *   lease without keys ends without a new revision;
 * - compacting at C keeps revision C and everything after it: a watch from C
 *   still gets every event of C, deletes included (etcd #18089, #19179);
 *   compacting at or below the last compaction, or past the current
 *   revision, fails and changes nothing.
 *
 * Revisions and lease ids are plain numbers here: simulated values stay far
 * below 2^53 (the lincheck model uses numbers too).
 */
import assert from 'node:assert/strict';
import type { ConfState } from '../../src/proto/gen/etcdtspb/raft.js';
import type { EtcdOutput } from '../support/lincheck/etcd-model.js';
import type { WatchEvent } from '../support/lincheck/watch-check.js';
import type { Mutation } from './mutations.js';
import type { SimStateMachine, StateMachineKind } from './state-machine.js';

export interface KvValue {
  value: string;
  modRevision: number;
  createRevision: number;
  version: number;
  /** The lease the key is attached to; 0 for none. */
  lease: number;
}

/**
 * A watch event as the store emits it: with the key's value before it (null:
 * absent; undefined: the member could not tell, because the revision before
 * was compacted).
 */
export interface SimEvent extends WatchEvent {
  prevValue: string | null | undefined;
}

/** Every request a client (or a leader's lessor) proposes. `id` is unique per proposal. */
export type Command =
  | { t: 'put'; id: string; k: string; v: string; lease?: number }
  | { t: 'del'; id: string; k: string }
  | { t: 'txn'; id: string; puts: Array<{ k: string; v: string }> }
  | { t: 'compact'; id: string; rev: number }
  | { t: 'grant'; id: string; lease: number; ttl: number }
  /** `expired`: proposed by a leader whose clock found the lease expired (not by a client). */
  | { t: 'revoke'; id: string; lease: number; expired?: boolean };

export function encodeCommand(cmd: Command): Buffer {
  return Buffer.from(JSON.stringify(cmd));
}

export function decodeCommand(data: Buffer): Command {
  return JSON.parse(data.toString()) as Command;
}

/** etcd's errors for requests that were applied but refused (nothing changed). */
export type ApplyError = 'lease not found' | 'lease exists' | 'compacted' | 'future revision';

/** One revision written by a request. */
export interface RevisionWrite {
  revision: number;
  events: SimEvent[];
}

export interface ApplyResult {
  /** The revisions written, in order: none or one (two only under an injected bug). */
  writes: RevisionWrite[];
  error?: ApplyError;
  /** What the client is told, in the lincheck model's shape (absent for leases and compaction). */
  output?: EtcdOutput;
  /** The store's revision after the request. */
  revision: number;
  /** Set by a compaction that took effect. */
  compacted?: number;
}

export interface LeaseState {
  ttl: number;
  keys: Set<string>;
}

export class KvStateMachine implements SimStateMachine {
  kv = new Map<string, KvValue>();
  revision = 1;
  /** The last compaction revision; 0 when the store was never compacted. */
  compactRev = 0;
  /** Events by revision, for every revision >= compactRev that wrote something. */
  history = new Map<number, SimEvent[]>();
  leases = new Map<number, LeaseState>();
  appliedIndex = 0n;
  /** Raft's configuration as applyConfChange returned it (stored in snapshots). */
  confState: ConfState = { voters: [], learners: [] };
  /**
   * The membership as this state machine applied it from the log (etcd's
   * cluster store). It equals confState except right after bootstrap, when
   * Raft already knows every initial member before the entries are applied.
   */
  voters = new Set<bigint>();
  learners = new Set<bigint>();
  /** Members removed from the cluster: their messages are refused (as etcd's transport does). */
  removed = new Set<bigint>();
  /** XOR of a hash per history revision: the history in the fingerprint at O(1) per write. */
  private historyHash = 0;

  constructor(private readonly mutation?: Mutation) {}

  get(key: string): { value: string | null; modRevision: number; revision: number } {
    const kv = this.kv.get(key);
    return { value: kv?.value ?? null, modRevision: kv?.modRevision ?? 0, revision: this.revision };
  }

  advanceTo(index: bigint): void {
    assert.equal(index, this.appliedIndex + 1n, `apply ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
  }

  apply(cmd: Command): ApplyResult {
    switch (cmd.t) {
      case 'put': return this.applyPut(cmd.k, cmd.v, cmd.lease ?? 0);
      case 'del': return this.applyDelete(cmd.k);
      case 'txn': return this.applyTxn(cmd.puts);
      case 'compact': return this.applyCompact(cmd.rev);
      case 'grant': return this.applyGrant(cmd.lease, cmd.ttl);
      case 'revoke': return this.applyRevoke(cmd.lease);
    }
  }

  private applyPut(k: string, v: string, lease: number): ApplyResult {
    if (lease !== 0 && !this.leases.has(lease) && this.mutation !== 'lease-put-unknown') return this.refused('lease not found');
    const w = this.beginWrite();
    this.put(w, k, v, this.leases.has(lease) ? lease : 0);
    return this.endWrite([w], { revision: w.revision });
  }

  private applyDelete(k: string): ApplyResult {
    if (!this.kv.has(k)) return { writes: [], output: { deleted: 0, revision: this.revision }, revision: this.revision };
    const w = this.beginWrite();
    this.delete(w, k);
    return this.endWrite([w], { deleted: 1, revision: w.revision });
  }

  private applyTxn(puts: Array<{ k: string; v: string }>): ApplyResult {
    const w = this.beginWrite();
    for (const p of puts) this.put(w, p.k, p.v, 0);
    return this.endWrite([w], { succeeded: true, revision: w.revision, results: puts.map(() => ({})) });
  }

  private applyCompact(rev: number): ApplyResult {
    if (rev <= this.compactRev) return this.refused('compacted');
    if (rev > this.revision) return this.refused('future revision');
    this.compactRev = rev;
    for (const [r, events] of this.history) {
      if (r < rev) this.dropHistory(r, events);
      else if (r === rev && this.mutation === 'compact-drops-delete' && events.some((e) => e.type === 'delete')) {
        // etcd #18089 / #19179: the tombstone at the compaction revision goes with the compaction.
        this.dropHistory(r, events);
        const kept = events.filter((e) => e.type !== 'delete');
        if (kept.length > 0) this.addHistory(r, kept);
      }
    }
    return { writes: [], revision: this.revision, compacted: rev };
  }

  private applyGrant(lease: number, ttl: number): ApplyResult {
    if (this.leases.has(lease)) return this.refused('lease exists');
    this.leases.set(lease, { ttl, keys: new Set() });
    return { writes: [], revision: this.revision };
  }

  private applyRevoke(lease: number): ApplyResult {
    const l = this.leases.get(lease);
    if (l === undefined) return this.refused('lease not found');
    let keys = [...l.keys].sort();
    if (this.mutation === 'lease-revoke-keeps-key' && keys.length > 1) {
      this.kv.get(keys[keys.length - 1]!)!.lease = 0;
      keys = keys.slice(0, -1);
    }
    this.leases.delete(lease);
    if (keys.length === 0) return { writes: [], revision: this.revision };
    // Under the injected bug the keys go in two revisions instead of one.
    const split = this.mutation === 'lease-revoke-split' && keys.length > 1 ? [keys.slice(0, 1), keys.slice(1)] : [keys];
    const writes = split.map((group) => {
      const w = this.beginWrite();
      for (const k of group) this.delete(w, k);
      return w;
    });
    return this.endWrite(writes, undefined);
  }

  private refused(error: ApplyError): ApplyResult {
    return { writes: [], error, revision: this.revision };
  }

  private beginWrite(): RevisionWrite {
    this.revision++;
    return { revision: this.revision, events: [] };
  }

  private endWrite(writes: RevisionWrite[], output: EtcdOutput | undefined): ApplyResult {
    for (const w of writes) this.addHistory(w.revision, w.events);
    return { writes, output, revision: this.revision };
  }

  private put(w: RevisionWrite, k: string, v: string, lease: number): void {
    const old = this.kv.get(k);
    if (old !== undefined && old.lease !== 0) this.leases.get(old.lease)?.keys.delete(k);
    const kv: KvValue = old === undefined
      ? { value: v, modRevision: w.revision, createRevision: w.revision, version: 1, lease }
      : { value: v, modRevision: w.revision, createRevision: old.createRevision, version: old.version + 1, lease };
    this.kv.set(k, kv);
    if (lease !== 0) this.leases.get(lease)!.keys.add(k);
    w.events.push({ type: 'put', key: k, value: v, modRevision: w.revision, createRevision: kv.createRevision, version: kv.version, prevValue: old?.value ?? null });
  }

  private delete(w: RevisionWrite, k: string): void {
    const old = this.kv.get(k)!;
    if (old.lease !== 0) this.leases.get(old.lease)?.keys.delete(k);
    this.kv.delete(k);
    w.events.push({ type: 'delete', key: k, modRevision: w.revision, prevValue: old.value });
  }

  private addHistory(rev: number, events: SimEvent[]): void {
    this.history.set(rev, events);
    this.historyHash ^= revisionHash(rev, events);
  }

  private dropHistory(rev: number, events: SimEvent[]): void {
    this.history.delete(rev);
    this.historyHash ^= revisionHash(rev, events);
  }

  /** The stored events of revisions [from, to], by revision, ascending. */
  eventsBetween(from: number, to: number): RevisionWrite[] {
    const out: RevisionWrite[] = [];
    for (let r = Math.max(from, this.compactRev); r <= to; r++) {
      const events = this.history.get(r);
      if (events !== undefined) out.push({ revision: r, events });
    }
    return out;
  }

  serialize(): Buffer {
    return Buffer.from(JSON.stringify({ ...this.content(), history: [...this.history.entries()], historyHash: this.historyHash }));
  }

  /** Everything but the history, in a canonical order. */
  private content(): object {
    const kv = [...this.kv.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const leases = [...this.leases.entries()].sort(([a], [b]) => a - b).map(([id, l]) => [id, l.ttl, [...l.keys].sort()]);
    return { kv, revision: this.revision, compactRev: this.compactRev, leases, removed: [...this.removed].map(String).sort() };
  }

  static restore(data: Buffer, index: bigint, confState: ConfState, mutation?: Mutation): KvStateMachine {
    const parsed = JSON.parse(data.toString()) as {
      kv: Array<[string, KvValue]>; revision: number; compactRev: number; leases: Array<[number, number, string[]]>;
      removed: string[]; history: Array<[number, SimEvent[]]>; historyHash: number;
    };
    const sm = new KvStateMachine(mutation);
    sm.kv = new Map(parsed.kv);
    sm.revision = parsed.revision;
    sm.compactRev = parsed.compactRev;
    sm.leases = new Map(parsed.leases.map(([id, ttl, keys]) => [id, { ttl, keys: new Set(keys) }]));
    // The hash travels with the snapshot rather than being recomputed over the whole history
    // on every restore (the costliest part of hashing); a history that arrived wrong is
    // caught by the watch checks instead.
    sm.history = new Map(parsed.history);
    sm.historyHash = parsed.historyHash;
    sm.removed = new Set(parsed.removed.map(BigInt));
    sm.appliedIndex = index;
    sm.confState = confState;
    sm.voters = new Set(confState.voters);
    sm.learners = new Set(confState.learners);
    return sm;
  }

  /** A canonical rendering of the whole state, for comparing members. */
  fingerprint(): string {
    const voters = [...this.voters].sort((a, b) => (a < b ? -1 : 1)).join(',');
    const learners = [...this.learners].sort((a, b) => (a < b ? -1 : 1)).join(',');
    return `${JSON.stringify(this.content())}|h=${(this.historyHash >>> 0).toString(16)}|v=${voters}|l=${learners}`;
  }
}

/** FNV-1a with a murmur finaliser over one revision's events. */
function revisionHash(rev: number, events: readonly SimEvent[]): number {
  const s = `${rev}:${JSON.stringify(events)}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** The model as the simulator's state machine kind. */
export function modelKind(mutation?: Mutation): StateMachineKind {
  return {
    create: () => new KvStateMachine(mutation),
    restore: (_current, data, index, confState) => KvStateMachine.restore(data, index, confState, mutation),
    reopen: () => undefined,
    compareFinal: () => undefined,
    close: async () => undefined,
  };
}
