/**
 * The member side of watches in the simulation: a model of etcd's watchable
 * store (etcd v3.4.23 `mvcc/watchable_store.go`, and ours in
 * src/server/mvcc/watchable-store.ts) over the simulated state machine.
 *
 * Every watcher is synced (it has been sent everything up to the member's
 * applied revision and gets each new revision as it is applied) or unsynced
 * (it still needs revisions from `minRev` on, read in bounded catch-up
 * rounds from the state machine's history). A watcher whose stream's send
 * queue is full when a revision it wants is applied becomes unsynced at that
 * revision (a "victim", etcd's slow-consumer path). A start revision below
 * the member's compaction gets a compaction cancel; a future start revision
 * waits, synced, and gets nothing below it. A snapshot from the leader
 * replaces the history under synced watchers, so they go back to unsynced
 * and catch up from where they were.
 *
 * A stream (`Connection`) carries one watcher. Responses leave the member in
 * queue order, only while the client reads (flow control), and arrive in
 * order after a network delay; a broken stream loses what was in flight.
 */
import assert from 'node:assert/strict';
import type { Prng } from '../../src/server/raft/prng.js';
import { inRange } from '../support/lincheck/watch-check.js';
import { KvStateMachine, type SimEvent } from './kv-state-machine.js';
import type { Mutation } from './mutations.js';
import { electionTick, tickUnits } from './sim-layer.js';
import type { Member } from './sim-member.js';

export interface WatchRequest {
  key: string;
  prefix: boolean;
  /** 0: from the member's next revision. */
  startRevision: number;
  progressNotify: boolean;
  /** etcd's WithRequireLeader: the member cancels the stream when it has had no leader for a while. */
  requireLeader: boolean;
}

export interface WireResponse {
  /** The header revision. */
  revision: number;
  events: SimEvent[];
  created?: boolean;
  progressNotify?: boolean;
  canceled?: boolean;
  compactRevision?: number;
}

type ClientMessage = { kind: 'create'; req: WatchRequest } | { kind: 'progress' };

/** How many responses a stream has in flight to its client (the transport's window). */
export const wireWindow = 2;
/** A member without a leader for this long cancels require-leader streams (etcd: 3 election timeouts). */
const noLeaderCancelUnits = 3 * electionTick * tickUnits;

/** What the watch layer needs from one member's watch server (this model, or real-watch-hub.ts). */
export interface MemberWatchServer {
  readonly conns: Set<Connection>;
  /** Every unit: client messages arrive, catch-up runs, responses leave. */
  step(now: number): void;
  /** The periodic progress notification. */
  progressTick(): void;
  /** The process stopped: every stream breaks. */
  stop(now: number): void;
  /** The member applied a revision / a compaction, or installed a snapshot (the model needs telling). */
  onWrite(rev: number, events: SimEvent[]): void;
  onCompact(rev: number): void;
  onRestore(revisionBefore: number): void;
}

/**
 * etcd's WithRequireLeader: the watch server cancels such streams once its
 * member has had no leader for a while (etcd checks every election timeout
 * and gives up after three).
 */
export class LeaderlessTimer {
  private since: number | undefined;

  /** True when `member` has been without a leader for the whole bound. */
  expired(member: Member, now: number): boolean {
    if (!member.alive || member.lastLead !== 0n) {
      this.since = undefined;
      return false;
    }
    this.since ??= now;
    return now - this.since >= noLeaderCancelUnits;
  }
}

export class Connection {
  /** Member side: responses not yet sent. */
  readonly sendQueue: WireResponse[] = [];
  readonly toClient: Array<{ at: number; r: WireResponse }> = [];
  readonly toMember: Array<{ at: number; msg: ClientMessage }> = [];
  broken = false;
  /** When the client notices the break. */
  noticeAt = 0;
  watcher: ServerWatcher | undefined;
  progressRequested = false;
  /** The client reads responses (false while it pauses: a slow consumer). */
  reading = true;

  constructor(
    readonly id: number,
    readonly member: Member,
    readonly incarnation: number,
  ) {}

  /** Client side: a message to the member, in order behind the earlier ones. */
  sendToMember(msg: ClientMessage, now: number, delay: number): void {
    const last = this.toMember[this.toMember.length - 1]?.at ?? 0;
    this.toMember.push({ at: Math.max(last, now + delay), msg });
  }

  breakOff(now: number, prng: Prng): void {
    if (this.broken) return;
    this.broken = true;
    this.noticeAt = now + 1 + prng.nextInt(2 * tickUnits);
    this.sendQueue.length = 0;
    this.toClient.length = 0;
    this.toMember.length = 0;
    if (this.watcher !== undefined) this.watcher.state = 'done';
  }
}

