/**
 * Watches in the simulation: a watchable store per member (watch-server.ts),
 * watch clients that resume across members (watch-client.ts), and the
 * checks over everything they received.
 *
 * Checked at the end, against the linearised KV history (which must equal
 * what the members applied):
 * - per stream: Ordered, Unique, Atomic, Bookmarkable, Reliable, Consistent
 *   (test/support/lincheck/watch-check.ts);
 * - per resumed watch (chain of streams): Resumable, which also catches a
 *   member that sends a resumed watch events older than the client has seen
 *   (etcd #15271) or below its future start revision (#20221);
 * - across streams: every watcher saw the same event for a revision;
 * - prev values: each event's previous value is the key's value in the
 *   revision before (replayed from the linearised history);
 * - compaction cancels: only for a watch that needed a revision below a
 *   compaction that happened (so a delete at the compaction revision must
 *   still be delivered, etcd #18089 / #19179);
 * - progress notifications never vouch for less than a delivered event;
 * - liveness: after healing, every watch catches up with the cluster.
 */
import type { Entry } from '../../src/proto/gen/etcdtspb/raft.js';
import { formatViolations, validateWatches, type CommittedRevision, type WatchViolation } from '../support/lincheck/watch-check.js';
import { SafetyViolation } from './invariants.js';
import type { ApplyResult, Command, SimEvent } from './kv-state-machine.js';
import type { SimHost, SimLayer } from './sim-layer.js';
import type { Member } from './sim-member.js';
import { WatchClient, type LinkRecord, type WatchClientHost } from './watch-client.js';
import { RealWatchHub } from './real-watch-hub.js';
import { Connection, WatchHub, type MemberWatchServer, type WatchServerConfig } from './watch-server.js';
import type { WorkloadConfig } from './workload.js';

export interface WatchReport {
  clients: number;
  streams: number;
  resumes: number;
  events: number;
  progressNotifications: number;
  compactionCancels: number;
  /** Compactions applied in the run. */
  compactions: number;
  /** Simulated units from a revision's first apply to its delivery to a client. */
  lagP50: number;
  lagP99: number;
  lagMax: number;
}

export class WatchLayer implements SimLayer {
  private readonly hubs = new Map<bigint, MemberWatchServer>();
  private readonly clients: WatchClient[] = [];
  private readonly serverConfig: WatchServerConfig;
  private connSeq = 0;
  private readonly lags: number[] = [];

  constructor(
    private readonly host: SimHost,
    private readonly w: WorkloadConfig,
    keys: number,
    /** The shipped watchable store on every member instead of the model. */
    private readonly real: boolean,
  ) {
    const { prng } = host;
    this.serverConfig = {
      prng,
      mutation: host.mutation,
      catchUpRevisionsMax: w.catchUpRevisionsMax,
      streamQueueMax: w.streamQueueMax,
      delay: () => host.clientDelay(),
      count: (what) => host.count(what),
    };
    const clientHost = this.clientHost();
    for (let i = 0; i < w.watchClients; i++) {
      const prefix = prng.nextInt(2) === 0;
      const options = {
        key: prefix ? 'k' : `k${prng.nextInt(keys)}`,
        prefix,
        progressNotify: prng.nextInt(2) === 0,
        requireLeader: prng.nextInt(2) === 0,
      };
      this.clients.push(new WatchClient(`watcher ${i} (${prefix ? 'prefix ' : ''}${options.key})`, options, clientHost));
    }
  }

  private clientHost(): WatchClientHost {
    const host = this.host;
    const layer = this;
    return {
      get now() { return host.now; },
      get prng() { return host.prng; },
      get healing() { return host.healing; },
      get revision() { return host.truth.revision; },
      get compactRev() { return host.truth.compactRev; },
      connect: () => layer.connect(),
      delay: () => host.clientDelay(),
      count: (what) => host.count(what),
      record: (event) => host.record(event),
      delivered: (revision) => {
        const at = host.truth.revisionAppliedAt.get(revision);
        if (at !== undefined) layer.lags.push(host.now - at);
      },
    };
  }

  /**
   * A stream to a running member: usually any, sometimes the one furthest
   * behind, which is where a resumed watch is most likely to be sent events
   * from before its start (etcd #15271).
   */
  private connect(): Connection | undefined {
    // Clients know the endpoints of the cluster's members (clientv3 syncs them from MemberList),
    // not processes that started to join and never did.
    const reference = this.host.leader() ?? this.host.aliveMembers().reduce<Member | undefined>((a, b) => (a === undefined || b.sm.appliedIndex > a.sm.appliedIndex ? b : a), undefined);
    const members = reference === undefined ? new Set<bigint>() : new Set([...reference.sm.voters, ...reference.sm.learners]);
    const running = this.host.aliveMembers().filter((m) => this.hubs.has(m.id) && members.has(m.id));
    if (running.length === 0) return undefined;
    const { prng } = this.host;
    const lagging = running.reduce((a, b) => (b.sm.revision < a.sm.revision ? b : a));
    const m = prng.nextInt(3) === 0 ? lagging : running[prng.nextInt(running.length)]!;
    const conn = new Connection(this.connSeq++, m, m.incarnation);
    this.hubs.get(m.id)!.conns.add(conn);
    return conn;
  }

  step(): void {
    const { now } = this.host;
    for (const hub of this.hubs.values()) {
      hub.step(now);
      if (now % this.w.progressNotifyUnits === 0) hub.progressTick();
    }
    for (const c of this.clients) c.step();
  }

