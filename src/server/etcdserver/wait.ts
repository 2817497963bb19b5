import assert from 'node:assert/strict';

/**
 * Proposals waiting for their entry to be applied, by request id (etcd's
 * pkg/wait). The proposer registers before proposing; the apply loop
 * triggers with the result, exactly once. A proposal whose id is never
 * applied (lost on a leader change) is rejected by its timeout.
 */
export class WaitRegistry<T> {
  /** Insertion order = registration order = deadline order (one timeout for all). */
  private readonly waiting = new Map<bigint, { resolve: (value: T) => void; reject: (err: Error) => void; deadline: number }>();
  private sweeper: NodeJS.Timeout | undefined;

  /**
   * @param timeoutMs how long a registration may wait before it fails with
   *   `onTimeout()`; checked by one periodic sweep rather than a timer per
   *   request (timers cost more than the requests they guard under load).
   */
  constructor(private readonly timeoutMs = 0, private readonly onTimeout: () => Error = () => new Error('timed out')) {}

  register(id: bigint): Promise<T> {
    assert.ok(!this.waiting.has(id), `duplicate wait id ${id}`);
    if (this.timeoutMs > 0 && this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, this.timeoutMs / 10)));
      this.sweeper.unref();
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, deadline: this.timeoutMs > 0 ? performance.now() + this.timeoutMs : Infinity });
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(id);
      w.reject(this.onTimeout());
    }
  }

  isRegistered(id: bigint): boolean {
    return this.waiting.has(id);
  }

  trigger(id: bigint, value: T): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.resolve(value);
  }

  fail(id: bigint, err: Error): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.reject(err);
  }

  failAll(err: Error): void {
    for (const [id] of this.waiting) this.fail(id, err);
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  get size(): number {
    return this.waiting.size;
  }
}

/**
 * Request ids unique per member across restarts, shaped like etcd's
 * idutil.Generator: the low 16 bits of the member id in the top 16 bits, then
 * the millisecond clock at startup shifted left 8, incremented per request.
 */
export class IdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, nowMs: number) {
    this.prefix = (memberId & 0xffffn) << 48n;
    this.suffix = (BigInt(nowMs) << 8n) & ((1n << 48n) - 1n);
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & ((1n << 48n) - 1n);
    return this.prefix | this.suffix;
  }
}
