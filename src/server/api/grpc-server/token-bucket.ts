import assert from 'node:assert';

/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`, time
 * given by the caller (ms, monotonic) so that the logic stays pure. The
 * connection's reset and glitch budgets are two of these, after nghttp2's
 * nghttp2_ratelim (which refills in whole seconds; ours refills
 * continuously, so a steady client never meets a cliff at a second's end).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly burst: number, private readonly perSecond: number, nowMs: number) {
    assert(burst >= 1 && perSecond > 0);
    this.tokens = burst;
    this.at = nowMs;
  }

  /** Takes one token; false (and nothing taken) when less than one is left. */
  take(nowMs: number): boolean {
    if (nowMs > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) * this.perSecond) / 1000);
      this.at = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives `count` tokens back (never past the burst): credit earned by useful work. */
  give(count: number): void {
    this.tokens = Math.min(this.burst, this.tokens + count);
  }

  /** Tokens left, for tests and debugging. */
  get available(): number {
    return this.tokens;
  }
}
