import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { revokedSerials } from './x509.js';
import type { TlsInfo, TlsProtocol } from './tls-info.js';

/** Where a reload problem is reported (the member's logger). */
export interface TlsLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** The files one TLS side reads, their contents at the last good load, and what was made of them. */
interface Loaded {
  /** stat signature of every file, in files() order, at the time they were read. */
  signature: string;
  options: SecureContextOptions;
  context: SecureContext;
  /** Serials revoked by the CRL file, if one is configured. */
  revoked: Set<string> | undefined;
}

/**
 * The certificate, key, trusted CAs and CRL of one TLS side, re-read when
 * their files change, so that rotated certificates reach new connections
 * without a restart. etcd re-reads the certificate and key on every
 * handshake and the CRL on every connection, but never the CA bundle
 * (etcd#11555); here all four are watched, by a stat of each file before a
 * connection is handed to TLS (refresh()), and read again only when a stat
 * changed. A set of files that does not load (a half-written rotation, a
 * key that does not match its certificate) keeps the previous one in use and
 * is logged; the next change is tried again.
 */
export class TlsCredentials {
  private loaded: Loaded;
  /** Signature of the last set of files tried, good or bad: a bad set is not retried until it changes. */
  private triedSignature: string;
  private refreshing: Promise<void> | undefined;

  private constructor(
    readonly info: TlsInfo,
    private readonly protocol: TlsProtocol,
    private readonly side: 'client' | 'peer',
    private readonly log: TlsLogger,
    loaded: Loaded,
  ) {
    this.loaded = loaded;
    this.triedSignature = loaded.signature;
  }

  /** Reads the files once; a member whose TLS files do not load does not start. */
  static async load(info: TlsInfo, protocol: TlsProtocol, side: 'client' | 'peer', log: TlsLogger): Promise<TlsCredentials> {
    const files = filesOf(info);
    const signature = await signatureOf(files);
    try {
      return new TlsCredentials(info, protocol, side, log, await read(info, protocol, signature));
    } catch (err) {
      throw new Error(`${side} TLS: ${messageOf(err)}`);
    }
  }

  get secureContext(): SecureContext {
    return this.loaded.context;
  }

  /** The options the current context was made from (certificate, key, CAs, ciphers, versions). */
  get contextOptions(): SecureContextOptions {
    return this.loaded.options;
  }

  /** The serials the CRL revokes, as of the last good load; undefined without --*-crl-file. */
  get revoked(): Set<string> | undefined {
    return this.loaded.revoked;
  }

  /**
   * Re-reads the files if any changed since they were last tried. Resolves
   * true when a new context took effect. Concurrent callers share one check.
   */
  refresh(): Promise<boolean> {
    if (this.refreshing !== undefined) return this.refreshing.then(() => false);
    const attempt = this.reloadIfChanged().finally(() => {
      this.refreshing = undefined;
    });
    this.refreshing = attempt.then(() => undefined);
    return attempt;
  }

  private async reloadIfChanged(): Promise<boolean> {
    let signature: string;
    try {
      signature = await signatureOf(filesOf(this.info));
    } catch (err) {
      // A file missing for a moment during rotation: keep serving with what we have.
      if (this.triedSignature !== 'missing') this.log.warn({ side: this.side, error: messageOf(err) }, 'cannot read TLS files; keeping the loaded certificate');
      this.triedSignature = 'missing';
      return false;
    }
    if (signature === this.triedSignature) return false;
    this.triedSignature = signature;
    try {
      this.loaded = await read(this.info, this.protocol, signature);
    } catch (err) {
      this.log.warn({ side: this.side, 'cert-file': this.info.certFile, 'key-file': this.info.keyFile, error: messageOf(err) },
        'failed to reload TLS files; keeping the previous certificate');
      return false;
    }
    this.log.info({ side: this.side, 'cert-file': this.info.certFile }, 'reloaded TLS certificate');
    return true;
  }
}

function filesOf(info: TlsInfo): string[] {
  return [info.certFile, info.keyFile, info.trustedCaFile, info.crlFile].filter((f) => f !== '');
}

/** Size, modification time and inode of each file: a rotation by rename changes the inode even within one mtime tick. */
async function signatureOf(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map(async (f) => {
    const s = await stat(f, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  }));
  return parts.join('|');
}

async function read(info: TlsInfo, protocol: TlsProtocol, signature: string): Promise<Loaded> {
  const [cert, key, ca, crl] = await Promise.all([
    readFile(info.certFile),
    readFile(info.keyFile),
    info.trustedCaFile === '' ? undefined : readFile(info.trustedCaFile),
    info.crlFile === '' ? undefined : readFile(info.crlFile),
  ]);
  const options: SecureContextOptions = {
    cert,
    key,
    minVersion: protocol.minVersion,
    maxVersion: protocol.maxVersion,
    ...(ca !== undefined ? { ca } : {}),
    ...(protocol.ciphers !== undefined ? { ciphers: protocol.ciphers, honorCipherOrder: true } : {}),
  };
  // createSecureContext checks that the key matches the certificate and that every PEM parses.
  const context = createSecureContext(options);
  let revoked: Set<string> | undefined;
  if (crl !== undefined) {
    try {
      revoked = revokedSerials(crl);
    } catch (err) {
      throw new Error(`CRL file ${info.crlFile}: ${messageOf(err)}`);
    }
  }
  return { signature, options, context, revoked };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
