/**
 * How a member turns a successful Authenticate into a token and a token back
 * into a user (etcd's TokenProvider): `simple` (random, kept in memory) or
 * `jwt` (signed, self-contained).
 */
export interface TokenInfo {
  username: string;
  /** The auth revision the token was issued at (JWT); absent for simple tokens, which follow the store. */
  revision?: bigint;
}

export interface TokenProvider {
  readonly kind: 'simple' | 'jwt';
  /** What the receiving member puts into the Authenticate proposal ("" for JWT). */
  newPrefix(): string;
  /** Applies a committed Authenticate on this member; returns the token when it can be made here. */
  applyAuthenticate(username: string, prefix: string, index: bigint): string;
  /** The token the proposer answers with, once its entry is applied (a JWT is signed here, on one member). */
  issue(username: string, revision: bigint, applied: string): Promise<string>;
  /** The raft index a simple token depends on; undefined for JWT. */
  indexOf(token: string): bigint | undefined;
  /** The user a token stands for, or undefined when it is unknown, expired, forged or malformed. */
  info(token: string): TokenInfo | undefined;
  invalidateUser(username: string): void;
  enabled(on: boolean): void;
  sweep(): void;
}

/** `--auth-token` decomposed as etcd does: the type, then comma-separated name=value options. */
export interface AuthTokenOptions {
  type: 'simple' | 'jwt';
  options: Map<string, string>;
}

export class AuthTokenOptionsError extends Error {}

export function parseAuthTokenOption(text: string): AuthTokenOptions {
  const [type, ...rest] = text.split(',');
  if (type !== 'simple' && type !== 'jwt') throw new AuthTokenOptionsError(`unknown token type "${type}" (want simple or jwt)`);
  const options = new Map<string, string>();
  for (const part of rest) {
    const pair = part.split('=');
    if (pair.length !== 2) throw new AuthTokenOptionsError(`invalid token option "${part}" (want name=value)`);
    const [name, value] = pair as [string, string];
    if (options.has(name)) throw new AuthTokenOptionsError(`duplicate token option "${name}"`);
    options.set(name, value);
  }
  if (type === 'simple' && options.size > 0) throw new AuthTokenOptionsError('simple tokens take no options');
  return { type, options };
}
