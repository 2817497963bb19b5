import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyUsage, createCertificate, toPem } from './x509.js';
import { noTls, type TlsInfo } from './tls-info.js';
import type { TlsLogger } from './tls-credentials.js';

/**
 * --auto-tls and --peer-auto-tls: a self-signed certificate for the hosts of
 * the listen URLs, in <data-dir>/fixtures/client or fixtures/peer, as etcd's
 * transport.SelfCert makes it (ECDSA P-521, organisation "etcd", server and
 * client authentication, a random 128-bit serial). An existing pair is
 * reused, as etcd does, unless it has expired: etcd would keep serving an
 * expired one, and every client would then refuse it.
 */
export async function selfSignedTls(dir: string, hosts: string[], validityYears: number, log: TlsLogger): Promise<TlsInfo> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const info: TlsInfo = { ...noTls, certFile, keyFile, selfSigned: true };
  const existing = await readFile(certFile).then((pem) => new X509Certificate(pem), () => undefined);
  if (existing !== undefined && new Date(existing.validTo).getTime() > Date.now()) {
    await readFile(keyFile); // Both must be there; a missing key is an error at start, not later.
    return info;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const now = new Date();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + validityYears);
  const der = createCertificate({
    subject: { organization: 'etcd' },
    publicKey,
    signingKey: privateKey,
    notBefore: now,
    notAfter,
    keyUsage: [KeyUsage.KeyEncipherment, KeyUsage.DigitalSignature],
    serverAuth: true,
    clientAuth: true,
    hosts: hosts.map(hostOf),
  });
  await writeFile(certFile, toPem(der, 'CERTIFICATE'));
  log.info({ path: certFile }, 'created cert file');
  await writeFile(keyFile, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  log.info({ path: keyFile }, 'created key file');
  return info;
}

/** The host of a listen URL's "host:port", as etcd's SelfCert splits it. */
function hostOf(hostPort: string): string {
  const m = /^\[(.*)\](?::\d*)?$/.exec(hostPort);
  if (m !== null) return m[1]!;
  const colon = hostPort.lastIndexOf(':');
  return colon === -1 ? hostPort : hostPort.slice(0, colon);
}
