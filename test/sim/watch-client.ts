/**
 * A simulated watch client, behaving like etcd's clientv3 watcher: it opens
 * one watch on some member, and when the stream breaks (the member crashed,
 * the connection reset, the member lost its leader under WithRequireLeader,
 * or the client moved to another endpoint) it resumes on a member of its
 * choice from the revision after the last one it has seen: the last event,
 * progress notification or, for a watch "from now", the revision the watch
 * was created at. A compaction cancel ends the watch (the caller must
 * re-list); the client then starts a new one, often at the compaction
 * revision itself, as Kubernetes' reflector does.
 *
 * Each connection is recorded as one `WatchStream` for the validators; the
 * streams of one resumed watch form a chain.
 */
import type { Prng } from '../../src/server/raft/prng.js';
import type { WatchStream } from '../support/lincheck/watch-check.js';
import type { Connection, WatchRequest, WireResponse } from './watch-server.js';

/** One connection of a watch and what it received. */
export interface LinkRecord {
  stream: WatchStream;
  member: bigint;
  /** Set when the member canceled the watch because its history was compacted. */
  compactRevision?: number;
  /** The revision the link needed next when it was canceled (its start, or after its last event). */
  neededAtCancel?: number;
}

/** A watch whose position does not advance for this long while behind is restarted (healing only). */
const stallUnits = 500;

export interface WatchClientHost {
  readonly now: number;
  readonly prng: Prng;
  readonly healing: boolean;
  /** The cluster's revision and last compaction (for choosing start revisions only). */
  readonly revision: number;
  readonly compactRev: number;
  /** A new stream to some running member; undefined when none runs. */
  connect(): Connection | undefined;
  delay(): number;
  count(what: string): void;
  /** Adds a line to the run's trace (and its hash). */
  record(event: string): void;
  /** Delivery of the events of `revision` to a client, for the lag figures. */
  delivered(revision: number): void;
}

export interface WatchClientOptions {
  key: string;
  prefix: boolean;
  progressNotify: boolean;
  requireLeader: boolean;
}

export class WatchClient {
  readonly chains: LinkRecord[][] = [];
  private chain: LinkRecord[] | undefined;
  private link: LinkRecord | undefined;
  private conn: Connection | undefined;
  /** The last event revision, and the last revision vouched for, in the current chain. */
  private lastEvent = 0;
  private lastVouched = 0;
  private reconnectAt = 0;
  private pausedUntil = 0;
  /** The start revision of the next new chain; undefined: choose one. */
  private nextChainStart: number | undefined;
  private progressAskedAt = -Infinity;
  /** When the client last saw its position advance (for its watch timeout). */
  private advancedAt = 0;
  private advancedTo = 0;

  constructor(
    readonly name: string,
    readonly options: WatchClientOptions,
    private readonly host: WatchClientHost,
  ) {}

  step(): void {
    const { now } = this.host;
    if (this.conn?.broken === true && now >= this.conn.noticeAt) this.endLink(now + 1 + this.host.prng.nextInt(20));
    if (this.conn !== undefined) {
      this.conn.reading = now >= this.pausedUntil;
      while (this.conn !== undefined && this.conn.reading && this.conn.toClient.length > 0 && this.conn.toClient[0]!.at <= now) {
        this.receive(this.conn.toClient.shift()!.r);
      }
    }
    if (this.conn === undefined && now >= this.reconnectAt) this.openLink();
    if (this.host.healing) this.catchUp();
    else this.misbehave();
  }

  private misbehave(): void {
    const { prng, now } = this.host;
    const roll = prng.nextInt(6000);
    if (roll < 3) {
      this.pausedUntil = now + 50 + prng.nextInt(450);
      this.host.count('watch-pause');
    } else if (roll < 7 && this.conn !== undefined) {
      // A connection reset, or the balancer moving to another endpoint: the client resumes.
      this.host.count('watch-reset');
      this.conn.breakOff(now, prng);
    } else if (roll < 27) {
      this.askProgress();
    } else if (roll < 29 && this.chain !== undefined) {
      this.host.count('watch-restart');
      this.conn?.breakOff(now, prng);
      this.endLink(now + 1);
      this.endChain();
    }
  }

  /**
   * While healing: read everything and ask for progress until caught up with
   * the cluster. A watch that makes no progress for long is restarted elsewhere,
   * as clients with a watch timeout do (Kubernetes' reflector): its member
   * may have left the cluster, or be stuck without a leader.
   */
  private catchUp(): void {
    const { now } = this.host;
    this.pausedUntil = 0;
    if (this.lastVouched >= this.host.revision || this.lastVouched > this.advancedTo) {
      this.advancedTo = this.lastVouched;
      this.advancedAt = now;
      return;
    }
    if (now - this.progressAskedAt >= 50) this.askProgress();
    if (this.conn !== undefined && now - this.advancedAt > stallUnits) {
      this.advancedAt = now;
      this.host.count('watch-stall-reset');
      this.conn.breakOff(now, this.host.prng);
    }
  }

