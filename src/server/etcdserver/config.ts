import { join } from 'node:path';
import * as limits from '../constants.js';
import { parseGoDurationMs, parseRetention } from './compactor.js';
import { TlsConfigError, buildTlsProtocol, isSecureScheme, tlsInfoEmpty, type TlsInfo, type TlsProtocol } from '../tls/tls-info.js';
import { AuthTokenOptionsError, parseAuthTokenOption } from '../auth/token-provider.js';
import { loadJwtOptions, type JwtOptions } from '../auth/jwt-token.js';

/**
 * A member's configuration: etcd's flag names and meanings (etcd 3.4
 * etcdmain/config.go and embed/config.go), parsed once at startup by
 * `etcdts server` and validated here so a bad flag is a one-line error
 * before anything touches the data dir.
 */
export interface ServerConfig {
  name: string;
  dataDir: string;
  walDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: URL[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: URL[];
  /** name -> peer URLs */
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  snapshotCount: number;
  /** Entries kept in the log after a snapshot, for slow followers (etcd --experimental-snapshot-catchup-entries). */
  snapshotCatchUpEntries: number;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  maxTxnOps: number;
  maxRequestBytes: number;
  quotaBackendBytes: number;
  strictReconfigCheck: boolean;
  forceNewCluster: boolean;
  autoCompactionMode: 'periodic' | 'revision';
  autoCompactionRetention: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';
  /** Interval of progress notifications to watchers that asked for them (etcd --experimental-watch-progress-notify-interval). */
  watchProgressNotifyIntervalMs: number;
  /** Requests slower than this are logged as "apply request took too long" (etcd --experimental-warning-apply-duration, 100ms). */
  warningApplyDurationMs?: number;
  /** Seed for the Raft election PRNG; tests pin it, production draws it from crypto. */
  raftSeed?: bigint;
  /** TLS of the client port (--cert-file, ...) and of the peer port (--peer-cert-file, ...). */
  clientTls: TlsInfo;
  peerTls: TlsInfo;
  /** --auto-tls / --peer-auto-tls: a self-signed certificate made at start, unless a certificate is given. */
  clientAutoTls: boolean;
  peerAutoTls: boolean;
  /** --self-signed-cert-validity, in years. */
  selfSignedCertValidityYears: number;
  /** --cipher-suites, --tls-min-version, --tls-max-version (both sides). */
  tlsProtocol: TlsProtocol;
  /** --max-concurrent-streams: SETTINGS_MAX_CONCURRENT_STREAMS of the client port. */
  maxConcurrentStreams: number;
  /** --grpc-keepalive-min-time, --grpc-keepalive-interval, --grpc-keepalive-timeout (0 disables the last two). */
  grpcKeepaliveMinTimeMs: number;
  grpcKeepaliveIntervalMs: number;
  grpcKeepaliveTimeoutMs: number;

  // ---- authentication (--auth-token, --auth-token-ttl, --bcrypt-cost; --client-cert-auth) ----
  /** How tokens are made: simple, or JWT with its keys (read and checked at startup). */
  authToken: AuthTokenConfig;
  /** Lifetime of a simple token since its last use. */
  authTokenTtlSeconds: number;
  bcryptCost: number;
  /** A verified client certificate's CN is the user of a request that carries no token (etcd --client-cert-auth). */
  clientCertAuth: boolean;
}

/** The TLS flags as etcd names them (etcdmain/config.go), all optional. */
export interface RawTlsFlags {
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  clientCrlFile?: string;
  clientCertAllowedHostname?: string;
  autoTls?: boolean;
  peerCertFile?: string;
  peerKeyFile?: string;
  peerTrustedCaFile?: string;
  peerClientCertAuth?: boolean;
  peerCrlFile?: string;
  peerCertAllowedCn?: string;
  peerCertAllowedHostname?: string;
  peerAutoTls?: boolean;
  peerSkipClientSanVerification?: boolean;
  selfSignedCertValidity?: number;
  cipherSuites?: string;
  tlsMinVersion?: string;
  tlsMaxVersion?: string;
}

export type AuthTokenConfig = { type: 'simple' } | { type: 'jwt'; jwt: JwtOptions };

export class ConfigError extends Error {}

export interface RawServerFlags extends RawTlsFlags {
  name: string;
  dataDir?: string;
  walDir?: string;
  listenClientUrls: string;
  advertiseClientUrls?: string;
  listenPeerUrls: string;
  initialAdvertisePeerUrls?: string;
  initialCluster?: string;
  initialClusterState: string;
  initialClusterToken: string;
  snapshotCount: number;
  snapshotCatchUpEntries?: number;
  heartbeatInterval: number;
  electionTimeout: number;
  maxTxnOps: number;
  maxRequestBytes: number;
  quotaBackendBytes: number;
  strictReconfigCheck: boolean;
  forceNewCluster: boolean;
  autoCompactionMode: string;
  autoCompactionRetention: string;
  watchProgressNotifyInterval?: string;
  warningApplyDuration?: string;
  logLevel: string;

