import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { urlText, type ServerConfig } from '../etcdserver/config.js';
import { selfSignedTls } from './auto-tls.js';
import { TlsCredentials, type TlsLogger } from './tls-credentials.js';
import { describeTlsInfo, isSecureScheme, tlsInfoEmpty, type TlsInfo } from './tls-info.js';

/** How often the dialling side looks for rotated certificate files (the listening side looks on every connection). */
const dialCredentialsRefreshMs = 10_000;

/**
 * A member's TLS, both sides: the credentials its client and peer listeners
 * serve with, and the channel credentials it dials with (to its peers, and to
 * other members' client ports when it forwards a call). Dialling presents
 * the same certificate the member serves with, as etcd does.
 */
export class MemberTls {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly client: TlsCredentials | undefined,
    readonly peer: TlsCredentials | undefined,
    readonly clientInfo: TlsInfo,
    readonly peerInfo: TlsInfo,
  ) {}

  /**
   * Makes the self-signed certificates asked for, reads every file, and
   * logs what etcd logs at start and the URLs on which it ignores TLS flags.
   */
  static async setUp(config: ServerConfig, log: TlsLogger): Promise<MemberTls> {
    let clientInfo = config.clientTls;
    let peerInfo = config.peerTls;
    warnIgnored(log, 'client', config.listenClientUrls, clientInfo, '--client-cert-auth');
    warnIgnored(log, 'peer', config.listenPeerUrls, peerInfo, '--peer-client-cert-auth');
    if (config.clientAutoTls || config.peerAutoTls) await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    if (config.clientAutoTls && !tlsInfoEmpty(clientInfo)) log.warn({}, 'ignoring client auto TLS since certs given');
    else if (config.clientAutoTls) {
      const made = await selfSignedTls(join(config.dataDir, 'fixtures', 'client'), config.listenClientUrls.map((u) => u.host), config.selfSignedCertValidityYears, log);
      clientInfo = { ...clientInfo, ...pick(made) };
    }
    if (config.peerAutoTls && !tlsInfoEmpty(peerInfo)) log.warn({}, 'ignoring peer auto TLS since certs given');
    else if (config.peerAutoTls) {
      const made = await selfSignedTls(join(config.dataDir, 'fixtures', 'peer'), config.listenPeerUrls.map((u) => u.host), config.selfSignedCertValidityYears, log);
      peerInfo = { ...peerInfo, ...pick(made) };
    }
    const client = tlsInfoEmpty(clientInfo) ? undefined : await TlsCredentials.load(clientInfo, config.tlsProtocol, 'client', log);
    const peer = tlsInfoEmpty(peerInfo) ? undefined : await TlsCredentials.load(peerInfo, config.tlsProtocol, 'peer', log);
    if (client !== undefined) log.info({ 'tls-info': describeTlsInfo(clientInfo), 'cipher-suites': config.tlsProtocol.ciphers ?? '' }, 'starting with client TLS');
    if (peer !== undefined) log.info({ 'tls-info': describeTlsInfo(peerInfo), 'cipher-suites': config.tlsProtocol.ciphers ?? '' }, 'starting with peer TLS');
    const tls = new MemberTls(client, peer, clientInfo, peerInfo);
    if (client !== undefined || peer !== undefined) {
      tls.timer = setInterval(() => {
        void client?.refresh();
        void peer?.refresh();
      }, dialCredentialsRefreshMs);
      tls.timer.unref();
    }
    return tls;
  }

  /** Credentials to dial an https:// peer URL: our peer certificate as the client certificate, the peer CA to verify. */
  peerChannelCredentials(): ChannelCredentials {
    return channelCredentialsOf(this.peer, this.peerInfo);
  }

  /** Credentials to dial a member's https:// client URL. */
  clientChannelCredentials(): ChannelCredentials {
    return channelCredentialsOf(this.client, this.clientInfo);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function channelCredentialsOf(credentials: TlsCredentials | undefined, info: TlsInfo): ChannelCredentials {
  // No certificate of our own: verify servers against the system roots, present none.
  if (credentials === undefined) return grpcCredentials.createSsl();
  // A self-signed certificate cannot be verified by whoever dials it (etcd's selfCert sets InsecureSkipVerify).
  return grpcCredentials.createFromSecureContext(credentials.secureContext, info.selfSigned ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {});
}

function pick(made: TlsInfo): Pick<TlsInfo, 'certFile' | 'keyFile' | 'selfSigned'> {
  return { certFile: made.certFile, keyFile: made.keyFile, selfSigned: made.selfSigned };
}

/** etcd's warnings for plaintext URLs next to TLS flags: the URL's scheme wins, and the operator is told. */
function warnIgnored(log: TlsLogger, side: 'client' | 'peer', urls: URL[], info: TlsInfo, certAuthFlag: string): void {
  for (const url of urls) {
    if (isSecureScheme(url)) continue;
    const field = side === 'client' ? 'client-url' : 'peer-url';
    const text = urlText(url);
    if (!tlsInfoEmpty(info)) log.warn({ [field]: text }, 'scheme is HTTP while key and cert files are present; ignoring key and cert files');
    if (info.clientCertAuth) log.warn({ [field]: text }, `scheme is HTTP while ${certAuthFlag} is enabled; ignoring client cert auth for this URL`);
  }
}
