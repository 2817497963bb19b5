import { authFailuresFree, authThrottleDelayMsBase, authThrottleDelayMsMax, authThrottleEntriesMax } from '../constants.js';
import { TooManyRequestsError } from '../etcdserver/errors.js';
import type { Clock } from '../lease/lessor.js';

/**
 * Spaces out password guesses (etcd has no such brake; bcrypt's cost is its
 * only one). Failures are counted per user name *and* client address: after
 * `authFailuresFree` failures in a row, the next attempt from that address
 * for that user must wait `authThrottleDelayMsBase`, doubling with each
 * further failure up to `authThrottleDelayMsMax`; an attempt that comes
 * earlier is refused with "etcdserver: too many requests" before any bcrypt
 * work, and does not count. A success clears the count.
 *
 * Why per address too: counting per user alone would let anyone lock root
 * out by guessing wrong on purpose; this way a guesser slows only itself
 * (down to about 5,400 guesses a day per user, address and member instead of
 * some 15 per second), and the operator's own address keeps its free
 * attempts. The state is per member and in memory: a restart forgets it, and
 * a guesser spreading over N members gets N times the rate, still bounded.
 * Memory is bounded: the least recently failed entries are forgotten first.
 */
export class AuthThrottle {
  /** key -> consecutive failures and the earliest time of the next attempt; insertion order is recency. */
  private readonly entries = new Map<string, { failures: number; notBeforeMs: number }>();

  constructor(private readonly clock: Clock) {}

  private static key(user: string, address: string): string {
    return `${address}\0${user}`;
  }

  /** Refuses an attempt that comes before its wait is over. */
  check(user: string, address: string): void {
    const entry = this.entries.get(AuthThrottle.key(user, address));
    if (entry !== undefined && this.clock.nowMs() < entry.notBeforeMs) throw new TooManyRequestsError();
  }

  failed(user: string, address: string): void {
    const key = AuthThrottle.key(user, address);
    const entry = this.entries.get(key) ?? { failures: 0, notBeforeMs: 0 };
    this.entries.delete(key);
    entry.failures++;
    entry.notBeforeMs = this.clock.nowMs() + delayAfter(entry.failures);
    this.entries.set(key, entry);
    if (this.entries.size > authThrottleEntriesMax) this.entries.delete(this.entries.keys().next().value!);
  }

  succeeded(user: string, address: string): void {
    this.entries.delete(AuthThrottle.key(user, address));
  }
}

/** The wait after `failures` consecutive failures: none for the free ones, then doubling to the cap. */
export function delayAfter(failures: number): number {
  if (failures <= authFailuresFree) return 0;
  return Math.min(authThrottleDelayMsMax, authThrottleDelayMsBase * 2 ** (failures - authFailuresFree - 1));
}

/** The host part of a call's peer ("127.0.0.1:5123", "[::1]:5123", "::1:5123"). */
export function peerAddress(peer: string): string {
  const colon = peer.lastIndexOf(':');
  return colon <= 0 ? peer : peer.slice(0, colon).replace(/^\[|\]$/g, '');
}
