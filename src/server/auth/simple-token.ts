import { randomInt } from 'node:crypto';
import { simpleTokenLetters, simpleTokensMax } from '../constants.js';
import type { Clock } from '../lease/lessor.js';
import type { TokenInfo, TokenProvider } from './token-provider.js';

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * etcd's simple tokens (auth/simple_token.go): `<16 random letters>.<raft
 * index of the Authenticate entry>`, not signed, kept in memory. The
 * receiving member draws the letters from the CSPRNG and proposes them; every
 * member that applies the entry records the token for the user, so the
 * token works on any member once that member has applied the entry. A token
 * lives `ttlMs` since it was issued or last used on this member (each member
 * counts on its own clock), and ends at once when its user is deleted or
 * changes password, or when auth is disabled.
 */
export class SimpleTokenProvider implements TokenProvider {
  readonly kind = 'simple';
  /** token -> owner and expiry; insertion order is age, for dropping the oldest past the limit. */
  private readonly tokens = new Map<string, { username: string; expiresMs: number }>();
  private on = false;

  constructor(private readonly ttlMs: number, private readonly clock: Clock) {}

  newPrefix(): string {
    let out = '';
    for (let i = 0; i < simpleTokenLetters; i++) out += letters[randomInt(letters.length)];
    return out;
  }

  applyAuthenticate(username: string, prefix: string, index: bigint): string {
    const token = `${prefix}.${index}`;
    if (this.on) {
      this.tokens.delete(token);
      this.tokens.set(token, { username, expiresMs: this.clock.nowMs() + this.ttlMs });
      if (this.tokens.size > simpleTokensMax) this.tokens.delete(this.tokens.keys().next().value!);
    }
    return token;
  }

  issue(_username: string, _revision: bigint, applied: string): Promise<string> {
    return Promise.resolve(applied);
  }

  /** The raft index a token names: it is valid on this member only once that index is applied. */
  indexOf(token: string): bigint | undefined {
    const m = /^[a-zA-Z]+\.(\d{1,20})$/.exec(token);
    return m === null ? undefined : BigInt(m[1]!);
  }

  info(token: string): TokenInfo | undefined {
    const entry = this.tokens.get(token);
    if (entry === undefined) return undefined;
    const now = this.clock.nowMs();
    if (entry.expiresMs <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    entry.expiresMs = now + this.ttlMs;
    return { username: entry.username };
  }

  /** Drops expired tokens (the member calls it every second, as etcd's TTL keeper runs). */
  sweep(): void {
    const now = this.clock.nowMs();
    for (const [token, entry] of this.tokens) if (entry.expiresMs <= now) this.tokens.delete(token);
  }

  invalidateUser(username: string): void {
    for (const [token, entry] of this.tokens) if (entry.username === username) this.tokens.delete(token);
  }

  enabled(on: boolean): void {
    this.on = on;
    if (!on) this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }
}
