import { promises as dns } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import { Server as TlsServer, checkServerIdentity, type DetailedPeerCertificate, type PeerCertificate, type TLSSocket } from 'node:tls';
import { certificateSerialHex } from './x509.js';
import { requiresClientCertificate } from './tls-info.js';
import type { TlsCredentials, TlsLogger } from './tls-credentials.js';
import { RateLimitedLog } from '../listen/rate-limited-log.js';
import { tlsHandshakeTimeoutMs } from '../listen/limits.js';

/**
 * The server side of TLS for one listener role (client port or peer port):
 * takes accepted sockets, runs the handshake with the current credentials
 * (ALPN "h2" for gRPC, "http/1.1" for the HTTP endpoints on the same port),
 * then applies etcd's checks that a handshake alone does not make, in its
 * order (pkg/transport/listener_tls.go): the CRL, the allowed CN or
 * hostname, and for peers the client certificate's SANs against the address
 * the connection comes from. A connection that fails any of them is closed
 * and logged as etcd logs it ("rejected connection").
 */
export class TlsAcceptor {
  private readonly server: TlsServer;
  private readonly rejections: RateLimitedLog;

  constructor(
    private readonly credentials: TlsCredentials,
    private readonly onSecure: (socket: TLSSocket) => void,
    log: TlsLogger,
  ) {
    const verify = requiresClientCertificate(credentials.info);
    this.rejections = new RateLimitedLog(log);
    this.server = new TlsServer({
      ...credentials.contextOptions,
      requestCert: verify,
      rejectUnauthorized: verify,
      // The server's order decides: a client offering both (curl, browsers, HTTP libraries) gets
      // HTTP/1.1 for the HTTP endpoints, and gRPC clients, which offer only "h2", get HTTP/2.
      ALPNProtocols: ['http/1.1', 'h2'],
      handshakeTimeout: tlsHandshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket: TLSSocket) => void this.checkAndHandOver(socket));
    this.server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.reject(socket, err.message);
    });
  }

  /** Starts TLS on an accepted socket (bytes already read may have been put back with unshift). */
  accept(socket: Socket): void {
    socket.pause();
    this.credentials.refresh().then(
      (changed) => {
        if (changed) this.server.setSecureContext(this.credentials.contextOptions);
        if (socket.destroyed) return;
        this.server.emit('connection', socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  }

  private async checkAndHandOver(socket: TLSSocket): Promise<void> {
    socket.pause();
    let refusal: string | undefined;
    try {
      refusal = await this.refusalOf(socket);
    } catch (err) {
      refusal = err instanceof Error ? err.message : String(err);
    }
    if (refusal !== undefined) {
      this.reject(socket, refusal);
      return;
    }
    if (socket.destroyed) return;
    this.onSecure(socket);
  }

  /** Why etcd's post-handshake checks refuse this connection, or undefined. */
  private async refusalOf(socket: TLSSocket): Promise<string | undefined> {
    const info = this.credentials.info;
    if (!socket.authorized) return undefined; // No verified certificate: nothing more to check (one was not required).
    const chain = socket.getPeerCertificate(true);
    if (Object.keys(chain).length === 0) return undefined;
    const revoked = this.credentials.revoked;
    if (revoked !== undefined) {
      for (const cert of certificateChain(chain)) {
        const serial = certificateSerialHex(cert.serialNumber);
        if (revoked.has(serial)) return `transport: certificate serial ${serial} revoked`;
      }
    }
    if (info.allowedCn !== '' && chain.subject?.CN !== info.allowedCn) return 'client certificate authentication failed';
    if (info.allowedHostname !== '' && checkServerIdentity(info.allowedHostname, chain) !== undefined) return 'client certificate authentication failed';
    if (info.checkClientSan) return sanRefusal(chain, socket.remoteAddress ?? '');
    return undefined;
  }

  private reject(socket: TLSSocket, error: string): void {
    const cert = socket.getPeerCertificate?.();
    const fields: Record<string, unknown> = {
      'remote-addr': `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`,
      'server-name': (socket as TLSSocket & { servername?: string | false }).servername || '',
    };
    if (cert !== undefined && cert !== null && Object.keys(cert).length > 0) {
      const { ips, dns: names } = sansOf(cert);
      fields['ip-addresses'] = ips;
      fields['dns-names'] = names;
    }
    fields.error = error;
    this.rejections.warn(fields, 'rejected connection');
    socket.destroy();
  }
}

function* certificateChain(leaf: DetailedPeerCertificate): Generator<PeerCertificate> {
  const seen = new Set<PeerCertificate>();
  for (let cert: DetailedPeerCertificate | undefined = leaf; cert !== undefined && !seen.has(cert); cert = cert.issuerCertificate) {
    seen.add(cert);
    yield cert;
  }
}

/** The IP and DNS subject alternative names of a certificate as Node reports them ("IP Address:1.2.3.4, DNS:x"). */
export function sansOf(cert: PeerCertificate): { ips: string[]; dns: string[] } {
  const ips: string[] = [];
  const names: string[] = [];
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    if (part.startsWith('IP Address:')) ips.push(part.slice('IP Address:'.length));
    else if (part.startsWith('DNS:')) names.push(part.slice('DNS:'.length));
  }
  return { ips, dns: names };
}

/**
 * etcd's checkCertSAN for peer connections: a client certificate with SANs
 * must name the address it connects from, by IP or by a DNS name that
 * resolves to it (forward lookup only: a reverse lookup needs a DNS server
 * a cluster may not have).
 */
async function sanRefusal(cert: PeerCertificate, remoteAddress: string): Promise<string | undefined> {
  const { ips, dns: names } = sansOf(cert);
  if (ips.length === 0 && names.length === 0) return undefined;
  const host = remoteAddress.startsWith('::ffff:') && isIP(remoteAddress.slice(7)) === 4 ? remoteAddress.slice(7) : remoteAddress;
  if (ips.some((ip) => sameAddress(ip, host))) return undefined;
  if (names.length === 0) return `x509: certificate is valid for ${ips.join(', ')}, not ${host}`;
  for (const name of names.filter((n) => !n.startsWith('*.'))) {
    try {
      const addresses = await dns.lookup(name, { all: true });
      if (addresses.some((a) => sameAddress(a.address, host))) return undefined;
    } catch {
      // An unresolvable name simply does not match.
    }
  }
  return `tls: "${host}" does not match any of DNSNames ${JSON.stringify(names)}`;
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  // Node prints IPv6 SANs expanded (0:0:0:0:0:0:0:1); compare them in a canonical form.
  return isIP(a) === 6 && isIP(b) === 6 && canonicalIpv6(a) === canonicalIpv6(b);
}

function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname;
}
