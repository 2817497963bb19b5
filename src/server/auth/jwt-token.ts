import {
  constants, createHmac, createPrivateKey, createPublicKey, createSecretKey, sign, timingSafeEqual, verify, type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { authTokenBytesMax, jwtTtlMsDefault } from '../constants.js';
import { parseGoDurationMs } from '../etcdserver/compactor.js';
import { VerifyOnlyError } from './errors.js';
import { AuthTokenOptionsError, type TokenInfo, type TokenProvider } from './token-provider.js';

/**
 * JSON Web Tokens as etcd issues them (auth/jwt.go): claims {username,
 * revision, exp}, signed with the key and algorithm of `--auth-token
 * jwt,sign-method=...,priv-key=...,pub-key=...,ttl=...`.
 *
 * The algorithm is pinned by the configuration, never read from a token: a
 * token whose header names another algorithm (`none` included) is invalid
 * before any key is touched, and the key was checked at startup to be of the
 * kind the algorithm needs (an RSA key for RS/PS, the matching curve for ES,
 * Ed25519/Ed448 for EdDSA), so a public key can never serve as an HMAC
 * secret (the classic RS/HS confusion). A token without an expiry is invalid.
 */
interface Algorithm {
  family: 'rsa' | 'pss' | 'ec' | 'eddsa' | 'hmac';
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  curve?: string;
}

const algorithms: Record<string, Algorithm> = {
  RS256: { family: 'rsa', hash: 'sha256' },
  RS384: { family: 'rsa', hash: 'sha384' },
  RS512: { family: 'rsa', hash: 'sha512' },
  PS256: { family: 'pss', hash: 'sha256' },
  PS384: { family: 'pss', hash: 'sha384' },
  PS512: { family: 'pss', hash: 'sha512' },
  ES256: { family: 'ec', hash: 'sha256', curve: 'prime256v1' },
  ES384: { family: 'ec', hash: 'sha384', curve: 'secp384r1' },
  ES512: { family: 'ec', hash: 'sha512', curve: 'secp521r1' },
  EdDSA: { family: 'eddsa', hash: null },
  HS256: { family: 'hmac', hash: 'sha256' },
  HS384: { family: 'hmac', hash: 'sha384' },
  HS512: { family: 'hmac', hash: 'sha512' },
};

/** RSA keys shorter than this are refused (NIST: 2048 bits at least). */
const rsaModulusBitsMin = 2048;

const knownOptions = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);

export interface JwtOptions {
  signMethod: string;
  privateKey?: KeyObject;
  publicKey: KeyObject;
  ttlMs: number;
}

/** Reads and checks the jwt options and key files; every problem is one AuthTokenOptionsError. */
export function loadJwtOptions(options: Map<string, string>, readFile: (path: string) => Buffer = readFileSync): JwtOptions {
  for (const name of options.keys()) if (!knownOptions.has(name)) throw new AuthTokenOptionsError(`unknown jwt option "${name}"`);
  const signMethod = options.get('sign-method') ?? '';
  const alg = algorithms[signMethod];
  if (alg === undefined) throw new AuthTokenOptionsError(`invalid sign-method "${signMethod}" (want one of ${Object.keys(algorithms).join(', ')})`);
  let ttlMs = jwtTtlMsDefault;
  const ttl = options.get('ttl');
  if (ttl !== undefined && ttl !== '') {
    const parsed = parseGoDurationMs(ttl);
    if (parsed === undefined || parsed <= 0) throw new AuthTokenOptionsError(`invalid ttl "${ttl}"`);
    ttlMs = parsed;
  }
  const read = (name: string): Buffer | undefined => {
    const path = options.get(name);
    if (path === undefined || path === '') return undefined;
    try {
      return readFile(path);
    } catch (err) {
      throw new AuthTokenOptionsError(`${name}: ${(err as Error).message}`);
    }
  };
  const privPem = read('priv-key');
  const pubPem = read('pub-key');
  if (alg.family === 'hmac') {
    if (privPem === undefined || privPem.length === 0) throw new AuthTokenOptionsError('missing key data: priv-key is the HMAC secret');
    const secret = createSecretKey(privPem);
    return { signMethod, privateKey: secret, publicKey: secret, ttlMs };
  }
  const privateKey = privPem === undefined ? undefined : keyOrThrow(() => createPrivateKey(privPem), 'priv-key');
  const publicKey = pubPem === undefined ? undefined : keyOrThrow(() => createPublicKey(pubPem), 'pub-key');
  if (privateKey === undefined && publicKey === undefined) throw new AuthTokenOptionsError('missing key data: give priv-key, pub-key or both');
  const derived = privateKey === undefined ? publicKey! : createPublicKey(privateKey);
  checkKeyKind(signMethod, alg, derived);
  if (publicKey !== undefined && !publicKey.equals(derived)) throw new AuthTokenOptionsError("public and private keys don't match");
  return { signMethod, privateKey, publicKey: derived, ttlMs };
}

