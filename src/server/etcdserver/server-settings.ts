import { buildServerConfig, ConfigError, parseUrlList, type ServerConfig } from './config.js';
import type { LogNote, ParsedFlags } from './go-flags.js';
import { serverFlags, type FlagValue } from './server-flags.js';

/**
 * etcd 3.6 feature gates this member understands (--feature-gates
 * Name=true,...): each turns on what the older flag of the same meaning does.
 */
const featureGates: Record<string, string> = {
  InitialCorruptCheck: 'experimental-initial-corrupt-check',
  CompactHashCheck: 'experimental-compact-hash-check-enabled',
  LeaseCheckpoint: 'experimental-enable-lease-checkpoint',
  LeaseCheckpointPersist: 'experimental-enable-lease-checkpoint-persist',
};

/**
 * The member's configuration from parsed settings (command line and
 * environment, or config file): refuses what etcdts does not serve, turns
 * the values into ServerConfig, and adds the log lines etcd writes about
 * deprecated or inapplicable settings.
 */
export function configFromFlags(parsed: ParsedFlags): { config: ServerConfig; notes: LogNote[] } {
  const values = new Map(parsed.values);
  const notes = [...parsed.notes];
  for (const def of serverFlags) {
    const reason = def.refuse?.(values.get(def.name) ?? def.defaultValue);
    if (reason !== undefined) throw new ConfigError(reason);
  }
  applyFeatureGates(values, text(values, 'feature-gates'));
  const bool = (name: string): boolean => values.get(name) as boolean;
  const num = (name: string): number => values.get(name) as number;
  const str = (name: string): string => text(values, name);
  if (str('logger') === 'capnslog') notes.push({ level: 'warn', msg: "'capnslog' logger is deprecated; etcdts writes zap's JSON lines", fields: { logger: 'capnslog' } });
  if (str('log-package-levels') !== '') notes.push({ level: 'warn', msg: '--log-package-levels applies to the capnslog logger only; ignoring it', fields: { 'log-package-levels': str('log-package-levels') } });
  if (parsed.changed.has('experimental-backend-bbolt-freelist-type')) {
    notes.push({ level: 'info', msg: 'bbolt freelist type does not apply to the LMDB backend', fields: { 'freelist-type': str('experimental-backend-bbolt-freelist-type') } });
  }
  const logOutputs = list(str('log-outputs'));
  if (logOutputs.includes('systemd/journal')) {
    throw new ConfigError('--log-outputs: systemd/journal is not supported; use stderr, which systemd collects into the journal');
  }
  const level = bool('debug') ? 'debug' : str('log-level') === 'dpanic' ? 'panic' : str('log-level');
  const metricsUrls = str('listen-metrics-urls');
  const config = buildServerConfig({
    name: str('name'),
    dataDir: str('data-dir'),
    walDir: str('wal-dir'),
    listenClientUrls: str('listen-client-urls'),
    advertiseClientUrls: optional(str('advertise-client-urls')),
    listenPeerUrls: str('listen-peer-urls'),
    initialAdvertisePeerUrls: optional(str('initial-advertise-peer-urls')),
    initialCluster: optional(str('initial-cluster')),
    initialClusterState: str('initial-cluster-state'),
    initialClusterToken: str('initial-cluster-token'),
    snapshotCount: num('snapshot-count'),
    snapshotCatchUpEntries: num('experimental-snapshot-catchup-entries'),
    heartbeatInterval: num('heartbeat-interval'),
    electionTimeout: num('election-timeout'),
    maxTxnOps: num('max-txn-ops'),
    maxRequestBytes: num('max-request-bytes'),
    quotaBackendBytes: num('quota-backend-bytes'),
    strictReconfigCheck: bool('strict-reconfig-check'),
    forceNewCluster: bool('force-new-cluster'),
    autoCompactionMode: str('auto-compaction-mode'),
    autoCompactionRetention: str('auto-compaction-retention'),
    watchProgressNotifyInterval: `${num('experimental-watch-progress-notify-interval')}ms`,
    logLevel: level,
    certFile: str('cert-file'),
    keyFile: str('key-file'),
    trustedCaFile: str('trusted-ca-file'),
    clientCertAuth: bool('client-cert-auth'),
    clientCrlFile: str('client-crl-file'),
    clientCertAllowedHostname: str('client-cert-allowed-hostname'),
    autoTls: bool('auto-tls'),
    peerCertFile: str('peer-cert-file'),
    peerKeyFile: str('peer-key-file'),
    peerTrustedCaFile: str('peer-trusted-ca-file'),
    peerClientCertAuth: bool('peer-client-cert-auth'),
    peerCrlFile: str('peer-crl-file'),
    peerCertAllowedCn: str('peer-cert-allowed-cn'),
    peerCertAllowedHostname: str('peer-cert-allowed-hostname'),
    peerAutoTls: bool('peer-auto-tls'),
    peerSkipClientSanVerification: bool('experimental-peer-skip-client-san-verification'),
    selfSignedCertValidity: num('self-signed-cert-validity'),
    cipherSuites: str('cipher-suites'),
    tlsMinVersion: str('tls-min-version'),
    tlsMaxVersion: str('tls-max-version'),
    authToken: str('auth-token'),
    authTokenTtl: num('auth-token-ttl'),
    bcryptCost: num('bcrypt-cost'),
    extra: {
      preVote: bool('pre-vote'),
      initialElectionTickAdvance: bool('initial-election-tick-advance'),
      maxSnapshots: num('max-snapshots'),
      maxWals: num('max-wals'),
      backendBatchIntervalMs: num('backend-batch-interval'),
      backendBatchLimit: num('backend-batch-limit'),
      compactionBatchLimit: num('experimental-compaction-batch-limit'),
      unsafeNoFsync: bool('unsafe-no-fsync'),
      warningApplyDurationMs: num('experimental-warning-apply-duration'),
      leaseCheckpoint: bool('experimental-enable-lease-checkpoint'),
      leaseCheckpointPersist: bool('experimental-enable-lease-checkpoint-persist'),
      initialCorruptCheck: bool('experimental-initial-corrupt-check'),
      corruptCheckIntervalMs: num('experimental-corrupt-check-time'),
      compactHashCheck: bool('experimental-compact-hash-check-enabled'),
      compactHashCheckIntervalMs: num('experimental-compact-hash-check-time'),
      maxConcurrentStreams: num('max-concurrent-streams'),
      grpcKeepaliveMinTimeMs: num('grpc-keepalive-min-time'),
      grpcKeepaliveIntervalMs: num('grpc-keepalive-interval'),
      grpcKeepaliveTimeoutMs: num('grpc-keepalive-timeout'),
      listenMetricsUrls: metricsUrls === '' ? [] : parseUrlList('listen-metrics-urls', metricsUrls),
      metrics: str('metrics') as 'basic' | 'extensive',
      enablePprof: bool('enable-pprof'),
      cors: orAll(list(str('cors'))),
      hostWhitelist: orAll(list(str('host-whitelist'))),
      enableGrpcGateway: bool('enable-grpc-gateway'),
      logOutputs: logOutputs.length === 0 ? ['default'] : logOutputs,
      logFormat: str('log-format') as 'json' | 'console',
    },
  });
  return { config, notes };
}

/** --feature-gates=InitialCorruptCheck=true,CompactHashCheck=true: an unknown gate stops the member, as in etcd 3.6. */
function applyFeatureGates(values: Map<string, FlagValue>, gates: string): void {
  for (const item of list(gates)) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const setting = eq < 0 ? 'true' : item.slice(eq + 1).trim().toLowerCase();
    const flag = featureGates[name];
    if (flag === undefined) throw new ConfigError(`--feature-gates: unrecognized feature gate: ${name}`);
    if (setting !== 'true' && setting !== 'false') throw new ConfigError(`--feature-gates: invalid value of ${name}=${setting}, err: strconv.ParseBool: parsing "${setting}": invalid syntax`);
    values.set(flag, setting === 'true');
  }
}

function text(values: Map<string, FlagValue>, name: string): string {
  return String(values.get(name) ?? '');
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function optional(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** An empty --cors or --host-whitelist allows everything, as '*' does. */
function orAll(items: string[]): string[] {
  return items.length === 0 || items.includes('*') ? ['*'] : items;
}
