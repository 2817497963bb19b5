/**
 * The simulated members' state machine: a tiny etcd-like KV store applied
 * from committed entries. Every put gets the next revision (etcd starts at
 * revision 1 with an empty store). It is durable together with its applied
 * index, as the server's backend is (style.md §4), so apply is exactly once
 * across crashes.
 */
import assert from 'node:assert/strict';
import type { ConfState } from '../../src/proto/gen/etcdtspb/raft.js';

export interface KvValue {
  value: string;
  modRevision: number;
}

export interface PutCommand {
  k: string;
  v: string;
  /** Unique request id: the proposing member answers its client when it applies it. */
  id: string;
}

export function encodePut(cmd: PutCommand): Buffer {
  return Buffer.from(JSON.stringify(cmd));
}

export function decodePut(data: Buffer): PutCommand {
  return JSON.parse(data.toString()) as PutCommand;
}

export class KvStateMachine {
  kv = new Map<string, KvValue>();
  revision = 1;
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

  put(key: string, value: string): number {
    this.revision++;
    this.kv.set(key, { value, modRevision: this.revision });
    return this.revision;
  }

  get(key: string): { value: string | null; modRevision: number; revision: number } {
    const kv = this.kv.get(key);
    return { value: kv?.value ?? null, modRevision: kv?.modRevision ?? 0, revision: this.revision };
  }

  advanceTo(index: bigint): void {
    assert.equal(index, this.appliedIndex + 1n, `apply ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
  }

  serialize(): Buffer {
    const kv = [...this.kv.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Buffer.from(JSON.stringify({ kv, revision: this.revision, removed: [...this.removed].map(String).sort() }));
  }

  static restore(data: Buffer, index: bigint, confState: ConfState): KvStateMachine {
    const parsed = JSON.parse(data.toString()) as { kv: Array<[string, KvValue]>; revision: number; removed: string[] };
    const sm = new KvStateMachine();
    sm.kv = new Map(parsed.kv);
    sm.revision = parsed.revision;
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
    return `${this.serialize().toString()}|v=${voters}|l=${learners}`;
  }
}