export interface ServerWatcher {
  conn: Connection;
  req: WatchRequest;
  /** The lowest revision this watcher may still need. */
  minRev: number;
  state: 'synced' | 'unsynced' | 'done';
  /** Nothing was sent since the last periodic progress notification. */
  idle: boolean;
  /** Under the 'watch-duplicate' bug: the one batch it sends twice was sent. */
  duplicated?: boolean;
}

export interface WatchServerConfig {
  prng: Prng;
  mutation: Mutation | undefined;
  catchUpRevisionsMax: number;
  streamQueueMax: number;
  delay(): number;
  count(what: string): void;
}

/** One member incarnation's watchable store. */
export class WatchHub implements MemberWatchServer {
  readonly conns = new Set<Connection>();
  private readonly synced = new Set<ServerWatcher>();
  private readonly unsynced = new Set<ServerWatcher>();
  private readonly leaderless = new LeaderlessTimer();

  constructor(
    readonly member: Member,
    private readonly c: WatchServerConfig,
  ) {}

  private get sm(): KvStateMachine {
    assert.ok(this.member.sm instanceof KvStateMachine, 'the watch model runs over the model state machine');
    return this.member.sm;
  }

  private full(conn: Connection): boolean {
    return conn.sendQueue.length >= this.c.streamQueueMax;
  }

  private send(conn: Connection, r: WireResponse): void {
    if (!conn.broken) conn.sendQueue.push(r);
  }

  /** Every unit: client messages arrive, catch-up runs, responses leave. */
  step(now: number): void {
    for (const conn of this.conns) {
      while (!conn.broken && conn.toMember.length > 0 && conn.toMember[0]!.at <= now) this.receive(conn, conn.toMember.shift()!.msg);
    }
    if (now % 5 === 0) this.syncRound();
    this.cancelWithoutLeader(now);
    for (const conn of this.conns) {
      if (conn.broken) this.conns.delete(conn);
      else this.transmit(conn, now);
    }
  }

  private receive(conn: Connection, msg: ClientMessage): void {
    if (msg.kind === 'create') this.create(conn, msg.req);
    else {
      conn.progressRequested = true;
      this.maybeProgress(conn);
    }
  }

  private create(conn: Connection, req: WatchRequest): void {
    const cur = this.sm.revision;
    const w: ServerWatcher = { conn, req, minRev: req.startRevision, state: 'unsynced', idle: true };
    conn.watcher = w;
    this.send(conn, { revision: cur, events: [], created: true });
    const future = req.startRevision > cur && this.c.mutation !== 'future-watch-old-events';
    if (req.startRevision === 0 || req.startRevision > cur) {
      w.minRev = future ? req.startRevision : cur + 1;
      w.state = 'synced';
      this.synced.add(w);
      return;
    }
    if (this.c.mutation === 'watch-drop-on-resume') w.minRev = this.firstWanted(w, req.startRevision, cur) + 1;
    this.unsynced.add(w);
    if (req.startRevision < this.sm.compactRev) this.compacted(w);
  }

  /** The first revision in [from, to] with an event the watcher wants (to + 1 when none). */
  private firstWanted(w: ServerWatcher, from: number, to: number): number {
    for (const r of this.sm.eventsBetween(from, to)) if (r.events.some((e) => inRange(w.req, e.key))) return r.revision;
    return to;
  }

  private compacted(w: ServerWatcher): void {
    this.unsynced.delete(w);
    w.state = 'done';
    this.c.count('watch-compacted');
    this.send(w.conn, { revision: 0, events: [], canceled: true, compactRevision: this.sm.compactRev });
  }

  /** A revision was applied: synced watchers get its events now. */
  onWrite(rev: number, events: SimEvent[]): void {
    for (const w of this.synced) {
      if (w.state !== 'synced') continue;
      if (rev < w.minRev) continue;
      const matched = events.filter((e) => inRange(w.req, e.key)).map((e) => ({ ...e }));
      if (matched.length === 0) continue;
      if (this.full(w.conn)) {
        this.synced.delete(w);
        w.state = 'unsynced';
        w.minRev = rev;
        this.unsynced.add(w);
        this.c.count('watch-victim');
        continue;
      }
      this.sendEvents(w, rev, matched);
      w.minRev = rev + 1;
    }
    for (const conn of this.conns) if (conn.progressRequested) this.maybeProgress(conn);
  }

  private sendEvents(w: ServerWatcher, header: number, events: SimEvent[]): void {
    w.idle = false;
    if (this.c.mutation === 'watch-split-revision' && events.length > 1) {
      this.send(w.conn, { revision: header, events: events.slice(0, 1) });
      this.send(w.conn, { revision: header, events: events.slice(1) });
      return;
    }
    this.send(w.conn, { revision: header, events });
  }

