import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  Tag, DerError, bitString, booleanValue, children, contextTag, expectTag, integer, integerHex, nullValue,
  octetString, oid, readElement, sequence, set, time, utf8String,
} from './der.js';

/**
 * X.509 v3 certificates and v2 CRLs (RFC 5280), written with node:crypto
 * doing the keys and signatures: what --auto-tls and --peer-auto-tls need
 * (a self-signed certificate, as etcd's transport.SelfCert makes), what a
 * local TLS cluster needs (a CA and certificates it signs), and what tests
 * need (expired, foreign-CA and revoked certificates, CRLs). Node can parse
 * certificates (crypto.X509Certificate) but not make them.
 */

const oids = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlNumber: '2.5.29.20',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  ed25519: '1.3.101.112',
};

export interface DistinguishedName {
  commonName?: string;
  organization?: string;
}

/** Key usage bits (RFC 5280 §4.2.1.3), in the bit order of the BIT STRING. */
export const enum KeyUsage {
  DigitalSignature = 0,
  KeyEncipherment = 2,
  KeyCertSign = 5,
  CrlSign = 6,
}

export interface CertificateSpec {
  subject: DistinguishedName;
  /** The subject's public key. */
  publicKey: KeyObject;
  /** The key that signs: the subject's own private key for a self-signed certificate, else the issuer's. */
  signingKey: KeyObject;
  /** The issuer's name and public key; the subject's own when absent (self-signed). */
  issuer?: { name: DistinguishedName; publicKey: KeyObject };
  /** Random 128-bit serial when absent (as etcd's SelfCert). */
  serial?: bigint;
  notBefore: Date;
  notAfter: Date;
  isCa?: boolean;
  keyUsage?: KeyUsage[];
  serverAuth?: boolean;
  clientAuth?: boolean;
  /** Subject alternative names: IP addresses go in as iPAddress, anything else as dNSName. */
  hosts?: string[];
}

