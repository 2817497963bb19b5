import { Registry, collectDefaultMetrics } from 'prom-client';
import type { EtcdServer } from '../../etcdserver/server.js';
import type { PeerCounters } from '../../transport/peer-counters.js';
import { clusterVersion, serverVersion } from '../../etcdserver/server.js';
import { GrpcMetrics } from './grpc-metrics.js';
import { Histogram, exponentialBuckets } from './histogram.js';
import { histogramSamples, registerFamily, type MetricType, type Sample } from './families.js';

/**
 * A member's /metrics: etcd's names, types, labels and buckets, so that
 * etcd's published Grafana dashboard and alert rules work unchanged, plus
 * the process metrics every exporter has (process_resident_memory_bytes is
 * what `etcdctl check datascale` reads).
 *
 * Values live where the work happens, as plain numbers: counters in the
 * member, the driver and the peer transport; histograms fed by hooks at
 * the WAL fsync, the backend commit and the peer probe; the gRPC server's
 * per-method counters (grpc-metrics.ts). Everything is read when /metrics is
 * scraped, so the request path pays a few increments and no allocation.
 *
 * One per member (memberMetrics), shared by every listener that serves
 * /metrics: the client URLs and --listen-metrics-urls.
 */
export interface MetricsOptions {
  /**
   * etcd's --metrics extensive: adds grpc_server_handling_seconds. Taken from
   * the member's configuration (`metrics: 'basic' | 'extensive'`) when it
   * has one, else from here; basic by default.
   */
  extensive?: boolean;
}

export class MemberMetrics {
  readonly registry = new Registry();
  readonly grpc: GrpcMetrics;
  /** etcd 3.4's /health outcomes (etcd_server_health_success / _failures). */
  readonly health = { success: 0, failures: 0 };
  /** etcd 3.6's per-check probe results: the last one (healthcheck) and counts (healthchecks_total), by "type/name". */
  private readonly checks = new Map<string, { type: string; name: string; last: number; success: number; error: number }>();
  private readonly walFsync = new Histogram(exponentialBuckets(0.001, 2, 14));
  private readonly backendCommit = new Histogram(exponentialBuckets(0.001, 2, 14));
  private readonly peerRoundTrip = new Map<bigint, Histogram>();

