/**
 * The flow-control window of one follower in replicate state: the last index
 * of every MsgApp sent and not yet acknowledged, oldest first. When it is
 * full the leader stops sending until an acknowledgement frees a slot.
 *
 * A ring buffer of `capacity` slots; `start` is the oldest entry.
 */
import assert from 'node:assert';

export class Inflights {
  private start = 0;
  private length = 0;
  private readonly buffer: bigint[];

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, `inflight capacity ${capacity} must be positive`);
    this.buffer = new Array<bigint>(capacity).fill(0n);
  }

  get count(): number {
    return this.length;
  }

  full(): boolean {
    return this.length === this.capacity;
  }

  /** Records a MsgApp whose last entry is `index`; indexes must increase. */
  add(index: bigint): void {
    assert(!this.full(), 'cannot add into a full inflights window');
    if (this.length > 0) {
      const last = this.buffer[(this.start + this.length - 1) % this.capacity]!;
      assert(index > last, `inflight index ${index} does not increase past ${last}`);
    }
    this.buffer[(this.start + this.length) % this.capacity] = index;
    this.length++;
  }

  /** Frees every message whose last index is <= `to` (they were acknowledged). */
  freeLE(to: bigint): void {
    if (this.length === 0 || to < this.buffer[this.start]!) return;
    let freed = 0;
    let idx = this.start;
    while (freed < this.length && this.buffer[idx]! <= to) {
      freed++;
      idx = (idx + 1) % this.capacity;
    }
    this.length -= freed;
    this.start = this.length === 0 ? 0 : idx;
  }

  /** Frees the oldest slot: a heartbeat response proves the follower is alive. */
  freeFirstOne(): void {
    if (this.length === 0) return;
    this.freeLE(this.buffer[this.start]!);
  }

  reset(): void {
    this.start = 0;
    this.length = 0;
  }

  /** The indexes in flight, oldest first (for status and tests). */
  toArray(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.buffer[(this.start + i) % this.capacity]!);
    return out;
  }

  clone(): Inflights {
    const c = new Inflights(this.capacity);
    for (const i of this.toArray()) c.add(i);
    return c;
  }
}
