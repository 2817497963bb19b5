/**
 * What a member's TLS flags say, for one side (client port or peer port):
 * etcd's transport.TLSInfo (pkg/transport/listener.go) with its rules, plus
 * the protocol settings both sides share (--cipher-suites, --tls-min-version,
 * --tls-max-version). Pure data and validation; the files are read by
 * tls-credentials.ts.
 */
export interface TlsInfo {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
  /** --client-cert-auth / --peer-client-cert-auth. */
  clientCertAuth: boolean;
  /** --client-crl-file / --peer-crl-file: serials revoked, checked after each handshake as etcd does. */
  crlFile: string;
  /** --peer-cert-allowed-cn: the CN a verified client certificate must carry. */
  allowedCn: string;
  /** --peer-cert-allowed-hostname / --client-cert-allowed-hostname: a name or IP a verified client certificate must be valid for. */
  allowedHostname: string;
  /**
   * Peers only: etcd checks that a client certificate's SANs name the address
   * the connection comes from (checkSAN), unless
   * --experimental-peer-skip-client-san-verification.
   */
  checkClientSan: boolean;
  /** Made by --auto-tls / --peer-auto-tls: whoever dials it cannot verify it (etcd's selfCert → InsecureSkipVerify). */
  selfSigned: boolean;
}

export interface TlsProtocol {
  /** OpenSSL cipher list for TLS 1.2, from --cipher-suites (Go names); undefined for Node's default. */
  ciphers?: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
}

export const noTls: TlsInfo = {
  certFile: '', keyFile: '', trustedCaFile: '', clientCertAuth: false, crlFile: '', allowedCn: '', allowedHostname: '', checkClientSan: false, selfSigned: false,
};

/** etcd's TLSInfo.Empty(): no TLS unless a certificate and key are given. */
export function tlsInfoEmpty(info: TlsInfo): boolean {
  return info.certFile === '' && info.keyFile === '';
}

/**
 * etcd's ServerConfig: a client certificate is required (and verified)
 * when --client-cert-auth is set or a trusted CA file is given.
 */
export function requiresClientCertificate(info: TlsInfo): boolean {
  return info.clientCertAuth || info.trustedCaFile !== '';
}

/** A URL whose scheme asks for TLS. */
export function isSecureScheme(url: URL): boolean {
  return url.protocol === 'https:' || url.protocol === 'unixs:';
}

/** etcd's TLSInfo.String(), as it logs it at start. */
export function describeTlsInfo(info: TlsInfo): string {
  return `cert = ${info.certFile}, key = ${info.keyFile}, trusted-ca = ${info.trustedCaFile}, client-cert-auth = ${info.clientCertAuth}, crl-file = ${info.crlFile}`;
}

/**
 * Go's names for the cipher suites its crypto/tls knows (tls.CipherSuites()
 * and tls.InsecureCipherSuites(), plus etcd's two CHACHA20 aliases), mapped to
 * OpenSSL's. The TLS 1.3 suites are accepted and, as in Go, not configurable:
 * every TLS 1.3 connection may use any of them.
 */
const goToOpenSsl: Record<string, string | null> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};

export class TlsConfigError extends Error {}

/** --cipher-suites to an OpenSSL cipher list; etcd's error for a name Go does not know. */
export function cipherListOf(goNames: string[]): string | undefined {
  if (goNames.length === 0) return undefined;
  const openSsl: string[] = [];
  for (const name of goNames) {
    const mapped = goToOpenSsl[name];
    if (mapped === undefined) throw new TlsConfigError(`unexpected TLS cipher suite "${name}"`);
    if (mapped !== null) openSsl.push(mapped);
  }
  // Only TLS 1.3 names: nothing to restrict for TLS 1.2, whose default list then stays.
  return openSsl.length > 0 ? openSsl.join(':') : undefined;
}

/** etcd 3.5's --tls-min-version / --tls-max-version values, as Node names them; empty means the default. */
export function tlsVersionOf(flag: string, value: string): 'TLSv1.2' | 'TLSv1.3' | undefined {
  switch (value) {
    case '':
      return undefined;
    case 'TLS1.2':
      return 'TLSv1.2';
    case 'TLS1.3':
      return 'TLSv1.3';
    case 'TLS1.0':
    case 'TLS1.1':
      // OpenSSL 3's default security level refuses them: a member could never honour the flag.
      throw new TlsConfigError(`--${flag} ${value} is not supported: this build's TLS refuses versions below TLS1.2`);
    default:
      throw new TlsConfigError(`unexpected TLS version "${value}" (supported versions: TLS1.2 and TLS1.3)`);
  }
}

/** The protocol settings, checked together as etcd 3.5 checks them. */
export function buildTlsProtocol(cipherSuites: string[], minVersionFlag: string, maxVersionFlag: string): TlsProtocol {
  const ciphers = cipherListOf(cipherSuites);
  const minVersion = tlsVersionOf('tls-min-version', minVersionFlag) ?? 'TLSv1.2';
  const maxVersion = tlsVersionOf('tls-max-version', maxVersionFlag) ?? 'TLSv1.3';
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
    throw new TlsConfigError(`min version (${minVersionFlag}) is greater than max version (${maxVersionFlag})`);
  }
  if (cipherSuites.length > 0 && minVersion === 'TLSv1.3') {
    throw new TlsConfigError('cipher suites cannot be configured when only TLS1.3 is enabled');
  }
  return { ciphers, minVersion, maxVersion };
}
