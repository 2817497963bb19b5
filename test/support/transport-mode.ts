import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { TlsOptions } from '../../src/client/options.js';
import { TestPki, type IssuedCertificate } from './pki.js';

/**
 * Runs a test suite over plaintext and again over TLS. In the TLS pass,
 * clusters started by startCluster serve client and peer traffic over TLS
 * with client certificates required on both ports, and every client a test
 * makes goes over TLS too: RawKv and connect helpers take the credentials
 * from here, and etcdctl and the etcdts CLI take them from the ETCDCTL_CACERT,
 * ETCDCTL_CERT and ETCDCTL_KEY variables set for the pass. The suite itself
 * is written once, against URLs it gets from the cluster.
 */
export interface TlsMode {
  pki: TestPki;
  /** The certificate every member serves with and dials its peers with. */
  member: IssuedCertificate;
  /** The certificate test clients present. */
  client: IssuedCertificate;
}

let current: TlsMode | undefined;

export function tlsMode(): TlsMode | undefined {
  return current;
}

export type Transport = 'plaintext' | 'TLS';

/** Declares `body` twice, in a describe per transport; the TLS one switches TLS mode on around its tests. */
export function overEachTransport(title: string, body: (this: Mocha.Suite, transport: Transport) => void): void {
  for (const transport of ['plaintext', 'TLS'] as const) {
    describe(`${title} (${transport})`, function () {
      if (transport === 'TLS') {
        before(enterTlsMode);
        after(leaveTlsMode);
      }
      body.call(this, transport);
    });
  }
}

const cliVariables = ['ETCDCTL_CACERT', 'ETCDCTL_CERT', 'ETCDCTL_KEY'] as const;

function enterTlsMode(): void {
  const pki = new TestPki();
  current = { pki, member: pki.issue('member'), client: pki.issue('client') };
  process.env.ETCDCTL_CACERT = pki.caFile;
  process.env.ETCDCTL_CERT = current.client.cert;
  process.env.ETCDCTL_KEY = current.client.key;
}

function leaveTlsMode(): void {
  current = undefined;
  for (const name of cliVariables) delete process.env[name];
}

/** "http" or "https", for the URLs a test makes itself. */
export function scheme(): 'http' | 'https' {
  return current === undefined ? 'http' : 'https';
}

/** The server flags of the current mode: TLS on both ports, client certificates required on both. */
export function serverTlsFlags(): string[] {
  if (current === undefined) return [];
  const { pki, member } = current;
  return [
    '--cert-file', member.cert, '--key-file', member.key, '--trusted-ca-file', pki.caFile, '--client-cert-auth',
    '--peer-cert-file', member.cert, '--peer-key-file', member.key, '--peer-trusted-ca-file', pki.caFile, '--peer-client-cert-auth',
  ];
}

/** Client library options of the current mode. */
export function clientTlsOptions(): { tls?: TlsOptions } {
  if (current === undefined) return {};
  return { tls: { ca: readFileSync(current.pki.caFile), cert: readFileSync(current.client.cert), key: readFileSync(current.client.key) } };
}

/** grpc-js credentials for an endpoint: TLS with the client certificate for https:// (or any endpoint in TLS mode). */
export function channelCredentialsFor(endpoint: string): ChannelCredentials {
  const secure = endpoint.startsWith('https://') || (current !== undefined && !endpoint.includes('://'));
  if (!secure) return credentials.createInsecure();
  if (current === undefined) throw new Error(`${endpoint}: TLS endpoint outside TLS mode`);
  return credentials.createSsl(readFileSync(current.pki.caFile), readFileSync(current.client.key), readFileSync(current.client.cert));
}
