import { Command, Flags } from '@oclif/core';
import { buildServerConfig, ConfigError } from '../server/etcdserver/config.js';
import * as limits from '../server/constants.js';

/** Boolean flags that etcd scripts also write as --flag=true / --flag=false. */
const booleanFlags = [
  'strict-reconfig-check', 'force-new-cluster', 'enable-v2', 'enable-pprof', 'debug', 'client-cert-auth', 'peer-client-cert-auth', 'auto-tls', 'peer-auto-tls',
  'experimental-peer-skip-client-san-verification',
];

export default class Server extends Command {
  static override summary = 'Run an etcdts member (etcd server)';

  static override description = `Starts a member of an etcd-compatible cluster: Raft consensus, MVCC storage, leases, watches.
With no flags it serves clients on http://127.0.0.1:2379 with data in ./default.etcd, like etcd.
Every flag can also be set through its ETCD_* environment variable (--data-dir <-> ETCD_DATA_DIR).`;

  static override examples = [
    '<%= config.bin %> server',
    '<%= config.bin %> server --name infra0 --data-dir /var/lib/etcdts --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://10.0.0.1:2379',
    'ETCD_NAME=infra1 ETCD_DATA_DIR=/tmp/infra1 <%= config.bin %> server',
  ];

  static override flags = {
    name: Flags.string({ description: 'Human-readable name for this member.', default: 'default', env: 'ETCD_NAME' }),
    'data-dir': Flags.string({ description: 'Path to the data directory (default: <name>.etcd).', env: 'ETCD_DATA_DIR' }),
    'wal-dir': Flags.string({ description: 'Path to the dedicated WAL directory.', env: 'ETCD_WAL_DIR' }),
    'listen-client-urls': Flags.string({ description: 'List of URLs to listen on for client traffic.', default: 'http://127.0.0.1:2379', env: 'ETCD_LISTEN_CLIENT_URLS' }),
    'advertise-client-urls': Flags.string({ description: "List of this member's client URLs to advertise to the public.", env: 'ETCD_ADVERTISE_CLIENT_URLS' }),
    'listen-peer-urls': Flags.string({ description: 'List of URLs to listen on for peer traffic.', default: 'http://127.0.0.1:2380', env: 'ETCD_LISTEN_PEER_URLS' }),
    'initial-advertise-peer-urls': Flags.string({ description: "List of this member's peer URLs to advertise to the rest of the cluster.", env: 'ETCD_INITIAL_ADVERTISE_PEER_URLS' }),
    'initial-cluster': Flags.string({ description: 'Initial cluster configuration for bootstrapping (name=url,...).', env: 'ETCD_INITIAL_CLUSTER' }),
    'initial-cluster-state': Flags.string({ description: "Initial cluster state ('new' or 'existing').", default: 'new', env: 'ETCD_INITIAL_CLUSTER_STATE' }),
    'initial-cluster-token': Flags.string({ description: 'Initial cluster token for the etcd cluster during bootstrap.', default: 'etcd-cluster', env: 'ETCD_INITIAL_CLUSTER_TOKEN' }),
    'snapshot-count': Flags.integer({ description: 'Number of committed transactions to trigger a snapshot to disk.', default: limits.snapshotCountDefault, env: 'ETCD_SNAPSHOT_COUNT' }),
    'experimental-snapshot-catchup-entries': Flags.integer({ description: 'Number of entries for a slow follower to catch up after compacting the raft storage entries.', default: limits.snapshotCatchUpEntries, env: 'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES' }),
    'heartbeat-interval': Flags.integer({ description: 'Time (in milliseconds) of a heartbeat interval.', default: limits.heartbeatIntervalMsDefault, env: 'ETCD_HEARTBEAT_INTERVAL' }),
    'election-timeout': Flags.integer({ description: 'Time (in milliseconds) for an election to timeout.', default: limits.electionTimeoutMsDefault, env: 'ETCD_ELECTION_TIMEOUT' }),
    'max-txn-ops': Flags.integer({ description: 'Maximum number of operations permitted in a transaction.', default: limits.txnOpsMaxDefault, env: 'ETCD_MAX_TXN_OPS' }),
    'max-request-bytes': Flags.integer({ description: 'Maximum client request size in bytes the server will accept.', default: limits.requestBytesMaxDefault, env: 'ETCD_MAX_REQUEST_BYTES' }),
    'quota-backend-bytes': Flags.integer({ description: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).', default: 0, env: 'ETCD_QUOTA_BACKEND_BYTES' }),
    'strict-reconfig-check': Flags.boolean({ description: 'Reject reconfiguration requests that would cause quorum loss.', default: true, allowNo: true, env: 'ETCD_STRICT_RECONFIG_CHECK' }),
    'force-new-cluster': Flags.boolean({ description: 'Force to create a new one member cluster.', default: false, env: 'ETCD_FORCE_NEW_CLUSTER' }),
    'auto-compaction-mode': Flags.string({ description: "Interpret 'auto-compaction-retention' one of: periodic|revision.", default: 'periodic', env: 'ETCD_AUTO_COMPACTION_MODE' }),
    'auto-compaction-retention': Flags.string({ description: "Auto compaction retention for mvcc key value store. 0 means disable auto compaction.", default: '0', env: 'ETCD_AUTO_COMPACTION_RETENTION' }),
    'experimental-watch-progress-notify-interval': Flags.string({ description: 'Duration of periodic watch progress notifications.', default: '10m', env: 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL' }),
    'experimental-warning-apply-duration': Flags.string({ description: 'Warning is generated if requests take more than this duration.', default: '100ms', env: 'ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION' }),
    'log-level': Flags.string({ description: 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.', default: 'info', env: 'ETCD_LOG_LEVEL' }),
    logger: Flags.string({ description: "Accepted for etcd compatibility; etcdts always logs structured JSON ('zap').", default: 'zap', env: 'ETCD_LOGGER' }),
    'log-outputs': Flags.string({ description: 'Accepted for etcd compatibility; logs go to stderr.', default: 'default', env: 'ETCD_LOG_OUTPUTS' }),
    'enable-v2': Flags.boolean({ description: 'Accepted for etcd compatibility; the v2 API is not served.', default: false, env: 'ETCD_ENABLE_V2' }),
    debug: Flags.boolean({ description: 'Enable debug-level logging.', default: false, env: 'ETCD_DEBUG' }),
    // Security (etcdmain/config.go, and etcd 3.5's --self-signed-cert-validity and --tls-*-version).
    'cert-file': Flags.string({ description: 'Path to the client server TLS cert file.', env: 'ETCD_CERT_FILE' }),
    'key-file': Flags.string({ description: 'Path to the client server TLS key file.', env: 'ETCD_KEY_FILE' }),
    'client-cert-auth': Flags.boolean({ description: 'Enable client cert authentication.', default: false, allowNo: true, env: 'ETCD_CLIENT_CERT_AUTH' }),
    'client-crl-file': Flags.string({ description: 'Path to the client certificate revocation list file.', env: 'ETCD_CLIENT_CRL_FILE' }),
    'client-cert-allowed-hostname': Flags.string({ description: 'Allowed TLS hostname for client cert authentication.', env: 'ETCD_CLIENT_CERT_ALLOWED_HOSTNAME' }),
    'trusted-ca-file': Flags.string({ description: 'Path to the client server TLS trusted CA cert file.', env: 'ETCD_TRUSTED_CA_FILE' }),
    'auto-tls': Flags.boolean({ description: 'Client TLS using generated certificates.', default: false, allowNo: true, env: 'ETCD_AUTO_TLS' }),
    'peer-cert-file': Flags.string({ description: 'Path to the peer server TLS cert file.', env: 'ETCD_PEER_CERT_FILE' }),
    'peer-key-file': Flags.string({ description: 'Path to the peer server TLS key file.', env: 'ETCD_PEER_KEY_FILE' }),
    'peer-client-cert-auth': Flags.boolean({ description: 'Enable peer client cert authentication.', default: false, allowNo: true, env: 'ETCD_PEER_CLIENT_CERT_AUTH' }),
    'peer-trusted-ca-file': Flags.string({ description: 'Path to the peer server TLS trusted CA file.', env: 'ETCD_PEER_TRUSTED_CA_FILE' }),
    'peer-auto-tls': Flags.boolean({ description: 'Peer TLS using generated certificates.', default: false, allowNo: true, env: 'ETCD_PEER_AUTO_TLS' }),
    'peer-crl-file': Flags.string({ description: 'Path to the peer certificate revocation list file.', env: 'ETCD_PEER_CRL_FILE' }),
    'peer-cert-allowed-cn': Flags.string({ description: 'Allowed CN for inter peer authentication.', env: 'ETCD_PEER_CERT_ALLOWED_CN' }),
    'peer-cert-allowed-hostname': Flags.string({ description: 'Allowed TLS hostname for inter peer authentication.', env: 'ETCD_PEER_CERT_ALLOWED_HOSTNAME' }),
    'experimental-peer-skip-client-san-verification': Flags.boolean({ description: 'Skip verification of SAN field in client certificate for peer connections.', default: false, allowNo: true, env: 'ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION' }),
    'self-signed-cert-validity': Flags.integer({ description: 'The validity period of the client and peer certificates that are automatically generated by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default is 1.', default: 1, env: 'ETCD_SELF_SIGNED_CERT_VALIDITY' }),
    'cipher-suites': Flags.string({ description: 'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).', default: '', env: 'ETCD_CIPHER_SUITES' }),
    'tls-min-version': Flags.string({ description: 'Minimum TLS version supported by etcd (TLS1.2 or TLS1.3; empty: TLS1.2).', default: '', env: 'ETCD_TLS_MIN_VERSION' }),
    'tls-max-version': Flags.string({ description: 'Maximum TLS version supported by etcd (TLS1.2 or TLS1.3; empty: the highest supported).', default: '', env: 'ETCD_TLS_MAX_VERSION' }),
    // gRPC transport (etcdmain/config.go).
    'max-concurrent-streams': Flags.string({ description: 'Maximum concurrent streams that each client can open at a time.', default: String(2 ** 32 - 1), env: 'ETCD_MAX_CONCURRENT_STREAMS' }),
    'grpc-keepalive-min-time': Flags.string({ description: 'Minimum interval duration that a client should wait before pinging server.', default: '5s', env: 'ETCD_GRPC_KEEPALIVE_MIN_TIME' }),
    'grpc-keepalive-interval': Flags.string({ description: 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).', default: '2h0m0s', env: 'ETCD_GRPC_KEEPALIVE_INTERVAL' }),
    'grpc-keepalive-timeout': Flags.string({ description: 'Additional duration of wait before closing a non-responsive connection (0 to disable).', default: '20s', env: 'ETCD_GRPC_KEEPALIVE_TIMEOUT' }),
    // ---- authentication ----
    'auth-token': Flags.string({ description: "Specify auth token specific options: 'simple', or 'jwt,sign-method=ES256|RS256|PS256|EdDSA|...,priv-key=<file>,pub-key=<file>,ttl=5m'.", default: 'simple', env: 'ETCD_AUTH_TOKEN' }),
    'auth-token-ttl': Flags.integer({ description: 'The lifetime in seconds of a simple auth token since its last use.', default: limits.authTokenTtlSecondsDefault, env: 'ETCD_AUTH_TOKEN_TTL' }),
    'bcrypt-cost': Flags.integer({ description: `Specify bcrypt algorithm cost factor for auth password hashing (${limits.bcryptCostMin}-${limits.bcryptCostMax}).`, default: limits.bcryptCostDefault, env: 'ETCD_BCRYPT_COST' }),
  };

  /** Turns etcd's `--flag=true|false` forms of boolean flags into what oclif parses. */
  static normalizeArgv(argv: string[]): string[] {
    return argv.map((arg) => {
      const m = /^--?([a-z0-9-]+)=(true|false)$/i.exec(arg);
      if (m && booleanFlags.includes(m[1]!)) return m[2]!.toLowerCase() === 'true' ? `--${m[1]}` : `--no-${m[1]}`;
      const single = /^-([a-z][a-z0-9-]+)(=.*)?$/.exec(arg);
      // etcd (Go's flag package) also takes single-dash long flags: -name x.
      if (single && single[1]!.length > 1) return `--${single[1]}${single[2] ?? ''}`;
      return arg;
    });
  }

  /**
   * One `Error: ...` line and exit code 1, as etcd stops on a bad flag. (oclif's
   * this.error wraps long messages over several lines, which log scrapers and
   * scripts read as separate errors.)
   */
  private fail(message: string): never {
    process.stderr.write(`Error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    this.exit(1);
  }

  public async run(): Promise<void> {
    this.argv = Server.normalizeArgv(this.argv);
    const { flags } = await this.parse(Server);
    let config;
    try {
      config = buildServerConfig({
        name: flags.name,
        dataDir: flags['data-dir'],
        walDir: flags['wal-dir'],
        listenClientUrls: flags['listen-client-urls'],
        advertiseClientUrls: flags['advertise-client-urls'],
        listenPeerUrls: flags['listen-peer-urls'],
        initialAdvertisePeerUrls: flags['initial-advertise-peer-urls'],
        initialCluster: flags['initial-cluster'],
        initialClusterState: flags['initial-cluster-state'],
        initialClusterToken: flags['initial-cluster-token'],
        snapshotCount: flags['snapshot-count'],
        snapshotCatchUpEntries: flags['experimental-snapshot-catchup-entries'],
        heartbeatInterval: flags['heartbeat-interval'],
        electionTimeout: flags['election-timeout'],
        maxTxnOps: flags['max-txn-ops'],
        maxRequestBytes: flags['max-request-bytes'],
        quotaBackendBytes: flags['quota-backend-bytes'],
        strictReconfigCheck: flags['strict-reconfig-check'],
        forceNewCluster: flags['force-new-cluster'],
        autoCompactionMode: flags['auto-compaction-mode'],
        autoCompactionRetention: flags['auto-compaction-retention'],
        watchProgressNotifyInterval: flags['experimental-watch-progress-notify-interval'],
        warningApplyDuration: flags['experimental-warning-apply-duration'],
        logLevel: flags.debug ? 'debug' : flags['log-level'],
        certFile: flags['cert-file'],
        keyFile: flags['key-file'],
        trustedCaFile: flags['trusted-ca-file'],
        clientCertAuth: flags['client-cert-auth'],
        clientCrlFile: flags['client-crl-file'],
        clientCertAllowedHostname: flags['client-cert-allowed-hostname'],
        autoTls: flags['auto-tls'],
        peerCertFile: flags['peer-cert-file'],
        peerKeyFile: flags['peer-key-file'],
        peerTrustedCaFile: flags['peer-trusted-ca-file'],
        peerClientCertAuth: flags['peer-client-cert-auth'],
        peerCrlFile: flags['peer-crl-file'],
        peerCertAllowedCn: flags['peer-cert-allowed-cn'],
        peerCertAllowedHostname: flags['peer-cert-allowed-hostname'],
        peerAutoTls: flags['peer-auto-tls'],
        peerSkipClientSanVerification: flags['experimental-peer-skip-client-san-verification'],
        selfSignedCertValidity: flags['self-signed-cert-validity'],
        cipherSuites: flags['cipher-suites'],
        tlsMinVersion: flags['tls-min-version'],
        tlsMaxVersion: flags['tls-max-version'],
        maxConcurrentStreams: flags['max-concurrent-streams'],
        grpcKeepaliveMinTime: flags['grpc-keepalive-min-time'],
        grpcKeepaliveInterval: flags['grpc-keepalive-interval'],
        grpcKeepaliveTimeout: flags['grpc-keepalive-timeout'],
        // ---- authentication ----
        authToken: flags['auth-token'],
        authTokenTtl: flags['auth-token-ttl'],
        bcryptCost: flags['bcrypt-cost'],
      });
    } catch (err) {
      if (err instanceof ConfigError) this.fail(err.message);
      throw err;
    }
    const { startMember } = await import('../server/main.js');
    let member;
    try {
      member = await startMember(config);
    } catch (err) {
      this.fail(`failed to start member: ${(err as Error).message}`);
    }
    const shutdown = (signal: string): void => {
      member.log.info({ signal }, 'received signal; shutting down');
      member.stop().then(
        () => member.log.flush(() => process.exit(0)),
        (err: unknown) => {
          member.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    await new Promise<void>(() => undefined);
  }
}
