import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { BcryptPool } from '../../../src/server/auth/bcrypt.js';
import { InvalidAuthTokenError } from '../../../src/server/auth/errors.js';
import { certificateUser, type CallCredentials } from '../../../src/server/auth/principal.js';
import { SimpleTokenProvider } from '../../../src/server/auth/simple-token.js';
import { AuthStore } from '../../../src/server/auth/store.js';
import { AuthRequests, type AuthHost } from '../../../src/server/etcdserver/auth-requests.js';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

/** A call as our gRPC server presents it: metadata, and the certificate the TLS handshake verified (if any). */
function call(options: { token?: string; cn?: string | string[] } = {}): CallCredentials {
  const metadata = new Map<string, string[]>(options.token === undefined ? [] : [['token', [options.token]]]);
  return {
    metadata: { get: (key: string) => metadata.get(key) ?? [] },
    getAuthContext: () => (options.cn === undefined ? { } : { sslPeerCertificate: { subject: { CN: options.cn } } as unknown as PeerCertificate }),
  };
}

describe('who a call runs as (token, or the verified certificate\'s CN under --client-cert-auth)', () => {
  const clock = { nowMs: () => 0 };
  const hasher = new BcryptPool();
  after(async () => {
    await hasher.close();
    removeTempDirs();
  });

  function setup(clientCertAuth: boolean): { requests: AuthRequests; tokens: SimpleTokenProvider; store: AuthStore } {
    const tokens = new SimpleTokenProvider(300_000, clock);
    const store = new AuthStore(Backend.open(join(tempDir('principal-'), 'db')), { enabled: (on) => tokens.enabled(on), userInvalidated: (n) => tokens.invalidateUser(n) });
    const host = {
      config: { clientCertAuth, electionTimeoutMs: 100, bcryptCost: 4 },
      committedIndex: 100n,
      appliedWithin: () => Promise.resolve(true),
    } as unknown as AuthHost;
    store.userAdd('root', '$2b$04$x', undefined);
    store.userGrantRole('root', 'root');
    store.userAdd('alice', undefined, { noPassword: true });
    store.enable();
    return { requests: new AuthRequests(host, store, tokens, hasher, clock), tokens, store };
  }

  it('takes the CN of a verified client certificate when the call has no token', async () => {
    const { requests, store } = setup(true);
    assert.deepEqual(await requests.authInfo(call({ cn: 'alice' })), { username: 'alice', revision: store.revision });
    assert.equal(await requests.authInfo(call()), undefined);
  });

  it('ignores certificates without --client-cert-auth', async () => {
    const { requests } = setup(false);
    assert.equal(await requests.authInfo(call({ cn: 'alice' })), undefined);
  });

  it('prefers the token to the certificate, and refuses an invalid token even with a certificate', async () => {
    const { requests, tokens } = setup(true);
    const token = tokens.applyAuthenticate('root', tokens.newPrefix(), 5n);
    assert.equal((await requests.authInfo(call({ token, cn: 'alice' })))?.username, 'root');
    await assert.rejects(requests.authInfo(call({ token: 'forgedforgedforg.5', cn: 'alice' })), InvalidAuthTokenError);
    await assert.rejects(requests.authInfo(call({ token: 'forgedforgedforg.999999999' })), InvalidAuthTokenError);
  });

  it('reads the last CN of a subject with several, as Go does, and no CN as nobody', () => {
    assert.equal(certificateUser(call({ cn: ['first', 'last'] })), 'last');
    assert.equal(certificateUser(call({ cn: '' })), undefined);
    assert.equal(certificateUser({ metadata: { get: () => [] } }), undefined);
  });

  it('lends a certificate user a one-call token for the Lock and Election services, taken back on release', async () => {
    const { requests } = setup(true);
    const delegated = await requests.delegate(call({ cn: 'alice' }));
    assert.ok(delegated.token !== undefined);
    assert.equal((await requests.authInfo(call({ token: delegated.token })))?.username, 'alice');
    delegated.release();
    await assert.rejects(requests.authInfo(call({ token: delegated.token })), InvalidAuthTokenError);
    assert.equal((await requests.delegate(call())).token, undefined);
  });

  it('passes a caller\'s own token on as it is', async () => {
    const { requests, tokens } = setup(true);
    const token = tokens.applyAuthenticate('root', tokens.newPrefix(), 6n);
    assert.equal((await requests.delegate(call({ token }))).token, token);
  });
});
