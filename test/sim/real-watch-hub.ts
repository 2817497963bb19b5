/**
 * The watch server of a member running the shipped stores: each client
 * connection is one stream of the member's real WatchableStore
 * (src/server/mvcc/watchable-store.ts) with one watcher, asking for
 * previous values as etcd's clients may. The store queues responses as it
 * applies writes, catches watchers up from the backend in the rounds the
 * simulation runs, and answers progress requests; this hub only carries
 * messages: client requests in, queued responses out (in order, while the
 * client reads, through the same small window as the model's), and breaks
 * require-leader streams of a member left without a leader, as the API
 * layer does.
 */
import type { WatchResponse } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { Event_EventType } from '../../src/proto/gen/mvccpb/kv.js';
import type { WatchStream } from '../../src/server/mvcc/watchable-store.js';
import type { SimEvent } from './kv-state-machine.js';
import { RealStateMachine } from './real-state-machine.js';
import type { Member } from './sim-member.js';
import { LeaderlessTimer, wireWindow, type Connection, type MemberWatchServer, type WatchRequest, type WatchServerConfig, type WireResponse } from './watch-server.js';

/** How often catch-up rounds run (the model's cadence too). */
const syncEveryUnits = 5;

/** The smallest key after every key starting with `prefix` (etcd's GetPrefixRangeEnd). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * A response as the client sees it. An empty response that neither creates
 * nor cancels is a progress notification (clientv3's IsProgressNotify). An
 * event without prev_kv has an unknown previous value, unless it created its
 * key: the store leaves it out only when the revision before was compacted.
 */
function toWire(r: WatchResponse): WireResponse {
  const events: SimEvent[] = r.events.map((e) => {
    const kv = e.kv!;
    const created = e.type === Event_EventType.PUT && kv.createRevision === kv.modRevision;
    const prevValue = e.prevKv !== undefined ? e.prevKv.value.toString() : created ? null : undefined;
    if (e.type === Event_EventType.DELETE) return { type: 'delete', key: kv.key.toString(), modRevision: Number(kv.modRevision), prevValue };
    return {
      type: 'put', key: kv.key.toString(), value: kv.value.toString(), modRevision: Number(kv.modRevision),
      createRevision: Number(kv.createRevision), version: Number(kv.version), prevValue,
    };
  });
  const out: WireResponse = { revision: Number(r.header?.revision ?? 0n), events };
  if (r.created) out.created = true;
  if (r.canceled) {
    out.canceled = true;
    out.compactRevision = Number(r.compactRevision);
  }
  if (events.length === 0 && !r.created && !r.canceled) out.progressNotify = true;
  return out;
}

export class RealWatchHub implements MemberWatchServer {
  readonly conns = new Set<Connection>();
  private readonly streams = new Map<Connection, { stream: WatchStream; req: WatchRequest }>();
  private readonly leaderless = new LeaderlessTimer();

  constructor(
    readonly member: Member,
    private readonly c: WatchServerConfig,
  ) {}

  private get sm(): RealStateMachine {
    const sm = this.member.sm;
    if (!(sm instanceof RealStateMachine)) throw new Error('the real watch hub runs over the shipped stores');
    return sm;
  }

  step(now: number): void {
    for (const conn of this.conns) {
      while (!conn.broken && conn.toMember.length > 0 && conn.toMember[0]!.at <= now) {
        const { msg } = conn.toMember.shift()!;
        if (msg.kind === 'create') this.create(conn, msg.req);
        else this.streams.get(conn)?.stream.requestProgress();
      }
    }
    if (now % syncEveryUnits === 0) this.sm.runWatchSyncs();
    if (this.leaderless.expired(this.member, now)) {
      for (const [conn, { req }] of this.streams) {
        if (!req.requireLeader || conn.broken) continue;
        this.c.count('watch-no-leader-cancel');
        conn.breakOff(now, this.c.prng);
      }
    }
    for (const conn of this.conns) {
      if (conn.broken) this.close(conn);
      else this.transmit(conn, now);
    }
  }

  private create(conn: Connection, req: WatchRequest): void {
    const stream = this.sm.watchable.newStream();
    stream.watch({
      key: Buffer.from(req.key),
      rangeEnd: req.prefix ? prefixEnd(req.key) : undefined,
      startRevision: BigInt(req.startRevision),
      prevKv: true,
      progressNotify: req.progressNotify,
    });
    this.streams.set(conn, { stream, req });
  }

  /** Responses leave in queue order while the client reads and the window has room. */
  private transmit(conn: Connection, now: number): void {
    const s = this.streams.get(conn);
    if (s === undefined || !conn.reading) return;
    while (conn.toClient.length < wireWindow) {
      const item = s.stream.take();
      if (item === undefined) break;
      const last = conn.toClient[conn.toClient.length - 1]?.at ?? 0;
      conn.toClient.push({ at: Math.max(last, now + this.c.delay()), r: toWire(item.response) });
    }
  }

  private close(conn: Connection): void {
    this.streams.get(conn)?.stream.close();
    this.streams.delete(conn);
    this.conns.delete(conn);
  }

  progressTick(): void {
    for (const { stream } of this.streams.values()) stream.progressTick();
  }

  stop(now: number): void {
    for (const conn of this.conns) {
      conn.breakOff(now, this.c.prng);
      this.close(conn);
    }
  }

  // The shipped store tells its own watchable store about writes, compactions and restores.
  onWrite(): void {}
  onCompact(): void {}
  onRestore(): void {}
}
