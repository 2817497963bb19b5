import { performance } from 'node:perf_hooks';
import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { WatchClient, type WatchRequest, type WatchResponse as WireResponse } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { SeededPrng, type Prng } from '../../src/server/raft/prng.js';
import type { WatchEvent, WatchResponse, WatchStream } from '../support/lincheck/watch-check.js';

/**
 * Recorded watches (etcd's robustness suite records every watch response the
 * same way, tests/robustness/client/watch.go). A watch that breaks (its
 * member died, its connection was cut) is resumed on the next member right
 * after the last revision it vouched for; each stream of a resumed watch is
 * one link of a chain, and the validators check the chain as one watch.
 *
 * - The full watch: every key, from revision 1, for the whole run. When
 *   nothing cut it short, it is the complete committed history, against
 *   which unknown outcomes are settled and acknowledged writes are looked up.
 * - Short watches: the `k/` keys, from a recent revision or from "now", some
 *   with progress notifications, each kept open for 1 to 3 s and then
 *   replaced by a new one on another member.
 */
export interface WatchSettings {
  seed: number;
  /** Short watches open at any time. */
  shortWatches: number;
}

/** Pause before resuming a broken watch on the next member. */
const resumeDelayMs = 100;
const shortWatchLifetimeMs = { min: 1000, spread: 2000 };

interface Chain {
  streams: WatchStream[];
  /** Where the next link starts: one past the last revision the chain vouched for. */
  next: number;
  /** Highest mod revision delivered. */
  lastEvent: number;
  /** The chain ended for good (closed by us, or its start revision was compacted). */
  over: boolean;
  compacted: boolean;
  /** The link open now, if any. */
  link?: OpenLink;
}

interface OpenLink {
  close(): void;
}

export class WatchRecorder {
  readonly chains: Chain[] = [];
  private readonly full: Chain;
  private readonly open = new Set<OpenLink>();
  private readonly prng: Prng;
  private stopped = false;
  private endpointTurn = 0;
  private shortLoops: Promise<void>[] = [];
  /** Revisions at or below this are compacted: short watches start above it. */
  compactedRevision = 0;

  constructor(private readonly endpoints: () => string[], private readonly latestRevision: () => number, readonly settings: WatchSettings) {
    this.prng = new SeededPrng(settings.seed + 7);
    this.full = this.newChain(1);
  }

  start(): void {
    this.follow(this.full, { key: '\0', rangeEnd: '\0', progressNotify: false, name: 'full watch' });
    for (let i = 0; i < this.settings.shortWatches; i++) this.shortLoops.push(this.shortWatches(i));
  }

  /** Every link of every chain, for the validators. */
  streams(): WatchStream[] {
    return this.chains.flatMap((c) => c.streams);
  }

  /** The links of each chain, for the Resumable check. */
  chainLinks(): WatchStream[][] {
    return this.chains.filter((c) => c.streams.length > 1).map((c) => c.streams);
  }

  /** The full watch's position: everything up to here has been delivered to it. */
  fullWatchAt(): number {
    return this.full.next - 1;
  }

  /** The full watch never missed a revision: it holds the whole committed history up to fullWatchAt(). */
  fullWatchComplete(): boolean {
    return !this.full.compacted;
  }

  /** The full watch's events, revision by revision, in delivery order. */
  fullHistory(): WatchEvent[] {
    return this.full.streams.flatMap((s) => s.responses.flatMap((r) => r.events));
  }