/** A DER certificate made to `spec`. */
export function createCertificate(spec: CertificateSpec): Buffer {
  const serial = spec.serial ?? randomSerial();
  const issuerName = spec.issuer?.name ?? spec.subject;
  const issuerKey = spec.issuer?.publicKey ?? spec.publicKey;
  const algorithm = signatureAlgorithm(spec.signingKey);
  const extensions = [
    extension(oids.basicConstraints, true, sequence(...(spec.isCa === true ? [booleanValue(true)] : []))),
    extension(oids.subjectKeyIdentifier, false, octetString(keyIdentifier(spec.publicKey))),
    extension(oids.authorityKeyIdentifier, false, sequence(contextTag(0, keyIdentifier(issuerKey), true))),
  ];
  if (spec.keyUsage !== undefined && spec.keyUsage.length > 0) extensions.push(extension(oids.keyUsage, true, keyUsageBits(spec.keyUsage)));
  const purposes = [...(spec.serverAuth === true ? [oids.serverAuth] : []), ...(spec.clientAuth === true ? [oids.clientAuth] : [])];
  if (purposes.length > 0) extensions.push(extension(oids.extKeyUsage, false, sequence(...purposes.map(oid))));
  if (spec.hosts !== undefined && spec.hosts.length > 0) extensions.push(extension(oids.subjectAltName, false, subjectAltNames(spec.hosts)));
  const tbs = sequence(
    contextTag(0, integer(2n)), // v3
    integer(serial),
    algorithm.identifier,
    name(issuerName),
    sequence(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    contextTag(3, sequence(...extensions)),
  );
  return sequence(tbs, algorithm.identifier, bitString(sign(algorithm.hash, tbs, spec.signingKey)));
}

export interface CrlSpec {
  issuer: { name: DistinguishedName; publicKey: KeyObject };
  signingKey: KeyObject;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: { serial: bigint; date: Date }[];
  crlNumber?: bigint;
}

/** A DER v2 CRL. */
export function createCrl(spec: CrlSpec): Buffer {
  const algorithm = signatureAlgorithm(spec.signingKey);
  const entries = spec.revoked.map((r) => sequence(integer(r.serial), time(r.date)));
  const tbs = sequence(
    integer(1n), // v2
    algorithm.identifier,
    name(spec.issuer.name),
    time(spec.thisUpdate),
    time(spec.nextUpdate),
    ...(entries.length > 0 ? [sequence(...entries)] : []),
    contextTag(0, sequence(
      extension(oids.authorityKeyIdentifier, false, sequence(contextTag(0, keyIdentifier(spec.issuer.publicKey), true))),
      extension(oids.crlNumber, false, integer(spec.crlNumber ?? 1n)),
    )),
  );
  return sequence(tbs, algorithm.identifier, bitString(sign(algorithm.hash, tbs, spec.signingKey)));
}

/**
 * The serial numbers a CRL revokes (lower-case hex, no leading zeros, as
 * certificateSerialHex gives them). The signature and dates are not checked,
 * as etcd's checkCRL does not check them: the file is the operator's word.
 * Takes DER or PEM ("X509 CRL"); throws DerError on anything malformed.
 */
export function revokedSerials(file: Buffer): Set<string> {
  const der = pemBody(file, 'X509 CRL') ?? file;
  const certList = expectTag(readElement(der), Tag.Sequence, 'CertificateList');
  const tbs = expectTag(children(certList)[0], Tag.Sequence, 'TBSCertList');
  const fields = children(tbs, 1);
  let i = 0;
  if (fields[i]?.tag === Tag.Integer) i++; // version, v2 only
  expectTag(fields[i++], Tag.Sequence, 'signature algorithm');
  expectTag(fields[i++], Tag.Sequence, 'issuer');
  i++; // thisUpdate
  if (fields[i]?.tag === Tag.UtcTime || fields[i]?.tag === Tag.GeneralizedTime) i++; // nextUpdate, optional
  const serials = new Set<string>();
  const list = fields[i];
  if (list === undefined || list.tag !== Tag.Sequence) return serials;
  for (const entry of children(list, 2)) {
    const [serial] = children(expectTag(entry, Tag.Sequence, 'revoked certificate'), 3);
    serials.add(integerHex(expectTag(serial, Tag.Integer, 'revoked serial')));
  }
  return serials;
}

/** Node's X509Certificate.serialNumber / getPeerCertificate().serialNumber in revokedSerials' form. */
export function certificateSerialHex(serialNumber: string): string {
  return serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The DER body of the first PEM block of `label` in `file`, or undefined if it holds none. */
export function pemBody(file: Buffer, label: string): Buffer | undefined {
  const text = file.toString('latin1');
  const begin = `-----BEGIN ${label}-----`;
  const start = text.indexOf(begin);
  if (start === -1) return undefined;
  const end = text.indexOf(`-----END ${label}-----`, start);
  if (end === -1) throw new DerError(`PEM block ${label} without its END line`);
  return Buffer.from(text.slice(start + begin.length, end).replace(/\s+/g, ''), 'base64');
}

export function toPem(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------

function randomSerial(): bigint {
  // 128 random bits, as etcd's SelfCert; positive as RFC 5280 requires (the top bit of the INTEGER is cleared by integer()'s 0x00 octet).
  return BigInt(`0x${randomBytes(16).toString('hex')}`) || 1n;
}

function name(dn: DistinguishedName): Buffer {
  const rdns: Buffer[] = [];
  if (dn.organization !== undefined) rdns.push(set(sequence(oid(oids.organization), utf8String(dn.organization))));
  if (dn.commonName !== undefined) rdns.push(set(sequence(oid(oids.commonName), utf8String(dn.commonName))));
  return sequence(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [booleanValue(true)] : []), octetString(value));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = readElement(publicKey.export({ type: 'spki', format: 'der' }));
  const bits = expectTag(children(spki)[1], Tag.BitString, 'subjectPublicKey');
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

/** A KeyUsage BIT STRING: DER drops trailing zero bits and counts the unused ones. */
function keyUsageBits(usages: KeyUsage[]): Buffer {
  const highest = Math.max(...usages);
  const octets = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of usages) octets[Math.floor(bit / 8)]! |= 0x80 >> (bit % 8);
  const unused = 7 - (highest % 8);
  return Buffer.concat([Buffer.from([0x03, octets.length + 1, unused]), octets]);
}

function subjectAltNames(hosts: string[]): Buffer {
  return sequence(...hosts.map((host) => {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare) === 4) return contextTag(7, Buffer.from(bare.split('.').map(Number)), true);
    if (isIP(bare) === 6) return contextTag(7, ipv6Bytes(bare), true);
    return contextTag(2, Buffer.from(bare, 'latin1'), true);
  }));
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  const back = parse(tail);
  const groups = tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

function signatureAlgorithm(key: KeyObject): { identifier: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      // The hash follows the curve's strength, as Go's x509 picks it.
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'secp521r1') return { identifier: sequence(oid(oids.ecdsaWithSha512)), hash: 'sha512' };
      if (curve === 'secp384r1') return { identifier: sequence(oid(oids.ecdsaWithSha384)), hash: 'sha384' };
      return { identifier: sequence(oid(oids.ecdsaWithSha256)), hash: 'sha256' };
    }
    case 'rsa':
      return { identifier: sequence(oid(oids.sha256WithRsa), nullValue()), hash: 'sha256' };
    case 'ed25519':
      return { identifier: sequence(oid(oids.ed25519)), hash: null };
    default:
      throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType} key`);
  }
}