  onCompact(rev: number): void {
    for (const w of this.unsynced) if (w.minRev < rev) this.compacted(w);
  }

  /** The state machine was replaced by a snapshot: synced watchers catch up from where they were. */
  onRestore(revisionBefore: number): void {
    const cur = this.sm.revision;
    for (const w of this.synced) {
      // etcd #15271 went wrong here: the watcher must resume from its own position, never the member's old one.
      if (this.c.mutation === 'restore-rewind') w.minRev = Math.min(w.minRev, revisionBefore + 1);
      if (w.minRev > cur) continue;
      this.synced.delete(w);
      w.state = 'unsynced';
      this.unsynced.add(w);
    }
  }

  /** One catch-up round: each unsynced watcher with room gets a bounded batch of whole revisions. */
  private syncRound(): void {
    const cur = this.sm.revision;
    for (const w of this.unsynced) {
      if (w.state !== 'unsynced') {
        this.unsynced.delete(w);
        continue;
      }
      if (w.minRev < this.sm.compactRev) {
        this.compacted(w);
        continue;
      }
      if (w.conn.sendQueue.length * 2 > this.c.streamQueueMax) continue;
      const to = Math.min(cur, w.minRev + this.c.catchUpRevisionsMax - 1);
      const batch = this.sm.eventsBetween(w.minRev, to);
      const events = batch.flatMap((r) => r.events.filter((e) => inRange(w.req, e.key)).map((e) => ({ ...e })));
      // etcd stamps a catch-up response with the revision it read at.
      if (events.length > 0) {
        this.send(w.conn, { revision: cur, events });
        w.idle = false;
      }
      w.minRev = to + 1;
      if (this.c.mutation === 'watch-duplicate' && events.length > 0 && !w.duplicated) {
        w.duplicated = true;
        w.minRev = events[events.length - 1]!.modRevision;
      }
      if (w.minRev > cur) {
        this.unsynced.delete(w);
        w.state = 'synced';
        this.synced.add(w);
        if (w.conn.progressRequested) this.maybeProgress(w.conn);
      }
    }
  }

  /**
   * Answers a progress request once the watcher is synced (every event up to
   * the member's revision is queued ahead of the answer, #15220) and not
   * waiting for a future start revision (#20221).
   */
  private maybeProgress(conn: Connection): void {
    const w = conn.watcher;
    if (w === undefined || w.state === 'done') return;
    const cur = this.sm.revision;
    const ready = w.state === 'synced' && w.req.startRevision <= cur;
    if (!ready && this.c.mutation !== 'progress-unsynced') return;
    conn.progressRequested = false;
    this.send(conn, { revision: cur, events: [], progressNotify: true });
  }

  /** etcd's periodic progress notification for idle synced watchers that asked for it. */
  progressTick(): void {
    const cur = this.sm.revision;
    for (const w of this.synced) {
      if (!w.req.progressNotify || w.state !== 'synced') continue;
      if (w.idle && w.req.startRevision <= cur && !this.full(w.conn)) this.send(w.conn, { revision: cur, events: [], progressNotify: true });
      w.idle = true;
    }
  }

  private cancelWithoutLeader(now: number): void {
    if (!this.leaderless.expired(this.member, now)) return;
    for (const conn of this.conns) {
      if (conn.watcher?.req.requireLeader !== true || conn.broken) continue;
      this.c.count('watch-no-leader-cancel');
      conn.breakOff(now, this.c.prng);
    }
  }

  /** Responses leave in queue order while the client reads and the window has room. */
  private transmit(conn: Connection, now: number): void {
    if (!conn.reading) return;
    if (this.c.mutation === 'watch-reorder' && conn.sendQueue.length >= 2 && conn.sendQueue[0]!.events.length > 0 && conn.sendQueue[1]!.events.length > 0) {
      [conn.sendQueue[0], conn.sendQueue[1]] = [conn.sendQueue[1]!, conn.sendQueue[0]!];
    }
    while (conn.sendQueue.length > 0 && conn.toClient.length < wireWindow) {
      const last = conn.toClient[conn.toClient.length - 1]?.at ?? 0;
      conn.toClient.push({ at: Math.max(last, now + this.c.delay()), r: conn.sendQueue.shift()! });
    }
  }

  /** The process stopped: every stream breaks. */
  stop(now: number): void {
    for (const conn of this.conns) conn.breakOff(now, this.c.prng);
    this.conns.clear();
    this.synced.clear();
    this.unsynced.clear();
  }
}
