import { join } from 'node:path';
import { Event_EventType, type Event } from '../../../src/proto/gen/mvccpb/kv.js';
import type { WatchResponse } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { WatchableStore, type WatchStream } from '../../../src/server/mvcc/watchable-store.js';
import type { WatchLimits } from '../../../src/server/mvcc/watch-limits.js';
import type { KeyRange } from '../../../src/server/mvcc/tree-index.js';
import { tempDir } from '../../support/procs.js';
import type * as check from '../../support/lincheck/watch-check.js';

export const b = (s: string): Buffer => Buffer.from(s);

/**
 * A KVStore on a temporary lmdb file with its watchable store, whose
 * catch-up rounds run only when the test says so (sync()), so every test
 * is deterministic.
 */
export class Fixture {
  readonly store: KVStore;
  readonly watchable: WatchableStore;
  private readonly rounds: Array<() => void> = [];
  /** Every committed revision with its events, for the watch validators. */
  readonly history: check.CommittedRevision[] = [];

  constructor(limits: Partial<WatchLimits> = {}) {
    this.store = new KVStore(Backend.open(join(tempDir('watch-'), 'db')));
    this.watchable = new WatchableStore(this.store, { limits, schedule: (fn) => this.rounds.push(fn) });
    this.store.addObserver({ onWrite: (rev, events) => this.history.push({ revision: Number(rev), events: events.map(toCheckEvent) }) });
  }

  put(...pairs: string[]): bigint {
    const txn = this.store.write();
    for (let i = 0; i < pairs.length; i += 2) txn.put(b(pairs[i]!), b(pairs[i + 1]!), 0n);
    return txn.end();
  }

  del(key: string, end?: string | null): bigint {
    const txn = this.store.write();
    const range: KeyRange = { start: key, end };
    txn.deleteRange(range);
    return txn.end();
  }

  compact(rev: bigint): Promise<void> {
    return this.store.compact(rev);
  }

  /** Runs scheduled catch-up rounds until none is pending (or the cap is hit). */
  sync(maxRounds = 100_000): number {
    let n = 0;
    while (this.rounds.length > 0 && n < maxRounds) {
      this.rounds.shift()!();
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    await this.store.compactionsSettled();
    await this.store.backend.commit();
    await this.store.backend.close();
  }
}

export function toCheckEvent(e: Event): check.WatchEvent {
  const kv = e.kv!;
  if (e.type === Event_EventType.DELETE) return { type: 'delete', key: kv.key.toString('latin1'), modRevision: Number(kv.modRevision) };
  return {
    type: 'put', key: kv.key.toString('latin1'), value: kv.value.toString('latin1'), modRevision: Number(kv.modRevision),
    createRevision: Number(kv.createRevision), version: Number(kv.version),
  };
}

export function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.created && !r.canceled && r.compactRevision === 0n;
}

/** A client of one WatchStream: takes responses when told to, and files them per watch id. */
export class Reader {
  readonly all: WatchResponse[] = [];

  constructor(readonly stream: WatchStream) {}

  /** Takes up to `max` waiting responses. */
  read(max = Infinity): WatchResponse[] {
    const got: WatchResponse[] = [];
    while (got.length < max) {
      const item = this.stream.take();
      if (item === undefined) break;
      got.push(item.response);
    }
    this.all.push(...got);
    return got;
  }

  of(id: bigint): WatchResponse[] {
    return this.all.filter((r) => r.watchId === id || (r.watchId === -1n && isProgressNotify(r)));
  }

  /** The events delivered to watch `id`, as "PUT k=v@rev" / "DELETE k@rev" strings. */
  events(id: bigint): string[] {
    return this.of(id).flatMap((r) => r.events.map(describeEvent));
  }

  /** The responses of watch `id` in the shape of the lincheck watch validators. */
  checkStream(id: bigint, watch: { key: string; rangeEnd?: string; startRevision: number; createdRevision?: number }): check.WatchStream {
    const responses = this.all.filter((r) => r.watchId === id || (r.watchId === -1n && isProgressNotify(r)));
    return {
      name: `watch ${id}`,
      ...watch,
      responses: responses.filter((r) => !r.created).map((r) => ({
        revision: Number(r.header!.revision),
        events: r.events.map(toCheckEvent),
        progressNotify: isProgressNotify(r),
        fragment: r.fragment,
        canceled: r.canceled,
      })),
    };
  }
}

export function describeEvent(e: Event): string {
  const kv = e.kv!;
  const prev = e.prevKv === undefined ? '' : ` (prev ${e.prevKv.value.toString()}@${e.prevKv.modRevision})`;
  if (e.type === Event_EventType.DELETE) return `DELETE ${kv.key.toString()}@${kv.modRevision}${prev}`;
  return `PUT ${kv.key.toString()}=${kv.value.toString()}@${kv.modRevision}${prev}`;
}
