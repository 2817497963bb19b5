import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VerifyOnlyError } from '../../../src/server/auth/errors.js';
import { JwtTokenProvider, loadJwtOptions } from '../../../src/server/auth/jwt-token.js';
import { SimpleTokenProvider } from '../../../src/server/auth/simple-token.js';
import { AuthTokenOptionsError, parseAuthTokenOption } from '../../../src/server/auth/token-provider.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

class ManualClock {
  ms = 1_000_000;
  nowMs(): number {
    return this.ms;
  }
}

describe('simple tokens', () => {
  const ttlMs = 300_000;

  function enabled(): { tokens: SimpleTokenProvider; clock: ManualClock } {
    const clock = new ManualClock();
    const tokens = new SimpleTokenProvider(ttlMs, clock);
    tokens.enabled(true);
    return { tokens, clock };
  }

  it('are 16 CSPRNG letters, a dot and the raft index of the Authenticate entry', () => {
    const { tokens } = enabled();
    const prefixes = new Set<string>();
    for (let i = 0; i < 2000; i++) prefixes.add(tokens.newPrefix());
    assert.equal(prefixes.size, 2000);
    for (const p of prefixes) assert.match(p, /^[a-zA-Z]{16}$/);
    const token = tokens.applyAuthenticate('alice', 'abcdefghijklmnop', 42n);
    assert.equal(token, 'abcdefghijklmnop.42');
    assert.equal(tokens.indexOf(token), 42n);
    assert.deepEqual(tokens.info(token), { username: 'alice' });
  });

  it('expire after the TTL without use, and each use restarts the TTL', () => {
    const { tokens, clock } = enabled();
    const token = tokens.applyAuthenticate('alice', tokens.newPrefix(), 7n);
    clock.ms += ttlMs - 1;
    assert.ok(tokens.info(token));
    clock.ms += ttlMs - 1;
    assert.ok(tokens.info(token), 'used just before expiry: alive for another TTL');
    clock.ms += ttlMs;
    assert.equal(tokens.info(token), undefined);
  });

  it('are swept when expired, dropped with their user, and all gone when auth is disabled', () => {
    const { tokens, clock } = enabled();
    const a = tokens.applyAuthenticate('alice', tokens.newPrefix(), 1n);
    const b = tokens.applyAuthenticate('bob', tokens.newPrefix(), 2n);
    tokens.invalidateUser('alice');
    assert.equal(tokens.info(a), undefined);
    assert.ok(tokens.info(b));
    clock.ms += ttlMs;
    tokens.sweep();
    assert.equal(tokens.size, 0);
    const c = tokens.applyAuthenticate('bob', tokens.newPrefix(), 3n);
    tokens.enabled(false);
    assert.equal(tokens.info(c), undefined);
  });

  it('refuse anything that is not a token they issued', () => {
    const { tokens } = enabled();
    tokens.applyAuthenticate('alice', 'abcdefghijklmnop', 5n);
    for (const forged of ['abcdefghijklmnop.6', 'abcdefghijklmnoq.5', '', 'abcdefghijklmnop', 'x.y.z']) assert.equal(tokens.info(forged), undefined, forged);
    assert.equal(tokens.indexOf('not-a-token'), undefined);
  });
});

describe('--auth-token option parsing', () => {
  it('takes simple, and jwt with name=value options', () => {
    assert.deepEqual(parseAuthTokenOption('simple'), { type: 'simple', options: new Map() });
    assert.deepEqual(parseAuthTokenOption('jwt,sign-method=ES256,ttl=1m').options, new Map([['sign-method', 'ES256'], ['ttl', '1m']]));
  });

  for (const bad of ['', 'plain', 'jwt,sign-method', 'jwt,a=1,a=2', 'simple,ttl=5']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseAuthTokenOption(bad), AuthTokenOptionsError));
  }
});