function keyOrThrow(make: () => KeyObject, name: string): KeyObject {
  try {
    return make();
  } catch (err) {
    throw new AuthTokenOptionsError(`${name}: not a PEM key: ${(err as Error).message}`);
  }
}

function checkKeyKind(signMethod: string, alg: Algorithm, key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const ok = alg.family === 'rsa' ? type === 'rsa'
    : alg.family === 'pss' ? type === 'rsa' || type === 'rsa-pss'
      : alg.family === 'ec' ? type === 'ec' && details.namedCurve === alg.curve
        : type === 'ed25519' || type === 'ed448';
  if (!ok) throw new AuthTokenOptionsError(`sign-method ${signMethod} needs ${alg.family === 'ec' ? `an EC ${alg.curve} key` : alg.family === 'eddsa' ? 'an Ed25519 or Ed448 key' : 'an RSA key'}, got ${type}${details.namedCurve !== undefined ? ` ${details.namedCurve}` : ''}`);
  if ((alg.family === 'rsa' || alg.family === 'pss') && (details.modulusLength ?? 0) < rsaModulusBitsMin) {
    throw new AuthTokenOptionsError(`RSA key of ${details.modulusLength} bits is too short (at least ${rsaModulusBitsMin})`);
  }
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function signBytes(alg: Algorithm, key: KeyObject, data: Buffer): Buffer {
  switch (alg.family) {
    case 'hmac':
      return createHmac(alg.hash!, key).update(data).digest();
    case 'rsa':
      return sign(alg.hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
    case 'pss':
      return sign(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
    case 'ec':
      return sign(alg.hash, data, { key, dsaEncoding: 'ieee-p1363' });
    case 'eddsa':
      return sign(null, data, key);
  }
}

function verifyBytes(alg: Algorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  switch (alg.family) {
    case 'hmac': {
      const expected = createHmac(alg.hash!, key).update(data).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    case 'rsa':
      return verify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    case 'pss':
      return verify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    case 'ec':
      return verify(alg.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'eddsa':
      return verify(null, data, key, signature);
  }
}

const base64urlPart = /^[A-Za-z0-9_-]*$/;

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class JwtTokenProvider implements TokenProvider {
  readonly kind = 'jwt';
  private readonly alg: Algorithm;

  /** `nowMs` is wall-clock time (token expiry is absolute, shared by every member and the client). */
  constructor(private readonly options: JwtOptions, private readonly nowMs: () => number = Date.now) {
    this.alg = algorithms[options.signMethod]!;
  }

  newPrefix(): string {
    return '';
  }

  applyAuthenticate(): string {
    return '';
  }

  issue(username: string, revision: bigint): Promise<string> {
    const key = this.options.privateKey;
    if (key === undefined) return Promise.reject(new VerifyOnlyError());
    const header = b64url(JSON.stringify({ alg: this.options.signMethod, typ: 'JWT' }));
    const exp = Math.floor((this.nowMs() + this.options.ttlMs) / 1000);
    const payload = b64url(JSON.stringify({ exp, revision: Number(revision), username }));
    const signature = signBytes(this.alg, key, Buffer.from(`${header}.${payload}`));
    return Promise.resolve(`${header}.${payload}.${b64url(signature)}`);
  }

  indexOf(): undefined {
    return undefined;
  }

  info(token: string): TokenInfo | undefined {
    if (token.length > authTokenBytesMax) return undefined;
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => base64urlPart.test(p))) return undefined;
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeJsonObject(headerPart);
    // The pinned algorithm, exactly; and no extension this code does not implement.
    if (header === undefined || header['alg'] !== this.options.signMethod || 'crit' in header) return undefined;
    const signed = Buffer.from(`${headerPart}.${payloadPart}`);
    let valid: boolean;
    try {
      valid = verifyBytes(this.alg, this.options.publicKey, signed, Buffer.from(signaturePart, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return undefined;
    const claims = decodeJsonObject(payloadPart);
    if (claims === undefined) return undefined;
    const { username, revision, exp, nbf } = claims;
    const nowSeconds = this.nowMs() / 1000;
    if (typeof username !== 'string' || username === '') return undefined;
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return undefined;
    if (typeof exp !== 'number' || !(nowSeconds < exp)) return undefined;
    if (nbf !== undefined && (typeof nbf !== 'number' || nowSeconds < nbf)) return undefined;
    return { username, revision: BigInt(revision) };
  }

  invalidateUser(): void {
    // A JWT cannot be recalled; a deleted user's token fails every permission check instead.
  }

  enabled(): void {}

  sweep(): void {}
}