  /** The lowest revision some open watch still needs (compaction must stay below it). */
  oldestNeeded(): number {
    const open = this.chains.filter((c) => !c.over);
    return Math.min(...open.map((c) => c.next), this.latestRevision());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const link of this.open) link.close();
    this.open.clear();
    await Promise.all(this.shortLoops);
  }

  private newChain(next: number): Chain {
    const chain: Chain = { streams: [], next, lastEvent: 0, over: false, compacted: false };
    this.chains.push(chain);
    return chain;
  }

  private nextEndpoint(): string {
    const all = this.endpoints();
    return all[this.endpointTurn++ % all.length]!;
  }

  /** Opens link after link for a chain until it is over. */
  private follow(chain: Chain, watch: { key: string; rangeEnd: string; progressNotify: boolean; name: string; startRevision?: number }): void {
    if (this.stopped || chain.over) return;
    if (chain.streams.length > 0 && chain.next === 0) {
      // A watch "from now" that broke before it was created promised nothing: nothing to resume.
      chain.over = true;
      return;
    }
    const startRevision = chain.streams.length === 0 && watch.startRevision !== undefined ? watch.startRevision : chain.next;
    const stream: WatchStream = {
      name: `${watch.name} link ${chain.streams.length}`,
      key: watch.key,
      rangeEnd: watch.rangeEnd,
      startRevision,
      responses: [],
    };
    chain.streams.push(stream);
    const link = openLink(this.nextEndpoint(), { ...watch, startRevision }, (r) => this.onResponse(chain, stream, r), () => {
      this.open.delete(link);
      chain.link = undefined;
      if (this.stopped || chain.over) return;
      setTimeout(() => this.follow(chain, watch), resumeDelayMs);
    });
    this.open.add(link);
    chain.link = link;
  }

  private onResponse(chain: Chain, stream: WatchStream, r: WireResponse): void {
    const revision = Number(r.header?.revision ?? 0n);
    if (r.created) {
      if (stream.startRevision === 0) {
        stream.createdRevision = revision;
        chain.next = Math.max(chain.next, revision + 1);
      }
      return;
    }
    const events = r.events.map(toEvent);
    const progressNotify = events.length === 0 && !r.canceled && r.compactRevision === 0n && revision !== 0;
    const response: WatchResponse = { revision, events };
    if (progressNotify) response.progressNotify = true;
    if (r.fragment) response.fragment = true;
    if (r.canceled) response.canceled = true;
    stream.responses.push(response);
    for (const e of events) chain.lastEvent = Math.max(chain.lastEvent, e.modRevision);
    if (events.length > 0) chain.next = Math.max(chain.next, chain.lastEvent + 1);
    if (progressNotify) chain.next = Math.max(chain.next, revision + 1);
    if (r.canceled) {
      chain.over = true;
      chain.compacted = r.compactRevision > 0n;
    }
  }

  /** One short watch after another, for the whole run. */
  private async shortWatches(slot: number): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const fromNow = this.prng.nextInt(3) === 0;
      const recent = Math.max(this.compactedRevision + 1, this.latestRevision() - this.prng.nextInt(5));
      const chain = this.newChain(fromNow ? 0 : recent);
      this.follow(chain, {
        key: 'k/', rangeEnd: 'k0', progressNotify: this.prng.nextInt(2) === 0, name: `short watch ${slot}.${n}`, startRevision: fromNow ? 0 : recent,
      });
      const until = performance.now() + shortWatchLifetimeMs.min + this.prng.nextInt(shortWatchLifetimeMs.spread);
      while (!this.stopped && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
      chain.over = true;
      chain.link?.close();
    }
  }
}

function toEvent(e: WireResponse['events'][number]): WatchEvent {
  const kv = e.kv!;
  if (e.type === 1) return { type: 'delete', key: kv.key.toString(), modRevision: Number(kv.modRevision) };
  return { type: 'put', key: kv.key.toString(), value: kv.value.toString(), modRevision: Number(kv.modRevision), createRevision: Number(kv.createRevision), version: Number(kv.version) };
}

/** One watch stream on one member; `ended` is called once when it breaks or is closed. */
function openLink(url: string, watch: { key: string; rangeEnd: string; startRevision: number; progressNotify: boolean }, onResponse: (r: WireResponse) => void, ended: () => void): OpenLink {
  const client = new WatchClient(url.replace(/^https?:\/\//, ''), credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const stream: ClientDuplexStream<WatchRequest, WireResponse> = client.watch(new Metadata());
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    stream.cancel();
    client.close();
    ended();
  };
  stream.on('data', (r: WireResponse) => {
    if (done) return;
    onResponse(r);
    if (r.canceled) finish();
  });
  stream.on('error', finish);
  stream.on('end', finish);
  stream.write({
    createRequest: {
      key: Buffer.from(watch.key), rangeEnd: Buffer.from(watch.rangeEnd), startRevision: BigInt(watch.startRevision),
      progressNotify: watch.progressNotify, filters: [], prevKv: false, watchId: 0n, fragment: false,
    },
  });
  return { close: finish };
}
