import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { EtcdServer } from '../etcdserver/server.js';
import { serverVersion } from '../etcdserver/server.js';

/**
 * /metrics in Prometheus text format: the process metrics every Go/Node
 * exporter has (process_resident_memory_bytes is what `etcdctl check
 * datascale` reads) plus etcd's metric names for what the member counts.
 * Values are read from the member's counters at scrape time, so nothing on
 * the request path pays for metrics.
 */
export function createMetrics(server: EtcdServer): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, read: () => number, labels?: Record<string, string>) => {
    new Gauge({
      name, help, registers: [registry], labelNames: labels === undefined ? [] : Object.keys(labels),
      collect() {
        if (labels === undefined) this.set(read());
        else this.set(labels, read());
      },
    });
  };
  const counter = (name: string, help: string, read: () => number) => {
    let last = 0;
    new Counter({
      name, help, registers: [registry],
      collect() {
        const now = read();
        if (now > last) this.inc(now - last);
        last = now;
      },
    });
  };
  gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', () => (server.leaderId !== 0n ? 1 : 0));
  gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', () => (server.driver.isLeader ? 1 : 0));
  gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', () => (server.isLearner ? 1 : 0));
  counter('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.', () => server.driver.counters.leaderChanges);
  gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.', () => Number(server.committedIndex));
  gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.', () => Number(server.appliedIndex));
  gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.', () => Math.max(0, Number(server.committedIndex - server.appliedIndex)));
  counter('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.', () => server.counters.proposalsFailed);
  gauge('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.', () => server.config.quotaBackendBytes);
  gauge('etcd_server_version', 'Which version is running. 1 for \'server_version\' label with current version.', () => 1, { server_version: serverVersion });
  gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.', () => server.backend.sizeBytes());
  gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.', () => server.backend.sizeInUseBytes());
  gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.', () => server.store.index.size);
  gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.', () => Number(server.store.currentRev));
  gauge('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.', () => Number(server.store.compactMainRev));
  gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.', () => server.watchable.syncedCount + server.watchable.unsyncedCount);
  gauge('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.', () => server.watchable.unsyncedCount);
  counter('etcd_disk_wal_fsync_total', 'The total number of WAL fsyncs (etcd exports their durations as etcd_disk_wal_fsync_duration_seconds).', () => server.driver.counters.walSaves);
  counter('etcd_debugging_disk_backend_commit_total', 'The total number of backend commits.', () => server.backend.stats.commits);
  gauge('etcd_server_alarms', 'Number of raised alarms.', () => server.alarms.get().length);
  return registry;
}
