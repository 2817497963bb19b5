import { createServer, connect, type Server, type Socket } from 'node:net';
import { socketOwner } from './socket-owner.js';

/**
 * A TCP fault proxy for the peer links of a cluster on loopback (etcd's
 * robustness suite puts one in front of every member, tests/robustness
 * failpoint/network.go). Each member listens for peers on its real port;
 * the membership (--initial-cluster, --initial-advertise-peer-urls) names
 * its proxy's port instead, so every byte between members passes through a
 * proxy. A fault applies to every link into or out of one member:
 *
 * - blackhole: nothing is forwarded either way; connections stay open, as in
 *   a partition, and are reset when the fault is lifted (what they carried
 *   is lost, so the streams on them are broken anyway);
 * - delay: every chunk is held for base +/- jitter ms, never reordered;
 * - drop: every chunk is dropped with the given probability (the stream it
 *   belonged to is then garbled, as with etcd's proxy, and the receiver must
 *   detect it and reconnect).
 *
 * Incoming links are those of the member's own proxy; outgoing links are
 * found on the other proxies by asking /proc which process dialled them.
 */
export type LinkFault =
  | { kind: 'blackhole' }
  | { kind: 'delay'; baseMs: number; jitterMs: number }
  | { kind: 'drop'; percent: number };

export interface ProxiedMember {
  name: string;
  /** Where the member really listens for peers. */
  peerPort: number;
  /** The port of its proxy: the one the membership names. */
  proxyPort: number;
}

export interface NetworkStats {
  linksAccepted: number;
  chunksForwarded: number;
  chunksDropped: number;
  chunksDelayed: number;
  linksReset: number;
}

interface Held {
  due: number;
  chunk: Buffer;
}

interface Link {
  /** The member that dialled, when /proc could tell. */
  from: string | undefined;
  to: string;
  sockets: [Socket, Socket];
  lostData: boolean;
  /** Per direction: chunks held back by a delay, in arrival order. */
  queues: [Held[], Held[]];
}

export class FaultNetwork {
  private readonly servers: Server[] = [];
  private readonly links = new Set<Link>();
  private fault: { member: string; fault: LinkFault } | undefined;
  readonly stats: NetworkStats = { linksAccepted: 0, chunksForwarded: 0, chunksDropped: 0, chunksDelayed: 0, linksReset: 0 };

  /** `pidOf` names the process of each member right now (members restart with new pids). */
  private readonly members: ProxiedMember[];

  constructor(members: readonly ProxiedMember[], private readonly pidOf: (name: string) => number | undefined, private readonly random: () => number = Math.random) {
    this.members = [...members];
  }

  async start(): Promise<void> {
    for (const m of this.members) await this.listen(m);
  }

  /** Adds a member (member replace and add use new proxies). */
  async add(member: ProxiedMember): Promise<void> {
    this.members.push(member);
    await this.listen(member);
  }

  /** Applies `fault` to every link into or out of `member` until heal(). */
  inject(member: string, fault: LinkFault): void {
    this.fault = { member, fault };
  }

  heal(): void {
    this.fault = undefined;
    for (const link of this.links) {
      if (!link.lostData) continue;
      this.stats.linksReset++;
      for (const s of link.sockets) s.destroy();
    }
  }

  /** Links the proxies carry now, as "from->to" (for tests of the proxy itself). */
  describeLinks(): string[] {
    return [...this.links].map((l) => `${l.from ?? '?'}->${l.to}`);
  }

  async close(): Promise<void> {
    for (const link of this.links) for (const s of link.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }

  private listen(member: ProxiedMember): Promise<void> {
    const server = createServer((client) => this.accept(member, client));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(member.proxyPort, '127.0.0.1', () => resolve());
    });
  }

  private accept(member: ProxiedMember, client: Socket): void {
    this.stats.linksAccepted++;
    const upstream = connect({ host: '127.0.0.1', port: member.peerPort });
    const link: Link = { from: this.dialler(client), to: member.name, sockets: [client, upstream], lostData: false, queues: [[], []] };
    this.links.add(link);
    const end = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const s of link.sockets) {
      s.on('error', end);
      s.on('close', end);
    }
    client.on('data', (chunk: Buffer) => this.carry(link, 0, chunk));
    upstream.on('data', (chunk: Buffer) => this.carry(link, 1, chunk));
  }

  private dialler(client: Socket): string | undefined {
    const pids = new Map<number, string>();
    for (const m of this.members) {
      const pid = this.pidOf(m.name);
      if (pid !== undefined) pids.set(pid, m.name);
    }
    const owner = socketOwner(client.remotePort ?? 0, client.localPort ?? 0, [...pids.keys()]);
    return owner === undefined ? undefined : pids.get(owner);
  }

  /** Direction 0: dialler -> member; 1: member -> dialler. */
  private carry(link: Link, direction: 0 | 1, chunk: Buffer): void {
    const fault = this.fault !== undefined && (link.to === this.fault.member || link.from === this.fault.member) ? this.fault.fault : undefined;
    if (fault?.kind === 'blackhole' || (fault?.kind === 'drop' && this.random() * 100 < fault.percent)) {
      link.lostData = true;
      this.stats.chunksDropped++;
      return;
    }
    const queue = link.queues[direction];
    if (fault?.kind !== 'delay' && queue.length === 0) {
      this.write(link, direction, chunk);
      return;
    }
    // Held chunks leave in arrival order: a chunk never overtakes one held before it.
    const wait = fault?.kind === 'delay' ? Math.max(0, fault.baseMs + (this.random() * 2 - 1) * fault.jitterMs) : 0;
    if (wait > 0) this.stats.chunksDelayed++;
    const last = queue[queue.length - 1];
    queue.push({ due: Math.max(last?.due ?? 0, Date.now() + wait), chunk });
    if (queue.length === 1) this.release(link, direction);
  }

  /** Writes the held chunks that are due, then waits for the next one. */
  private release(link: Link, direction: 0 | 1): void {
    const queue = link.queues[direction];
    while (queue.length > 0 && queue[0]!.due <= Date.now()) this.write(link, direction, queue.shift()!.chunk);
    if (queue.length > 0) setTimeout(() => this.release(link, direction), queue[0]!.due - Date.now());
  }

  private write(link: Link, direction: 0 | 1, chunk: Buffer): void {
    const target = link.sockets[1 - direction]!;
    if (target.destroyed) return;
    this.stats.chunksForwarded++;
    if (!target.write(chunk)) {
      // Backpressure: stop reading the source until the target drains.
      const source = link.sockets[direction]!;
      source.pause();
      target.once('drain', () => source.resume());
    }
  }
}
