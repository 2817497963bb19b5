import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyUsage, createCertificate, createCrl, toPem, type DistinguishedName } from '../../src/server/tls/x509.js';
import { tempDir } from './procs.js';

/**
 * A certificate authority for tests, writing PEM files into a temporary
 * directory: the CA itself, certificates it issues (valid, expired, for
 * other hosts, with a chosen serial) and CRLs. Certificates are ECDSA P-256
 * unless a test asks for RSA.
 */
export class TestPki {
  readonly dir: string;
  readonly caFile: string;
  private readonly key: { publicKey: KeyObject; privateKey: KeyObject };
  private readonly name: DistinguishedName;
  private nextSerial = 100n;

  constructor(readonly label = 'etcdts-test-ca', dir?: string) {
    this.dir = dir ?? tempDir('pki-');
    this.key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.name = { commonName: label };
    this.caFile = join(this.dir, `${label}.crt`);
    const der = createCertificate({
      subject: this.name, publicKey: this.key.publicKey, signingKey: this.key.privateKey,
      notBefore: hoursFromNow(-1), notAfter: hoursFromNow(48), isCa: true, keyUsage: [KeyUsage.KeyCertSign, KeyUsage.CrlSign, KeyUsage.DigitalSignature],
    });
    writeFileSync(this.caFile, toPem(der, 'CERTIFICATE'));
  }

  /** Issues a certificate for `commonName` (server and client use), valid for loopback unless hosts say otherwise. */
  issue(commonName: string, o: { hosts?: string[]; notBefore?: Date; notAfter?: Date; serial?: bigint; rsa?: boolean; file?: string } = {}): IssuedCertificate {
    const key = o.rsa === true ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const serial = o.serial ?? this.nextSerial++;
    const der = createCertificate({
      subject: { commonName }, publicKey: key.publicKey, signingKey: this.key.privateKey, issuer: { name: this.name, publicKey: this.key.publicKey },
      serial, notBefore: o.notBefore ?? hoursFromNow(-1), notAfter: o.notAfter ?? hoursFromNow(48),
      keyUsage: [KeyUsage.DigitalSignature, KeyUsage.KeyEncipherment], serverAuth: true, clientAuth: true, hosts: o.hosts ?? ['127.0.0.1', 'localhost'],
    });
    const base = join(this.dir, o.file ?? `${commonName}-${serial}`);
    const cert = `${base}.crt`;
    const keyFile = `${base}.key`;
    writeFileSync(cert, toPem(der, 'CERTIFICATE'));
    writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return { cert, key: keyFile, serial, commonName };
  }

  /** A CRL revoking `serials`, written as PEM. */
  crl(serials: bigint[], file = 'revoked.crl'): string {
    const der = createCrl({
      issuer: { name: this.name, publicKey: this.key.publicKey }, signingKey: this.key.privateKey,
      thisUpdate: hoursFromNow(-1), nextUpdate: hoursFromNow(48), revoked: serials.map((serial) => ({ serial, date: hoursFromNow(-1) })),
    });
    const path = join(this.dir, file);
    writeFileSync(path, toPem(der, 'X509 CRL'));
    return path;
  }
}

export interface IssuedCertificate {
  cert: string;
  key: string;
  serial: bigint;
  commonName: string;
}

export function hoursFromNow(hours: number): Date {
  return new Date(Date.now() + hours * 3600_000);
}