  onStart(m: Member): void {
    this.hubs.set(m.id, this.real ? new RealWatchHub(m, this.serverConfig) : new WatchHub(m, this.serverConfig));
  }

  onStop(m: Member): void {
    this.hubs.get(m.id)?.stop(this.host.now);
    this.hubs.delete(m.id);
  }

  onRestore(m: Member, revisionBefore: number): void {
    this.hubs.get(m.id)?.onRestore(revisionBefore);
  }

  onApplied(m: Member, _e: Entry, _cmd?: Command, result?: ApplyResult): void {
    const hub = this.hubs.get(m.id);
    if (hub === undefined || result === undefined) return;
    for (const w of result.writes) hub.onWrite(w.revision, w.events);
    if (result.compacted !== undefined) hub.onCompact(result.compacted);
  }

  onRole(): void {}

  unsettled(): string | undefined {
    for (const c of this.clients) {
      const why = c.unsettled();
      if (why !== undefined) return why;
    }
    return undefined;
  }

  /** Runs every check over what the clients received; throws on the first kind of violation found. */
  finish(history: readonly CommittedRevision[]): WatchReport {
    const chains = this.clients.flatMap((c) => c.allChains());
    const links = chains.flat();
    const streams = links.map((l) => l.stream);
    const violations = [
      ...validateWatches({ streams, chains: chains.map((c) => c.map((l) => l.stream)), history }),
      ...checkPrevValues(links, history, this.host.truth.compactions),
      ...checkCompactionCancels(links, this.host.truth.compactions),
      ...checkProgressMonotone(chains),
    ];
    if (violations.length > 0) {
      const first = violations[0]!;
      throw new SafetyViolation(`Watch ${first.guarantee}`, `${violations.length} violation(s):\n${formatViolations(violations.slice(0, 10))}`);
    }
    const lags = [...this.lags].sort((a, b) => a - b);
    const at = (q: number) => (lags.length === 0 ? 0 : lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]!);
    const responses = streams.flatMap((s) => s.responses);
    return {
      clients: this.clients.length,
      streams: streams.length,
      resumes: streams.length - chains.length,
      events: responses.reduce((n, r) => n + r.events.length, 0),
      progressNotifications: responses.filter((r) => r.progressNotify === true).length,
      compactionCancels: links.filter((l) => l.compactRevision !== undefined).length,
      compactions: this.host.truth.compactions.length,
      lagP50: at(0.5),
      lagP99: at(0.99),
      lagMax: lags.length === 0 ? 0 : lags[lags.length - 1]!,
    };
  }
}

/**
 * Every delivered event's previous value is the key's value just before its
 * revision. It may be missing only where the revision before was compacted
 * (the event sits at a compaction revision): etcd then cannot read it.
 */
function checkPrevValues(links: readonly LinkRecord[], history: readonly CommittedRevision[], compactions: ReadonlyArray<{ rev: number }>): WatchViolation[] {
  const compacted = new Set(compactions.map((c) => c.rev));
  const prev = new Map<string, string | null>();
  const values = new Map<string, string>();
  for (const r of history) {
    for (const e of r.events) {
      prev.set(`${r.revision}\0${e.key}`, values.get(e.key) ?? null);
      if (e.type === 'put') values.set(e.key, e.value!);
      else values.delete(e.key);
    }
  }
  const out: WatchViolation[] = [];
  for (const l of links) {
    for (const r of l.stream.responses) {
      for (const e of r.events as SimEvent[]) {
        const want = prev.get(`${e.modRevision}\0${e.key}`);
        if (e.prevValue === undefined && compacted.has(e.modRevision)) continue;
        if (want !== undefined && want !== e.prevValue) {
          out.push({ guarantee: 'consistent', stream: l.stream.name, revision: e.modRevision, message: `${e.key}@${e.modRevision} came with previous value ${JSON.stringify(e.prevValue)}, the history says ${JSON.stringify(want)}` });
        }
      }
    }
  }
  return out;
}

/** A compaction cancel names a compaction that happened, above the revision the watch needed. */
function checkCompactionCancels(links: readonly LinkRecord[], compactions: ReadonlyArray<{ rev: number }>): WatchViolation[] {
  const revs = new Set(compactions.map((c) => c.rev));
  const out: WatchViolation[] = [];
  for (const l of links) {
    if (l.compactRevision === undefined) continue;
    if (!revs.has(l.compactRevision)) {
      out.push({ guarantee: 'resumable', stream: l.stream.name, message: `canceled for a compaction at ${l.compactRevision}, which never happened` });
    } else if (l.neededAtCancel! >= l.compactRevision) {
      out.push({ guarantee: 'resumable', stream: l.stream.name, message: `canceled for the compaction at ${l.compactRevision}, but it only needed revisions from ${l.neededAtCancel} on, which are kept` });
    }
  }
  return out;
}

/** Within a watch, a progress notification never vouches for less than an event already delivered. */
function checkProgressMonotone(chains: readonly (readonly LinkRecord[])[]): WatchViolation[] {
  const out: WatchViolation[] = [];
  for (const chain of chains) {
    let lastEvent = 0;
    for (const l of chain) {
      for (const r of l.stream.responses) {
        for (const e of r.events) lastEvent = Math.max(lastEvent, e.modRevision);
        if (r.progressNotify === true && r.revision < lastEvent) {
          out.push({ guarantee: 'bookmarkable', stream: l.stream.name, revision: r.revision, message: `progress notification at ${r.revision} after an event at ${lastEvent}` });
        }
      }
    }
  }
  return out;
}
