import * as limits from '../constants.js';

/**
 * Every flag `etcd` 3.4.23 registers (etcdmain/config.go), with etcd's type,
 * default and usage text, plus the flags of etcd 3.5 and 3.6 that operators
 * pass (--log-format, the compaction hash check, the 3.6 names without
 * "experimental-"). One table feeds the command-line parser (Go's flag
 * package semantics), the ETCD_* variables, the YAML config file, the help
 * text and the start-up log.
 *
 * A flag we deliberately do not serve (the v2 API, proxy mode, discovery) is
 * still recognised: `refuse` names the setting that makes the member stop
 * with a one-line error instead of silently running without it.
 */
export type FlagKind =
  /** Go string. */
  | 'string'
  /** Go bool: `--flag`, `--flag=true|false` (never `--flag false`). */
  | 'bool'
  /** Go uint / uint64 / int / int64 / uint32: numbers written in base 0 (0x.., 0o..). */
  | 'uint' | 'int' | 'uint32'
  /** Go time.Duration ("5s", "100ms"); the value is milliseconds. */
  | 'duration'
  /** A comma-separated list (URLs, cipher suites, outputs); the value is the text as given. */
  | 'list'
  /** One of `choices`. */
  | 'choice'
  /** A flag etcd once had and now ignores with a warning (pkg/flags.IgnoredFlag). */
  | 'ignored';

export type FlagValue = string | boolean | number;

export interface FlagDef {
  name: string;
  kind: FlagKind;
  /** The default as Go's flag package holds it (a duration in milliseconds). */
  defaultValue: FlagValue;
  usage: string;
  group: FlagGroup;
  choices?: readonly string[];
  /**
   * The key of this setting in etcd's YAML config file (embed.Config's json
   * tags); `false` when the file cannot set it; the flag's name when absent.
   */
  yaml?: string | false;
  /** Another flag this one is a newer (3.6) or older name of: both set the same setting. */
  aliasOf?: string;
  /** Why the member refuses to start with this value, or undefined when it serves it. */
  refuse?: (value: FlagValue) => string | undefined;
  /** Not shown in help (deprecated aliases). */
  hidden?: boolean;
}

export type FlagGroup = 'Member' | 'Clustering' | 'Security' | 'Auth' | 'Profiling and Monitoring' | 'Logging' | 'v2 Proxy' | 'Experimental' | 'Unsafe' | 'Deprecated';

const notServed = (what: string) => (value: FlagValue): string | undefined =>
  value === '' || value === false || value === 'off' ? undefined : `${what}; etcdts serves the v3 API only`;

const discovery = notServed('bootstrapping through a discovery service is not supported (use --initial-cluster)');

const d = (name: string, kind: FlagKind, defaultValue: FlagValue, usage: string, group: FlagGroup, extra: Partial<FlagDef> = {}): FlagDef =>
  ({ name, kind, defaultValue, usage, group, ...extra });

const ms = { s: 1000, m: 60_000, h: 3_600_000 };

