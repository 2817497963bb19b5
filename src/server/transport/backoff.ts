import assert from 'node:assert';

/**
 * Exponential backoff with jitter for reconnecting a peer stream: the n-th
 * consecutive failure waits initial·2ⁿ⁻¹ capped at max, scaled by a random
 * factor in [0.5, 1) so that members restarting together do not reconnect
 * in lock step. The random source is injected (a seeded PRNG in tests).
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {
    assert(initialMs > 0 && initialMs <= maxMs, 'backoff bounds');
  }

  /** The wait before the next attempt, counting one more failure. */
  next(): number {
    const exponent = Math.min(this.failures, 30);
    this.failures++;
    const base = Math.min(this.maxMs, this.initialMs * 2 ** exponent);
    const r = this.random();
    assert(r >= 0 && r < 1, 'random source must return [0, 1)');
    return Math.max(1, Math.round(base * (0.5 + r / 2)));
  }

  /** The wait for a failure that retrying soon cannot fix (a refusal). */
  longest(): number {
    this.failures++;
    return this.maxMs;
  }

  reset(): void {
    this.failures = 0;
  }
}
