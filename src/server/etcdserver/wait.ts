import assert from 'node:assert/strict';

/**
 * Proposals waiting for their entry to be applied, by request id (etcd's
 * pkg/wait). The proposer registers before proposing; the apply loop
 * triggers with the result, exactly once. A proposal whose id is never
 * applied (lost on a leader change) is rejected by its timeout.
 */
export class WaitRegistry<T> {
  private readonly waiting = new Map<bigint, { resolve: (value: T) => void; reject: (err: Error) => void }>();

  register(id: bigint): Promise<T> {
    assert.ok(!this.waiting.has(id), `duplicate wait id ${id}`);
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
    });
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
