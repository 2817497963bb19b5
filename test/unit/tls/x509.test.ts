import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DerError, readElement, children } from '../../../src/server/tls/der.js';
import { KeyUsage, certificateSerialHex, createCertificate, createCrl, pemBody, revokedSerials, toPem } from '../../../src/server/tls/x509.js';
import { TestPki, hoursFromNow } from '../../support/pki.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

/** OpenSSL's verdict on a certificate: the same library that verifies them in every TLS handshake. */
function opensslVerify(args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync('openssl', ['verify', ...args], { stdio: 'pipe' }).toString() };
  } catch (err) {
    const e = err as { stdout: Buffer; stderr: Buffer };
    return { ok: false, output: `${e.stdout.toString()}${e.stderr.toString()}` };
  }
}

describe('X.509 certificates and CRLs written by our DER encoder', () => {
  after(() => removeTempDirs());

  it('issues certificates that OpenSSL and Node verify against their CA, for EC and RSA keys', () => {
    const pki = new TestPki();
    const ec = pki.issue('ec-user', { hosts: ['127.0.0.1', 'localhost', '::1', 'member-1.example'] });
    const rsa = pki.issue('rsa-user', { rsa: true });
    const verdict = opensslVerify(['-CAfile', pki.caFile, '-purpose', 'sslserver', ec.cert, rsa.cert]);
    assert.ok(verdict.ok, verdict.output);
    const ca = new X509Certificate(execFileSync('cat', [pki.caFile]));
    const leaf = new X509Certificate(execFileSync('cat', [ec.cert]));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.equal(leaf.subject, 'CN=ec-user');
    assert.equal(leaf.subjectAltName, 'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:member-1.example');
    assert.ok(leaf.checkIP('::1') !== undefined && leaf.checkHost('member-1.example') !== undefined);
    assert.ok(ca.ca && !leaf.ca);
  });

  it('writes a self-signed certificate for both client and server use, as etcd\'s auto TLS makes', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const der = createCertificate({
      subject: { organization: 'etcd' }, publicKey, signingKey: privateKey, notBefore: hoursFromNow(0), notAfter: hoursFromNow(24 * 365),
      keyUsage: [KeyUsage.KeyEncipherment, KeyUsage.DigitalSignature], serverAuth: true, clientAuth: true, hosts: ['127.0.0.1'],
    });
    const dir = tempDir('selfsigned-');
    const file = join(dir, 'cert.pem');
    writeFileSync(file, toPem(der, 'CERTIFICATE'));
    for (const purpose of ['sslserver', 'sslclient']) {
      const verdict = opensslVerify(['-CAfile', file, '-purpose', purpose, file]);
      assert.ok(verdict.ok, verdict.output);
    }
    const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text']).toString();
    assert.match(text, /Subject: O = etcd/);
    assert.match(text, /ecdsa-with-SHA512/);
    assert.match(text, /Digital Signature, Key Encipherment/);
  });

  it('refuses an expired certificate and a certificate from another CA', () => {
    const pki = new TestPki();
    const other = new TestPki('other-ca');
    const expired = pki.issue('old', { notBefore: hoursFromNow(-48), notAfter: hoursFromNow(-24) });
    const foreign = other.issue('stranger');
    assert.match(opensslVerify(['-CAfile', pki.caFile, expired.cert]).output, /certificate has expired/);
    assert.match(opensslVerify(['-CAfile', pki.caFile, foreign.cert]).output, /unable to get local issuer certificate/);
  });

  it('writes CRLs that OpenSSL enforces, and reads back the serials they revoke', () => {
    const pki = new TestPki();
    const revoked = pki.issue('revoked', { serial: 0x80n });
    const kept = pki.issue('kept', { serial: 0x81n });
    const crl = pki.crl([0x80n, 0x1234567890abcdefn]);
    assert.match(opensslVerify(['-crl_check', '-CRLfile', crl, '-CAfile', pki.caFile, revoked.cert]).output, /certificate revoked/);
    assert.ok(opensslVerify(['-crl_check', '-CRLfile', crl, '-CAfile', pki.caFile, kept.cert]).ok);
    const pem = execFileSync('cat', [crl]);
    assert.deepEqual([...revokedSerials(pem)].sort(), ['1234567890abcdef', '80']);
    assert.deepEqual([...revokedSerials(pemBody(pem, 'X509 CRL')!)].sort(), ['1234567890abcdef', '80'], 'DER as well as PEM');
    // Node prints serials in upper case, with a leading zero octet when the top bit is set.
    assert.equal(certificateSerialHex(new X509Certificate(execFileSync('cat', [revoked.cert])).serialNumber), '80');
  });

  it('reads a CRL that OpenSSL itself wrote', () => {
    const dir = tempDir('openssl-ca-');
    const sh = (script: string): void => void execFileSync('sh', ['-c', script], { cwd: dir, stdio: 'pipe' });
    sh(`mkdir db && touch db/index && echo 1000 > db/crlnumber
      printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=db/index\\ncrlnumber=db/crlnumber\\ndefault_md=sha256\\ndefault_crl_days=1\\n' > ca.cnf
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=ca
      printf 'R\\t301231235959Z\\t241201000000Z\\t0A1B\\tunknown\\t/CN=gone\\n' >> db/index
      openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out list.crl`);
    assert.deepEqual([...revokedSerials(execFileSync('cat', [join(dir, 'list.crl')]))], ['a1b']);
  });

  it('refuses malformed CRL files with a DerError, whatever their bytes', () => {
    assert.throws(() => revokedSerials(Buffer.from('not a crl')), DerError);
    assert.throws(() => revokedSerials(Buffer.from('-----BEGIN X509 CRL-----\nAAAA')), DerError);
    assert.throws(() => readElement(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])), /length .* beyond the input/);
    assert.throws(() => readElement(Buffer.from([0x30, 0x80, 0x00, 0x00])), /unsupported length form/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        revokedSerials(Buffer.from(bytes));
      } catch (err) {
        assert.ok(err instanceof DerError, String(err));
      }
    }), { numRuns: 2000, seed: 7 });
  });

  it('nests elements no deeper than it allows', () => {
    let nested = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 40; i++) nested = Buffer.concat([Buffer.from([0x30, nested.length]), nested]);
    const top = readElement(nested);
    assert.doesNotThrow(() => children(top, 0));
    assert.throws(() => children(top, 33), /nested too deeply/);
  });

  it('makes a CRL with no revoked certificates that lists none', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = createCrl({ issuer: { name: { commonName: 'ca' }, publicKey }, signingKey: privateKey, thisUpdate: new Date(), nextUpdate: hoursFromNow(1), revoked: [] });
    assert.equal(revokedSerials(der).size, 0);
  });
});
