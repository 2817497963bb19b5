import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KeyUsage, createCertificate, toPem } from '../../server/tls/x509.js';
import type { TlsPaths } from './layout.js';

/**
 * The certificates of a `cluster up --tls` cluster, made with our own X.509
 * writer (no openssl): a CA for this cluster only, a server certificate for
 * the client ports, a peer certificate (CN etcd-peer) for the peer ports,
 * both valid for 127.0.0.1 and localhost, and a client certificate (CN root)
 * for etcdctl and etcdts, since the members require client certificates.
 * ECDSA P-256 keys; private keys are written 0600.
 */
export const clusterCertValidityDays = 365;
const loopbackHosts = ['127.0.0.1', 'localhost'];

export async function makeClusterCertificates(paths: TlsPaths): Promise<void> {
  await mkdir(dirname(paths.ca), { recursive: true, mode: 0o700 });
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + clusterCertValidityDays * 86400_000);
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = { commonName: 'etcdts cluster CA' };
  const caCert = createCertificate({
    subject: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, notBefore, notAfter, isCa: true,
    keyUsage: [KeyUsage.KeyCertSign, KeyUsage.CrlSign, KeyUsage.DigitalSignature],
  });
  await writeFile(paths.ca, toPem(caCert, 'CERTIFICATE'));
  const issue = async (commonName: string, cert: string, key: string): Promise<void> => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = createCertificate({
      subject: { commonName }, publicKey: pair.publicKey, signingKey: ca.privateKey, issuer: { name: caName, publicKey: ca.publicKey },
      notBefore, notAfter, keyUsage: [KeyUsage.DigitalSignature, KeyUsage.KeyEncipherment], serverAuth: true, clientAuth: true, hosts: loopbackHosts,
    });
    await writeFile(cert, toPem(der, 'CERTIFICATE'));
    await writeFile(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  };
  await issue('etcd-server', paths.serverCert, paths.serverKey);
  await issue('etcd-peer', paths.peerCert, paths.peerKey);
  await issue('root', paths.clientCert, paths.clientKey);
}
