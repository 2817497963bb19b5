/**
 * The simulated network between members: every message gets a random
 * delay (so messages reorder), may be lost or duplicated, and is dropped at
 * delivery time if a partition blocks its link. Partitions are sets of
 * blocked directed links, so they can be asymmetric.
 */
import { MessageType, type Message } from '../../src/proto/gen/etcdtspb/raft.js';
import type { Prng } from '../../src/server/raft/prng.js';

export interface NetworkConfig {
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  delayMin: number;
  delayMax: number;
}

interface InFlight {
  m: Message;
  deliverAt: number;
  seq: number;
  lost: boolean;
}

export interface Delivery {
  m: Message;
  /** False when the message was lost or its link was blocked. */
  delivered: boolean;
  /** True when a partition (not random loss) dropped it: the sender's transport notices. */
  blocked: boolean;
}

/** A binary min-heap on (deliverAt, seq): deterministic order for equal times. */
class Queue {
  private readonly items: InFlight[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): InFlight | undefined {
    return this.items[0];
  }

  push(x: InFlight): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): InFlight | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(x: InFlight, y: InFlight): boolean {
  return x.deliverAt < y.deliverAt || (x.deliverAt === y.deliverAt && x.seq < y.seq);
}

export class SimNetwork {
  private readonly queue = new Queue();
  private seq = 0;
  private readonly blocked = new Set<string>();
  stats = { sent: 0, lost: 0, duplicated: 0, blocked: 0, delivered: 0 };

  constructor(
    private readonly prng: Prng,
    public config: NetworkConfig,
  ) {}

  get inFlight(): number {
    return this.queue.size;
  }

  send(m: Message, now: number): void {
    this.stats.sent++;
    const lost = this.prng.nextFloat() < this.config.lossRate;
    if (lost) this.stats.lost++;
    this.enqueue(m, now, lost);
    // Forwarded proposals are not duplicated: peer streams deliver at most
    // once, and a proposal is not idempotent (it would be appended twice).
    if (!lost && m.type !== MessageType.MsgProp && this.prng.nextFloat() < this.config.duplicateRate) {
      this.stats.duplicated++;
      this.enqueue(m, now, false);
    }
  }

  private enqueue(m: Message, now: number, lost: boolean): void {
    const span = this.config.delayMax - this.config.delayMin + 1;
    const deliverAt = now + this.config.delayMin + this.prng.nextInt(span);
    this.queue.push({ m, deliverAt, seq: this.seq++, lost });
  }

  /** Messages due at `now`, in order, each marked delivered or not. */
  due(now: number): Delivery[] {
    const out: Delivery[] = [];
    for (let top = this.queue.peek(); top !== undefined && top.deliverAt <= now; top = this.queue.peek()) {
      this.queue.pop();
      const blocked = this.blocked.has(linkKey(top.m.from, top.m.to));
      if (blocked) this.stats.blocked++;
      const delivered = !top.lost && !blocked;
      if (delivered) this.stats.delivered++;
      out.push({ m: top.m, delivered, blocked });
    }
    return out;
  }

  /** A partition blocks messages from `from` to `to`. */
  linkBlocked(from: bigint, to: bigint): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  block(from: bigint, to: bigint): void {
    this.blocked.add(linkKey(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: bigint[], b: bigint[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }
}

function linkKey(from: bigint, to: bigint): string {
  return `${from}>${to}`;
}