describe('JWT tokens', () => {
  // Made in before(): other suites' after hooks remove every temp dir, so none may exist at load time.
  let dir: string;
  type Pair = { priv: string; pub: string; privateKey: KeyObject; publicKey: KeyObject };
  let keys: Record<'ec256' | 'ec384' | 'ec521' | 'rsa' | 'ed', Pair>;
  let secretFile: string;
  before(() => {
    dir = tempDir('jwt-keys-');
    keys = {
      ec256: pair('ec', { namedCurve: 'prime256v1' }),
      ec384: pair('ec', { namedCurve: 'secp384r1' }),
      ec521: pair('ec', { namedCurve: 'secp521r1' }),
      rsa: pair('rsa', { modulusLength: 2048 }),
      ed: pair('ed25519', {}),
    };
    secretFile = join(dir, 'hmac.secret');
    writeFileSync(secretFile, 'a shared secret of some length, 32+ bytes long');
  });
  after(() => removeTempDirs());
  let n = 0;
  const pem = (key: KeyObject): string => {
    const path = join(dir, `k${n++}.pem`);
    writeFileSync(path, key.export({ type: key.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }));
    return path;
  };
  const pair = (kind: string, options: object): { priv: string; pub: string; privateKey: KeyObject; publicKey: KeyObject } => {
    const { privateKey, publicKey } = generateKeyPairSync(kind as 'ec', options as never) as unknown as { privateKey: KeyObject; publicKey: KeyObject };
    return { priv: pem(privateKey), pub: pem(publicKey), privateKey, publicKey };
  };

  function provider(signMethod: string, key: { priv?: string; pub?: string }, now = () => Date.now()): JwtTokenProvider {
    const options = new Map([['sign-method', signMethod]]);
    if (key.priv !== undefined) options.set('priv-key', key.priv);
    if (key.pub !== undefined) options.set('pub-key', key.pub);
    return new JwtTokenProvider(loadJwtOptions(options), now);
  }

  const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const claims = { username: 'alice', revision: 5, exp: Math.floor(Date.now() / 1000) + 60 };

  const algs: Array<[string, keyof typeof keys | 'hmac']> = [
    ['ES256', 'ec256'], ['ES384', 'ec384'], ['ES512', 'ec521'], ['RS256', 'rsa'], ['RS512', 'rsa'], ['PS256', 'rsa'], ['PS384', 'rsa'], ['EdDSA', 'ed'], ['HS256', 'hmac'],
  ];
  const keyOf = (name: keyof typeof keys | 'hmac'): { priv?: string; pub?: string } => (name === 'hmac' ? { priv: secretFile } : keys[name]);
  for (const [alg, keyName] of algs) {
    it(`${alg}: a token it issued names the user and the auth revision; altering any part invalidates it`, async () => {
      const tokens = provider(alg, keyOf(keyName));
      const token = await tokens.issue('alice', 12n);
      assert.deepEqual(tokens.info(token), { username: 'alice', revision: 12n });
      const [h, p, s] = token.split('.') as [string, string, string];
      assert.equal(JSON.parse(Buffer.from(h, 'base64url').toString()).alg, alg);
      assert.equal(tokens.info(`${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), username: 'root' })}.${s}`), undefined, 'payload altered');
      const sig = Buffer.from(s, 'base64url');
      sig[0]! ^= 1;
      assert.equal(tokens.info(`${h}.${p}.${sig.toString('base64url')}`), undefined, 'signature altered');
      assert.equal(tokens.info(`${h}.${p}`), undefined, 'signature dropped');
    });
  }

  it('expire at exp, and refuse a token without exp even when correctly signed', async () => {
    // On a whole second: exp is in whole seconds (JWT NumericDate), so the token lives exactly 2 s.
    let now = Math.floor(Date.now() / 1000) * 1000;
    const tokens = new JwtTokenProvider(loadJwtOptions(new Map([['sign-method', 'ES256'], ['priv-key', keys.ec256.priv], ['ttl', '2s']])), () => now);
    const token = await tokens.issue('alice', 3n);
    now += 1500;
    assert.ok(tokens.info(token));
    now += 600;
    assert.equal(tokens.info(token), undefined);
    const header = b64({ alg: 'ES256', typ: 'JWT' });
    const payload = b64({ username: 'alice', revision: 3 });
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: keys.ec256.privateKey, dsaEncoding: 'ieee-p1363' });
    assert.equal(tokens.info(`${header}.${payload}.${signature.toString('base64url')}`), undefined);
  });

  it('refuse alg "none", whatever the configured algorithm', () => {
    for (const [alg, keyName] of algs) {
      const tokens = provider(alg, keyOf(keyName));
      for (const none of ['none', 'None', 'NONE']) {
        assert.equal(tokens.info(`${b64({ alg: none, typ: 'JWT' })}.${b64(claims)}.`), undefined, `${alg} vs ${none}`);
      }
    }
  });

  it('refuse HS256 signed with the RSA or EC public key as the secret (key-type confusion)', () => {
    for (const [alg, key] of [['RS256', keys.rsa], ['ES256', keys.ec256], ['EdDSA', keys.ed]] as Array<[string, Pair]>) {
      const tokens = provider(alg, key);
      const header = b64({ alg: 'HS256', typ: 'JWT' });
      const payload = b64(claims);
      for (const secret of [key.publicKey.export({ type: 'spki', format: 'pem' }), key.publicKey.export({ type: 'spki', format: 'der' })]) {
        const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        assert.equal(tokens.info(`${header}.${payload}.${mac}`), undefined, alg);
      }
    }
  });

  it('refuse a token signed by another key or with another algorithm than configured', async () => {
    const other = pair('ec', { namedCurve: 'prime256v1' });
    const mine = provider('ES256', keys.ec256);
    assert.equal(mine.info(await provider('ES256', other).issue('alice', 1n)), undefined);
    assert.equal(provider('RS256', keys.rsa).info(await provider('PS256', keys.rsa).issue('alice', 1n)), undefined);
    assert.equal(provider('HS256', { priv: secretFile }).info(await provider('HS384', { priv: secretFile }).issue('alice', 1n)), undefined);
  });

  it('with only the public key, verify but refuse to issue (etcd: verify-only key)', async () => {
    const verifier = provider('ES256', { pub: keys.ec256.pub });
    assert.deepEqual(verifier.info(await provider('ES256', keys.ec256).issue('bob', 2n)), { username: 'bob', revision: 2n });
    await assert.rejects(verifier.issue('bob', 2n), VerifyOnlyError);
  });

  const badConfigs: Array<[string, () => Array<[string, string]>, RegExp]> = [
    ['no sign-method', () => [['priv-key', keys.ec256.priv]], /invalid sign-method/],
    ['sign-method none', () => [['sign-method', 'none'], ['priv-key', keys.ec256.priv]], /invalid sign-method/],
    ['no key', () => [['sign-method', 'ES256']], /missing key data/],
    ['an RSA key for ES256', () => [['sign-method', 'ES256'], ['priv-key', keys.rsa.priv]], /needs an EC prime256v1 key/],
    ['a P-384 key for ES256', () => [['sign-method', 'ES256'], ['priv-key', keys.ec384.priv]], /needs an EC prime256v1 key/],
    ['an EC key for RS256', () => [['sign-method', 'RS256'], ['pub-key', keys.ec256.pub]], /needs an RSA key/],
    ['an RSA key for EdDSA', () => [['sign-method', 'EdDSA'], ['priv-key', keys.rsa.priv]], /Ed25519/],
    ['keys that do not match', () => [['sign-method', 'ES256'], ['priv-key', keys.ec256.priv], ['pub-key', pair('ec', { namedCurve: 'prime256v1' }).pub]], /don't match/],
    ['an unknown option', () => [['sign-method', 'ES256'], ['priv-key', keys.ec256.priv], ['signmethod', 'x']], /unknown jwt option/],
    ['a bad ttl', () => [['sign-method', 'ES256'], ['priv-key', keys.ec256.priv], ['ttl', '5 minutes']], /invalid ttl/],
    ['a missing file', () => [['sign-method', 'ES256'], ['priv-key', join(dir, 'nope.pem')]], /priv-key: .*ENOENT/],
    ['a file that is not a key', () => [['sign-method', 'ES256'], ['priv-key', secretFile]], /not a PEM key/],
  ];
  for (const [what, options, message] of badConfigs) {
    it(`refuses to start with ${what}`, () => assert.throws(() => loadJwtOptions(new Map(options())), message));
  }

  it('refuses an RSA key shorter than 2048 bits', () => {
    const weak = pair('rsa', { modulusLength: 1024 });
    assert.throws(() => loadJwtOptions(new Map([['sign-method', 'RS256'], ['priv-key', weak.priv]])), /too short/);
  });
});