export const serverFlags: readonly FlagDef[] = [
  d('config-file', 'string', '', 'Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.', 'Member', { yaml: false }),
  // ---- member ----
  d('name', 'string', 'default', 'Human-readable name for this member.', 'Member'),
  d('data-dir', 'string', '', 'Path to the data directory.', 'Member'),
  d('wal-dir', 'string', '', 'Path to the dedicated wal directory.', 'Member'),
  d('snapshot-count', 'uint', limits.snapshotCountDefault, 'Number of committed transactions to trigger a snapshot to disk.', 'Member'),
  d('heartbeat-interval', 'uint', limits.heartbeatIntervalMsDefault, 'Time (in milliseconds) of a heartbeat interval.', 'Member'),
  d('election-timeout', 'uint', limits.electionTimeoutMsDefault, 'Time (in milliseconds) for an election to timeout. See tuning documentation for details.', 'Member'),
  d('initial-election-tick-advance', 'bool', true, 'Whether to fast-forward initial election ticks on boot for faster election.', 'Member'),
  d('listen-peer-urls', 'list', 'http://127.0.0.1:2380', 'List of URLs to listen on for peer traffic.', 'Member'),
  d('listen-client-urls', 'list', 'http://127.0.0.1:2379', 'List of URLs to listen on for client traffic.', 'Member'),
  d('max-snapshots', 'uint', limits.snapshotFilesMaxDefault, 'Maximum number of snapshot files to retain (0 is unlimited).', 'Member'),
  d('max-wals', 'uint', limits.walFilesMaxDefault, 'Maximum number of wal files to retain (0 is unlimited).', 'Member'),
  d('quota-backend-bytes', 'int', 0, 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).', 'Member'),
  d('backend-batch-interval', 'duration', 0, 'BackendBatchInterval is the maximum time before commit the backend transaction.', 'Member'),
  d('backend-batch-limit', 'int', 0, 'BackendBatchLimit is the maximum operations before commit the backend transaction.', 'Member'),
  d('max-txn-ops', 'uint', limits.txnOpsMaxDefault, 'Maximum number of operations permitted in a transaction.', 'Member'),
  d('max-request-bytes', 'uint', limits.requestBytesMaxDefault, 'Maximum client request size in bytes the server will accept.', 'Member'),
  d('max-concurrent-streams', 'uint32', 2 ** 32 - 1, 'Maximum concurrent streams that each client can open at a time.', 'Member'),
  d('grpc-keepalive-min-time', 'duration', 5 * ms.s, 'Minimum duration interval that a client should wait before pinging server.', 'Member'),
  d('grpc-keepalive-interval', 'duration', 2 * ms.h, 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).', 'Member'),
  d('grpc-keepalive-timeout', 'duration', 20 * ms.s, 'Additional duration of wait before closing a non-responsive connection (0 to disable).', 'Member'),
  // ---- clustering ----
  d('initial-advertise-peer-urls', 'list', '', "List of this member's peer URLs to advertise to the rest of the cluster.", 'Clustering'),
  d('initial-cluster', 'string', '', 'Initial cluster configuration for bootstrapping.', 'Clustering'),
  d('initial-cluster-state', 'choice', 'new', "Initial cluster state ('new' or 'existing').", 'Clustering', { choices: ['new', 'existing'] }),
  d('initial-cluster-token', 'string', 'etcd-cluster', 'Initial cluster token for the etcd cluster during bootstrap.', 'Clustering'),
  d('advertise-client-urls', 'list', '', "List of this member's client URLs to advertise to the public.", 'Clustering'),
  d('discovery', 'string', '', 'Discovery URL used to bootstrap the cluster.', 'Clustering', { refuse: discovery }),
  d('discovery-fallback', 'choice', 'proxy', "Expected behavior ('exit' or 'proxy') when discovery services fails.", 'Clustering', { choices: ['proxy', 'exit'] }),
  d('discovery-proxy', 'string', '', 'HTTP proxy to use for traffic to discovery service.', 'Clustering', { refuse: discovery }),
  d('discovery-srv', 'string', '', 'DNS srv domain used to bootstrap the cluster.', 'Clustering', { refuse: discovery }),
  d('discovery-srv-name', 'string', '', 'Suffix to the dns srv name queried when bootstrapping.', 'Clustering', { refuse: discovery }),
  d('strict-reconfig-check', 'bool', true, 'Reject reconfiguration requests that would cause quorum loss.', 'Clustering'),
  d('pre-vote', 'bool', true, 'Enable to run an additional Raft election phase (etcdts defaults to true, as etcd 3.5 does).', 'Clustering'),
  d('auto-compaction-retention', 'string', '0', 'Auto compaction retention length. 0 means disable auto compaction.', 'Clustering'),
  d('auto-compaction-mode', 'string', 'periodic', "Interpret 'auto-compaction-retention' one of: periodic|revision.", 'Clustering'),
  d('enable-v2', 'bool', false, 'Accept etcd V2 client requests.', 'Clustering', { refuse: notServed('--enable-v2: the v2 API is not supported') }),
  // ---- security (client-transport-security / peer-transport-security in the config file) ----
  d('cert-file', 'string', '', 'Path to the client server TLS cert file.', 'Security', { yaml: 'client-transport-security.cert-file' }),
  d('key-file', 'string', '', 'Path to the client server TLS key file.', 'Security', { yaml: 'client-transport-security.key-file' }),
  d('client-cert-auth', 'bool', false, 'Enable client cert authentication.', 'Security', { yaml: 'client-transport-security.client-cert-auth' }),
  d('client-crl-file', 'string', '', 'Path to the client certificate revocation list file.', 'Security', { yaml: false }),
  d('client-cert-allowed-hostname', 'string', '', 'Allowed TLS hostname for client cert authentication.', 'Security', { yaml: false }),
  d('trusted-ca-file', 'string', '', 'Path to the client server TLS trusted CA cert file.', 'Security', { yaml: 'client-transport-security.trusted-ca-file' }),
  d('auto-tls', 'bool', false, 'Client TLS using generated certificates.', 'Security', { yaml: 'client-transport-security.auto-tls' }),
  d('peer-cert-file', 'string', '', 'Path to the peer server TLS cert file.', 'Security', { yaml: 'peer-transport-security.cert-file' }),
  d('peer-key-file', 'string', '', 'Path to the peer server TLS key file.', 'Security', { yaml: 'peer-transport-security.key-file' }),
  d('peer-client-cert-auth', 'bool', false, 'Enable peer client cert authentication.', 'Security', { yaml: 'peer-transport-security.client-cert-auth' }),
  d('peer-trusted-ca-file', 'string', '', 'Path to the peer server TLS trusted CA file.', 'Security', { yaml: 'peer-transport-security.trusted-ca-file' }),
  d('peer-cert-allowed-cn', 'string', '', 'Required CN for client certs connecting to the peer endpoint.', 'Security', { yaml: false }),
  d('peer-cert-allowed-hostname', 'string', '', 'Allowed TLS hostname for inter peer authentication.', 'Security', { yaml: false }),
  d('peer-auto-tls', 'bool', false, 'Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.', 'Security', { yaml: 'peer-transport-security.auto-tls' }),
  d('peer-crl-file', 'string', '', 'Path to the peer certificate revocation list file.', 'Security', { yaml: false }),
  d('cipher-suites', 'list', '', 'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).', 'Security'),
  d('tls-min-version', 'string', '', 'Minimum TLS version supported by etcd (TLS1.2 or TLS1.3; etcd 3.5).', 'Security'),
  d('tls-max-version', 'string', '', 'Maximum TLS version supported by etcd (TLS1.2 or TLS1.3; etcd 3.5).', 'Security'),
  d('self-signed-cert-validity', 'uint', 1, 'The validity period of the client and peer certificates generated by --auto-tls and --peer-auto-tls, in years (etcd 3.5).', 'Security'),
  d('experimental-peer-skip-client-san-verification', 'bool', false, 'Skip verification of SAN field in client certificate for peer connections.', 'Security', { yaml: false }),
  d('cors', 'list', '*', 'Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).', 'Security'),
  d('host-whitelist', 'list', '*', 'Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).', 'Security'),
  // ---- auth ----
  d('auth-token', 'string', 'simple', "Specify a v3 authentication token type and its options ('simple' or 'jwt').", 'Auth'),
  d('bcrypt-cost', 'uint', limits.bcryptCostDefault, 'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.', 'Auth'),
  d('auth-token-ttl', 'uint', limits.authTokenTtlSecondsDefault, 'Time (in seconds) of the auth-token-ttl.', 'Auth'),
  // ---- profiling and monitoring ----
  d('enable-pprof', 'bool', false, 'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/"', 'Profiling and Monitoring'),
  d('metrics', 'choice', 'basic', "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics.", 'Profiling and Monitoring', { choices: ['basic', 'extensive'] }),
  d('listen-metrics-urls', 'list', '', 'List of URLs to listen on for the metrics and health endpoints.', 'Profiling and Monitoring'),
  d('enable-grpc-gateway', 'bool', true, 'Enable GRPC gateway.', 'Profiling and Monitoring'),
  // ---- logging ----
  d('logger', 'choice', 'zap', "Specify 'zap' for structured logging or 'capnslog' (etcdts always writes zap's JSON lines).", 'Logging', { choices: ['zap', 'capnslog'] }),
  d('log-outputs', 'list', 'default', "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.", 'Logging'),
  d('log-level', 'choice', 'info', 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.', 'Logging', { choices: ['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal'] }),
  d('log-format', 'choice', 'json', "Configures log format. Only supports json, console (etcd 3.5).", 'Logging', { choices: ['json', 'console'] }),
  // ---- v2 proxy ----
  d('proxy', 'choice', 'off', "Proxy mode setting ('off', 'readonly' or 'on').", 'v2 Proxy', { choices: ['off', 'readonly', 'on'], refuse: notServed('--proxy: the v2 proxy mode is not supported') }),
  d('proxy-failure-wait', 'uint', 5000, 'Time (in milliseconds) an endpoint will be held in a failed state.', 'v2 Proxy'),
  d('proxy-refresh-interval', 'uint', 30000, 'Time (in milliseconds) of the endpoints refresh interval.', 'v2 Proxy'),
  d('proxy-dial-timeout', 'uint', 1000, 'Time (in milliseconds) for a dial to timeout.', 'v2 Proxy'),
  d('proxy-write-timeout', 'uint', 5000, 'Time (in milliseconds) for a write to timeout.', 'v2 Proxy'),
  d('proxy-read-timeout', 'uint', 0, 'Time (in milliseconds) for a read to timeout.', 'v2 Proxy'),
  // ---- experimental ----
  d('experimental-initial-corrupt-check', 'bool', false, 'Enable to check data corruption before serving any client/peer traffic.', 'Experimental'),
  d('experimental-corrupt-check-time', 'duration', 0, 'Duration of time between cluster corruption check passes.', 'Experimental'),
  d('experimental-compact-hash-check-enabled', 'bool', false, 'Enable leader to periodically check followers compaction hashes (etcd 3.5).', 'Experimental'),
  d('experimental-compact-hash-check-time', 'duration', limits.compactHashCheckIntervalMsDefault, 'Duration of time between leader checks followers compaction hashes (etcd 3.5).', 'Experimental'),
  d('experimental-enable-v2v3', 'string', '', 'Serve v2 requests through the v3 backend under a given prefix.', 'Experimental', { refuse: notServed('--experimental-enable-v2v3: the v2 API is not supported') }),
  d('experimental-backend-bbolt-freelist-type', 'choice', 'array', 'ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).', 'Experimental', { choices: ['array', 'map'] }),
  d('experimental-enable-lease-checkpoint', 'bool', false, 'Enable leader to send regular checkpoints to other members to prevent reset of remaining TTL on leader change.', 'Experimental'),
  d('experimental-enable-lease-checkpoint-persist', 'bool', false, 'Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases.', 'Experimental'),
  d('experimental-compaction-batch-limit', 'int', limits.compactionBatchKeysMax, 'Sets the maximum revisions deleted in each compaction batch.', 'Experimental'),
  d('experimental-watch-progress-notify-interval', 'duration', 10 * ms.m, 'Duration of periodic watch progress notifications.', 'Experimental'),
  d('experimental-warning-apply-duration', 'duration', 100, 'Time duration after which a warning is generated if request takes more time.', 'Experimental'),
  d('experimental-snapshot-catchup-entries', 'uint', limits.snapshotCatchUpEntries, 'Number of entries for a slow follower to catch up after compacting the raft storage entries (etcd 3.5).', 'Experimental'),
  // etcd 3.6 dropped "experimental-" from these; both names work.
  d('corrupt-check-time', 'duration', 0, 'Duration of time between cluster corruption check passes (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-corrupt-check-time', hidden: true }),
  d('compact-hash-check-time', 'duration', limits.compactHashCheckIntervalMsDefault, 'Duration of time between leader checks followers compaction hashes (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-compact-hash-check-time', hidden: true }),
  d('compaction-batch-limit', 'int', limits.compactionBatchKeysMax, 'Sets the maximum revisions deleted in each compaction batch (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-compaction-batch-limit', hidden: true }),
  d('watch-progress-notify-interval', 'duration', 10 * ms.m, 'Duration of periodic watch progress notifications (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-watch-progress-notify-interval', hidden: true }),
  d('warning-apply-duration', 'duration', 100, 'Time duration after which a warning is generated if request takes more time (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-warning-apply-duration', hidden: true }),
  d('snapshot-catchup-entries', 'uint', limits.snapshotCatchUpEntries, 'Number of entries for a slow follower to catch up after compacting the raft storage entries (etcd 3.6 name).', 'Experimental', { aliasOf: 'experimental-snapshot-catchup-entries', hidden: true }),
  d('feature-gates', 'list', '', 'A set of key=value pairs for etcd 3.6 feature gates: InitialCorruptCheck, CompactHashCheck, LeaseCheckpoint, LeaseCheckpointPersist.', 'Experimental'),
  // ---- unsafe ----
  d('force-new-cluster', 'bool', false, 'Force to create a new one-member cluster.', 'Unsafe'),
  d('unsafe-no-fsync', 'bool', false, 'Disables fsync, unsafe, will cause data loss.', 'Unsafe'),
  // ---- to be deprecated ----
  d('debug', 'bool', false, "Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use '--log-level=debug' instead.", 'Deprecated'),
  d('log-package-levels', 'string', '', "Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').", 'Deprecated'),
  d('log-output', 'list', 'default', "[TO BE DEPRECATED IN v3.5] use '--log-outputs'.", 'Deprecated', { aliasOf: 'log-outputs', hidden: true }),
  d('version', 'bool', false, 'Print the version and exit.', 'Member', { yaml: false }),
  // Flags of etcd 0.4 that etcd still accepts and ignores with a warning.
  ...['cluster-active-size', 'cluster-remove-delay', 'cluster-sync-interval', 'config', 'force', 'max-result-buffer', 'max-retry-attempts',
    'peer-heartbeat-interval', 'peer-election-timeout', 'retry-interval', 'snapshot', 'v', 'vv']
    .map((name) => d(name, 'ignored', '', '', 'Deprecated', { yaml: false, hidden: true })),
];

const byName = new Map(serverFlags.map((f) => [f.name, f]));

export function serverFlag(name: string): FlagDef | undefined {
  return byName.get(name);
}

/** The setting a flag writes: an alias writes its canonical flag's. */
export function canonicalName(name: string): string {
  return byName.get(name)?.aliasOf ?? name;
}

/** etcd's variable for a flag: --some-flag <-> ETCD_SOME_FLAG (pkg/flags.FlagToEnv). */
export function flagToEnv(name: string): string {
  return `ETCD_${name.toUpperCase().replace(/-/g, '_')}`;
}