  maxConcurrentStreams?: string;
  grpcKeepaliveMinTime?: string;
  grpcKeepaliveInterval?: string;
  grpcKeepaliveTimeout?: string;

  // ---- authentication (--client-cert-auth is with the TLS flags) ----
  authToken?: string;
  authTokenTtl?: number;
  bcryptCost?: number;
}

export function parseUrlList(flag: string, value: string): URL[] {
  const urls: URL[] = [];
  for (const part of value.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(`--${flag}: invalid URL "${text}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'unix:' && url.protocol !== 'unixs:') {
      throw new ConfigError(`--${flag}: URL scheme must be http, https, unix, or unixs: ${text}`);
    }
    // Go's net.SplitHostPort on the authority as written: the URL parser drops a default port (http://h:80).
    if (!/:\d*$/.test(text.replace(/^[a-z]+:\/\//i, '').split(/[/?#]/)[0]!)) {
      throw new ConfigError(`--${flag}: URL address does not have the form "host:port": ${text}`);
    }
    if (url.pathname !== '/' && url.pathname !== '') {
      throw new ConfigError(`--${flag}: URL must not contain a path: ${text}`);
    }
    urls.push(url);
  }
  if (urls.length === 0) throw new ConfigError(`--${flag}: no URL given`);
  return urls;
}

/** The URL text etcd uses for ids and membership: scheme://host:port, no trailing slash. */
export function urlText(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

export function parseInitialCluster(value: string): Map<string, string[]> {
  const cluster = new Map<string, string[]>();
  for (const part of value.split(',')) {
    const text = part.trim();
    if (text === '') continue;
    const eq = text.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--initial-cluster: expected name=url, got "${text}"`);
    const name = text.slice(0, eq);
    const url = parseUrlList('initial-cluster', text.slice(eq + 1))[0]!;
    const urls = cluster.get(name) ?? [];
    urls.push(urlText(url));
    cluster.set(name, urls);
  }
  return cluster;
}

export function buildServerConfig(raw: RawServerFlags): ServerConfig {
  if (raw.name === '') throw new ConfigError('--name must not be empty');
  const listenPeerUrls = parseUrlList('listen-peer-urls', raw.listenPeerUrls);
  const initialAdvertisePeerUrls = parseUrlList('initial-advertise-peer-urls', raw.initialAdvertisePeerUrls ?? raw.listenPeerUrls);
  const listenClientUrls = parseUrlList('listen-client-urls', raw.listenClientUrls);
  const advertiseClientUrls = parseUrlList('advertise-client-urls', raw.advertiseClientUrls ?? raw.listenClientUrls);
  const initialCluster = raw.initialCluster !== undefined && raw.initialCluster !== ''
    ? parseInitialCluster(raw.initialCluster)
    : new Map([[raw.name, initialAdvertisePeerUrls.map(urlText)]]);
  if (!initialCluster.has(raw.name)) {
    throw new ConfigError(`couldn't find local name "${raw.name}" in the initial cluster configuration`);
  }
  if (raw.initialClusterState !== 'new' && raw.initialClusterState !== 'existing') {
    throw new ConfigError(`--initial-cluster-state: invalid value "${raw.initialClusterState}" (want new or existing)`);
  }
  if (raw.autoCompactionMode !== 'periodic' && raw.autoCompactionMode !== 'revision') {
    throw new ConfigError(`--auto-compaction-mode: unknown mode "${raw.autoCompactionMode}" (want periodic or revision)`);
  }
  try {
    parseRetention(raw.autoCompactionMode, raw.autoCompactionRetention);
  } catch (err) {
    throw new ConfigError(`--auto-compaction-retention: ${(err as Error).message}`);
  }
  const watchProgressNotifyIntervalMs = parseGoDurationMs(raw.watchProgressNotifyInterval ?? '10m');
  if (watchProgressNotifyIntervalMs === undefined || watchProgressNotifyIntervalMs < 100) {
    throw new ConfigError(`--experimental-watch-progress-notify-interval: invalid duration "${raw.watchProgressNotifyInterval}" (at least 100ms)`);
  }
  const warningApplyDurationMs = parseGoDurationMs(raw.warningApplyDuration ?? '100ms');
  if (warningApplyDurationMs === undefined || warningApplyDurationMs <= 0) {
    throw new ConfigError(`--experimental-warning-apply-duration: invalid duration "${raw.warningApplyDuration}" (must be positive)`);
  }
  const logLevels = ['debug', 'info', 'warn', 'error', 'panic', 'fatal'] as const;
  const logLevel = logLevels.find((l) => l === raw.logLevel);
  if (logLevel === undefined) throw new ConfigError(`--log-level: unknown level "${raw.logLevel}"`);
  if (raw.heartbeatInterval <= 0) throw new ConfigError('--heartbeat-interval must be positive');
  if (raw.electionTimeout < 5 * raw.heartbeatInterval) {
    throw new ConfigError(`--election-timeout[${raw.electionTimeout}ms] should be at least as 5 times as --heartbeat-interval[${raw.heartbeatInterval}ms]`);
  }
  if (raw.electionTimeout > 50000) throw new ConfigError(`--election-timeout[${raw.electionTimeout}ms] is too long, and should be set less than 50 seconds`);
  if (raw.maxTxnOps <= 0) throw new ConfigError('--max-txn-ops must be positive');
  if (raw.maxRequestBytes <= 0) throw new ConfigError('--max-request-bytes must be positive');
  if (raw.snapshotCount <= 0) throw new ConfigError('--snapshot-count must be positive');
  if (raw.snapshotCatchUpEntries !== undefined && raw.snapshotCatchUpEntries <= 0) throw new ConfigError('--experimental-snapshot-catchup-entries must be positive');
  const auth = buildAuthConfig(raw);
  const dataDir = raw.dataDir !== undefined && raw.dataDir !== '' ? raw.dataDir : `${raw.name}.etcd`;
  const tls = buildTlsConfig(raw, listenClientUrls, listenPeerUrls);
  const grpc = buildGrpcConfig(raw);
  return {
    ...tls,
    ...grpc,
    name: raw.name,
    dataDir,
    walDir: raw.walDir !== undefined && raw.walDir !== '' ? raw.walDir : join(dataDir, 'member', 'wal'),
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: raw.initialClusterState,
    initialClusterToken: raw.initialClusterToken,
    snapshotCount: raw.snapshotCount,
    snapshotCatchUpEntries: raw.snapshotCatchUpEntries ?? limits.snapshotCatchUpEntries,
    heartbeatIntervalMs: raw.heartbeatInterval,
    electionTimeoutMs: raw.electionTimeout,
    maxTxnOps: raw.maxTxnOps,
    maxRequestBytes: raw.maxRequestBytes,
    quotaBackendBytes: raw.quotaBackendBytes > 0 ? raw.quotaBackendBytes : limits.quotaBackendBytesDefault,
    strictReconfigCheck: raw.strictReconfigCheck,
    forceNewCluster: raw.forceNewCluster,
    autoCompactionMode: raw.autoCompactionMode,
    autoCompactionRetention: raw.autoCompactionRetention,
    watchProgressNotifyIntervalMs,
    warningApplyDurationMs,
    logLevel,
    ...auth,
  };
}

/**
 * The authentication flags, checked as etcd reads them: `--auth-token
 * simple` or `jwt,sign-method=...,priv-key=...,pub-key=...,ttl=...` (key
 * files read now, so a bad one stops the member before it starts),
 * `--auth-token-ttl` in seconds (0 means the default 300), `--bcrypt-cost`
 * within bcrypt's 4-31 (etcd falls back to 10 with a warning; we refuse).
 */
function buildAuthConfig(raw: RawServerFlags): Pick<ServerConfig, 'authToken' | 'authTokenTtlSeconds' | 'bcryptCost' | 'clientCertAuth'> {
  let authToken: AuthTokenConfig;
  try {
    const parsed = parseAuthTokenOption(raw.authToken ?? 'simple');
    authToken = parsed.type === 'simple' ? { type: 'simple' } : { type: 'jwt', jwt: loadJwtOptions(parsed.options) };
  } catch (err) {
    if (err instanceof AuthTokenOptionsError) throw new ConfigError(`--auth-token: ${err.message}`);
    throw err;
  }
  const ttl = raw.authTokenTtl ?? limits.authTokenTtlSecondsDefault;
  if (!Number.isInteger(ttl) || ttl < 0) throw new ConfigError(`--auth-token-ttl: invalid value ${ttl} (seconds, at least 0)`);
  const bcryptCost = raw.bcryptCost ?? limits.bcryptCostDefault;
  if (!Number.isInteger(bcryptCost) || bcryptCost < limits.bcryptCostMin || bcryptCost > limits.bcryptCostMax) {
    throw new ConfigError(`--bcrypt-cost: ${bcryptCost} is outside ${limits.bcryptCostMin}..${limits.bcryptCostMax}`);
  }
  return {
    authToken,
    authTokenTtlSeconds: ttl === 0 ? limits.authTokenTtlSecondsDefault : ttl,
    bcryptCost,
    clientCertAuth: raw.clientCertAuth ?? false,
  };
}

/**
 * The gRPC transport flags with etcd's types: a uint32 and three Go
 * durations (etcd takes "0" for the interval and the timeout to turn server
 * pings off).
 */
export function buildGrpcConfig(raw: Pick<RawServerFlags, 'maxConcurrentStreams' | 'grpcKeepaliveMinTime' | 'grpcKeepaliveInterval' | 'grpcKeepaliveTimeout'>): Pick<ServerConfig,
  'maxConcurrentStreams' | 'grpcKeepaliveMinTimeMs' | 'grpcKeepaliveIntervalMs' | 'grpcKeepaliveTimeoutMs'> {
  const streams = raw.maxConcurrentStreams ?? String(2 ** 32 - 1);
  if (!/^\d+$/.test(streams) || Number(streams) > 2 ** 32 - 1) {
    throw new ConfigError(`invalid argument "${streams}" for "--max-concurrent-streams" flag: strconv.ParseUint: parsing "${streams}": invalid syntax`);
  }
  const duration = (flag: string, value: string | undefined, fallback: string): number => {
    const text = value ?? fallback;
    const ms = text === '0' ? 0 : parseGoDurationMs(text);
    if (ms === undefined) throw new ConfigError(`invalid argument "${text}" for "--${flag}" flag: time: invalid duration "${text}"`);
    return ms;
  };
  return {
    maxConcurrentStreams: Number(streams),
    grpcKeepaliveMinTimeMs: duration('grpc-keepalive-min-time', raw.grpcKeepaliveMinTime, '5s'),
    grpcKeepaliveIntervalMs: duration('grpc-keepalive-interval', raw.grpcKeepaliveInterval, '2h'),
    grpcKeepaliveTimeoutMs: duration('grpc-keepalive-timeout', raw.grpcKeepaliveTimeout, '20s'),
  };
}

/**
 * The TLS half of the configuration, checked as etcd checks it at start: a
 * TLS listen URL needs a certificate and key (or auto TLS), a certificate
 * needs its key, and the protocol flags must agree. Never a silent
 * downgrade: an https:// or unixs:// URL that cannot be served over TLS stops
 * the member here.
 */
export function buildTlsConfig(raw: RawTlsFlags, listenClientUrls: URL[], listenPeerUrls: URL[]): Pick<ServerConfig,
  'clientTls' | 'peerTls' | 'clientAutoTls' | 'peerAutoTls' | 'selfSignedCertValidityYears' | 'tlsProtocol'> {
  const clientTls: TlsInfo = {
    certFile: raw.certFile ?? '',
    keyFile: raw.keyFile ?? '',
    trustedCaFile: raw.trustedCaFile ?? '',
    clientCertAuth: raw.clientCertAuth ?? false,
    crlFile: raw.clientCrlFile ?? '',
    allowedCn: '',
    allowedHostname: raw.clientCertAllowedHostname ?? '',
    checkClientSan: false,
    selfSigned: false,
  };
  const peerTls: TlsInfo = {
    certFile: raw.peerCertFile ?? '',
    keyFile: raw.peerKeyFile ?? '',
    trustedCaFile: raw.peerTrustedCaFile ?? '',
    clientCertAuth: raw.peerClientCertAuth ?? false,
    crlFile: raw.peerCrlFile ?? '',
    allowedCn: raw.peerCertAllowedCn ?? '',
    allowedHostname: raw.peerCertAllowedHostname ?? '',
    checkClientSan: !(raw.peerSkipClientSanVerification ?? false),
    selfSigned: false,
  };
  // Auto TLS is asked for here and ignored (with etcd's warning, at start) when certificates are given.
  const clientAutoTls = raw.autoTls ?? false;
  const peerAutoTls = raw.peerAutoTls ?? false;
  for (const [info, flags] of [[clientTls, ['cert-file', 'key-file']], [peerTls, ['peer-cert-file', 'peer-key-file']]] as const) {
    if (!tlsInfoEmpty(info) && (info.certFile === '' || info.keyFile === '')) {
      throw new ConfigError(`--${flags[0]} and --${flags[1]} must both be given (KeyFile and CertFile must both be present[key: ${info.keyFile}, cert: ${info.certFile}])`);
    }
    if (info.allowedCn !== '' && info.allowedHostname !== '') {
      throw new ConfigError(`AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(info.allowedCn)}, hostname=${JSON.stringify(info.allowedHostname)})`);
    }
  }
  for (const url of listenClientUrls) {
    if (isSecureScheme(url) && tlsInfoEmpty(clientTls) && !clientAutoTls) {
      throw new ConfigError(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${urlText(url)} with HTTPS scheme`);
    }
  }
  for (const url of listenPeerUrls) {
    if (isSecureScheme(url) && tlsInfoEmpty(peerTls) && !peerAutoTls) {
      throw new ConfigError(`cannot listen on TLS for ${url.host}: KeyFile and CertFile are not presented (give --peer-cert-file and --peer-key-file, or --peer-auto-tls)`);
    }
  }
  const validity = raw.selfSignedCertValidity ?? 1;
  if (!Number.isInteger(validity) || validity < 1) throw new ConfigError(`--self-signed-cert-validity must be a positive number of years, not ${validity}`);
  const cipherSuites = (raw.cipherSuites ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
  let tlsProtocol: TlsProtocol;
  try {
    tlsProtocol = buildTlsProtocol(cipherSuites, raw.tlsMinVersion ?? '', raw.tlsMaxVersion ?? '');
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(err.message);
    throw err;
  }
  return { clientTls, peerTls, clientAutoTls, peerAutoTls, selfSignedCertValidityYears: validity, tlsProtocol };
}

export function backendPath(config: Pick<ServerConfig, 'dataDir'>): string {
  return join(config.dataDir, 'member', 'snap', 'db');
}