  constructor(private readonly server: EtcdServer, options: MetricsOptions = {}) {
    const configured = (server.config as { metrics?: string }).metrics;
    this.grpc = new GrpcMetrics(configured !== undefined ? configured === 'extensive' : options.extensive === true);
    collectDefaultMetrics({ register: this.registry });
    server.driver.wal.onSyncSeconds = (s) => this.walFsync.observe(s);
    server.backend.onCommitSeconds = (s) => this.backendCommit.observe(s);
    server.observers.peerRoundTrip = (peer, s) => this.roundTripOf(peer).observe(s);
    this.registerServer();
    this.registerStorage();
    this.registerNetwork();
    this.grpc.register(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Records one probe check's outcome (the /livez and /readyz checks). */
  recordCheck(type: string, name: string, ok: boolean): void {
    const key = `${type}/${name}`;
    let c = this.checks.get(key);
    if (c === undefined) this.checks.set(key, (c = { type, name, last: 0, success: 0, error: 0 }));
    c.last = ok ? 1 : 0;
    if (ok) c.success++;
    else c.error++;
  }

  private roundTripOf(peer: bigint): Histogram {
    let h = this.peerRoundTrip.get(peer);
    // Probed twice a prober interval on a healthy network: 0.1 ms to 3.2768 s, as etcd's.
    if (h === undefined) this.peerRoundTrip.set(peer, (h = new Histogram(exponentialBuckets(0.0001, 2, 16))));
    return h;
  }

  private family(name: string, help: string, type: MetricType, collect: () => Sample[]): void {
    registerFamily(this.registry, name, help, type, collect);
  }

  private single(name: string, help: string, type: MetricType, read: () => number): void {
    this.family(name, help, type, () => [{ value: read() }]);
  }

  private registerServer(): void {
    const s = this.server;
    const driver = s.driver;
    this.single('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', 'gauge', () => (s.leaderId !== 0n ? 1 : 0));
    this.single('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', 'gauge', () => (driver.isLeader ? 1 : 0));
    this.single('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', 'gauge', () => (s.isLearner ? 1 : 0));
    this.single('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.', 'counter', () => driver.counters.leadersSeen);
    this.single('etcd_server_heartbeat_send_failures_total', 'The total number of leader heartbeat send failures (likely overloaded from slow disk).', 'counter',
      () => driver.counters.heartbeatSendFailures);
    this.single('etcd_server_slow_apply_total', 'The total number of slow apply requests (likely overloaded from slow disk).', 'counter', () => s.slowRequests.count);
    this.single('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.', 'gauge', () => Number(s.committedIndex));
    this.single('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.', 'gauge', () => Number(s.appliedIndex));
    this.single('etcd_server_proposals_pending', 'The current number of pending proposals to commit.', 'gauge', () => s.proposalsPending);
    this.single('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.', 'counter', () => s.counters.proposalsFailed);
    this.single('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.', 'gauge', () => s.config.quotaBackendBytes);
    this.family('etcd_server_version', 'Which version is running. 1 for \'server_version\' label with current version.', 'gauge',
      () => [{ labels: { server_version: serverVersion }, value: 1 }]);
    this.family('etcd_cluster_version', 'Which version is running. 1 for \'cluster_version\' label with current cluster version', 'gauge',
      () => [{ labels: { cluster_version: clusterVersion.split('.').slice(0, 2).join('.') }, value: 1 }]);
    this.family('etcd_server_id', 'Server or member ID in hexadecimal format. 1 for \'server_id\' label with current ID.', 'gauge',
      () => [{ labels: { server_id: s.memberId.toString(16) }, value: 1 }]);
    this.single('etcd_server_health_success', 'The total number of successful health checks', 'counter', () => this.health.success);
    this.single('etcd_server_health_failures', 'The total number of failed health checks', 'counter', () => this.health.failures);
    this.family('etcd_server_healthcheck', 'The result of each kind of healthcheck.', 'gauge',
      () => [...this.checks.values()].map((c) => ({ labels: { name: c.name, type: c.type }, value: c.last })));
    this.family('etcd_server_healthchecks_total', 'The total number of each kind of healthcheck.', 'counter',
      () => [...this.checks.values()].flatMap((c) => [
        { labels: { name: c.name, status: 'error', type: c.type }, value: c.error },
        { labels: { name: c.name, status: 'success', type: c.type }, value: c.success },
      ]));
    // Not an etcd metric: alarms are otherwise invisible to monitoring (users ask for them, etcd#14497).
    this.single('etcd_server_alarms', 'Number of raised alarms.', 'gauge', () => s.alarms.get().length);
  }

  private registerStorage(): void {
    const s = this.server;
    this.single('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', 'gauge', () => s.backend.sizeBytes());
    this.single('etcd_debugging_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', 'gauge', () => s.backend.sizeBytes());
    this.single('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.', 'gauge', () => s.backend.sizeInUseBytes());
    this.single('etcd_debugging_mvcc_keys_total', 'Total number of keys.', 'gauge', () => s.store.index.size);
    this.single('etcd_debugging_mvcc_current_revision', 'The current revision of store.', 'gauge', () => Number(s.store.currentRev));
    this.single('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.', 'gauge', () => Number(s.store.compactMainRev));
    this.single('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', 'gauge', () => s.watchable.syncedCount + s.watchable.unsyncedCount);
    this.single('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.', 'gauge', () => s.watchable.unsyncedCount);
    this.family('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', 'histogram', () => histogramSamples(this.walFsync));
    this.family('etcd_disk_backend_commit_duration_seconds', 'The latency distributions of commit called by backend.', 'histogram', () => histogramSamples(this.backendCommit));
  }

  private registerNetwork(): void {
    const peers = (read: (c: Readonly<PeerCounters>) => number, label: 'To' | 'From') => (): Sample[] =>
      [...(this.server.peerView?.counters() ?? new Map()).entries()].map(([id, c]) => ({ labels: { [label]: id.toString(16) }, value: read(c) }));
    this.family('etcd_network_peer_sent_bytes_total', 'The total number of bytes sent to peers.', 'counter', peers((c) => c.bytesSent, 'To'));
    this.family('etcd_network_peer_received_bytes_total', 'The total number of bytes received from peers.', 'counter', peers((c) => c.bytesReceived, 'From'));
    this.family('etcd_network_peer_sent_failures_total', 'The total number of send failures from peers.', 'counter', peers((c) => c.sendFailures, 'To'));
    this.family('etcd_network_peer_received_failures_total', 'The total number of receive failures from peers.', 'counter', peers((c) => c.receiveFailures, 'From'));
    this.family('etcd_network_active_peers', 'The current number of active peer connections.', 'gauge', () => {
      const view = this.server.peerView;
      const local = this.server.memberId.toString(16);
      return [...(view?.counters().keys() ?? [])].map((id) => ({ labels: { Local: local, Remote: id.toString(16) }, value: view!.isActive(id) ? 1 : 0 }));
    });
    this.family('etcd_network_peer_round_trip_time_seconds', 'Round-Trip-Time histogram between peers', 'histogram',
      () => [...this.peerRoundTrip.entries()].flatMap(([id, h]) => histogramSamples(h, { To: id.toString(16) })));
  }
}

const perMember = new WeakMap<EtcdServer, MemberMetrics>();

/** The member's metrics, made on first use (options count only then). */
export function memberMetrics(server: EtcdServer, options: MetricsOptions = {}): MemberMetrics {
  let m = perMember.get(server);
  if (m === undefined) perMember.set(server, (m = new MemberMetrics(server, options)));
  return m;
}