  private askProgress(): void {
    if (this.conn === undefined || this.conn.broken) return;
    this.progressAskedAt = this.host.now;
    this.conn.sendToMember({ kind: 'progress' }, this.host.now, this.host.delay());
  }

  /** Why this client is not caught up with the cluster yet, or undefined. */
  unsettled(): string | undefined {
    if (this.conn === undefined || this.conn.broken) return `${this.name} is not connected`;
    if (this.lastVouched < this.host.revision) return `${this.name} has seen up to revision ${this.lastVouched} of ${this.host.revision}`;
    return undefined;
  }

  private openLink(): void {
    const conn = this.host.connect();
    if (conn === undefined) {
      this.reconnectAt = this.host.now + 10;
      return;
    }
    if (this.chain === undefined) this.startChain();
    const startRevision = this.chain!.length === 0 ? this.chainStart : this.lastVouched + 1;
    const req: WatchRequest = { ...this.options, startRevision };
    const stream: WatchStream = {
      name: `${this.name} chain ${this.chains.length} link ${this.chain!.length} on member ${conn.member.id}`,
      key: this.options.key,
      prefix: this.options.prefix,
      startRevision,
      responses: [],
    };
    this.conn = conn;
    this.link = { stream, member: conn.member.id };
    this.chain!.push(this.link);
    if (this.chain!.length > 1) this.host.count('watch-resume');
    this.host.record(`watch-open ${this.name} on ${conn.member.id} from ${startRevision}`);
    conn.sendToMember({ kind: 'create', req }, this.host.now, this.host.delay());
  }

  private chainStart = 0;

  /** A new watch: from now, from a past revision (often exactly the compaction), or from the future. */
  private startChain(): void {
    const { prng, revision, compactRev } = this.host;
    let start = this.nextChainStart;
    if (start === undefined) {
      const roll = prng.nextInt(10);
      if (roll < 4) start = 0;
      else if (roll < 7) start = compactRev > 0 && prng.nextInt(3) === 0 ? compactRev : Math.max(1, compactRev) + prng.nextInt(Math.max(1, revision - compactRev));
      else start = revision + 1 + prng.nextInt(20);
    }
    this.nextChainStart = undefined;
    this.chainStart = start;
    this.chain = [];
    this.chains.push(this.chain);
    this.lastEvent = 0;
    this.lastVouched = start > 0 ? start - 1 : 0;
  }

  private endChain(): void {
    this.chain = undefined;
  }

  /** The current connection is over; a watch "from now" that never learned its revision starts afresh. */
  private endLink(reconnectAt: number): void {
    const link = this.link;
    this.conn = undefined;
    this.link = undefined;
    this.reconnectAt = reconnectAt;
    if (link !== undefined && link.stream.startRevision === 0 && link.stream.createdRevision === undefined) {
      this.chain!.pop();
      if (this.chain!.length === 0) {
        this.chains.pop();
        this.endChain();
      }
    }
  }

  private receive(r: WireResponse): void {
    const link = this.link!;
    const stream = link.stream;
    if (r.created === true) {
      if (stream.startRevision === 0) {
        stream.createdRevision = r.revision;
        this.lastVouched = Math.max(this.lastVouched, r.revision);
      }
      return;
    }
    if (r.canceled === true) {
      link.compactRevision = r.compactRevision;
      link.neededAtCancel = Math.max(stream.startRevision, this.lastEventIn(stream) + 1);
      stream.responses.push({ revision: r.revision, events: [], canceled: true });
      this.host.count('watch-compaction-cancel');
      this.conn!.breakOff(this.host.now, this.host.prng);
      this.endLink(this.host.now + 1 + this.host.prng.nextInt(20));
      this.endChain();
      if (this.host.prng.nextInt(2) === 0) this.nextChainStart = r.compactRevision;
      return;
    }
    if (r.progressNotify === true) {
      stream.responses.push({ revision: r.revision, events: [], progressNotify: true });
      this.lastVouched = Math.max(this.lastVouched, r.revision);
      this.host.count('watch-progress');
      return;
    }
    stream.responses.push({ revision: r.revision, events: r.events });
    this.host.record(`watch-recv ${this.name} ${r.events.map((e) => `${e.key}@${e.modRevision}`).join(',')}`);
    for (const e of r.events) {
      this.host.delivered(e.modRevision);
      this.lastEvent = Math.max(this.lastEvent, e.modRevision);
    }
    this.lastVouched = Math.max(this.lastVouched, this.lastEvent);
  }

  private lastEventIn(stream: WatchStream): number {
    let last = 0;
    for (const r of stream.responses) for (const e of r.events) last = Math.max(last, e.modRevision);
    return last;
  }

  /** Every chain, with the one in progress. */
  allChains(): LinkRecord[][] {
    return this.chains.filter((c) => c.length > 0);
  }
}
