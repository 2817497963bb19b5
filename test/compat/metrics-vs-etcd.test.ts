import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { GrpcMetrics } from '../../src/server/api/metrics/grpc-metrics.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { goTool, requireGo } from '../support/go-tools.js';
import { get, openStream, post } from '../support/http-json.js';
import { killAll, removeTempDirs, run, waitFor } from '../support/procs.js';
import { requireRealEtcd } from '../support/real-etcd.js';

/**
 * /metrics as Prometheus reads it (parsed by the Prometheus project's own
 * text parser, test/go/src/promparse), beside a real etcd 3.4.23 cluster
 * scraped in the same test: every family etcd's dashboard and alert rules
 * use is there with etcd's type and label names, and under a short load
 * the counters and histograms move by what the load did.
 */

interface Family {
  type: string;
  labels: string[];
  samples: number;
  values: Record<string, number>;
}

type Families = Record<string, Family>;

let promparse = '';

async function parse(text: string): Promise<Families> {
  const parsed = await run(promparse, [], { input: text });
  assert.equal(parsed.code, 0, `the Prometheus parser refused /metrics: ${parsed.stderr}`);
  return JSON.parse(parsed.stdout) as Families;
}

async function scrape(endpoint: string): Promise<Families> {
  const answer = await get(endpoint, '/metrics');
  assert.equal(answer.status, 200);
  assert.equal(answer.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  return parse(answer.body);
}

/** The sum of a family's samples whose labels include all of `match` (for a histogram, its observation counts). */
function total(f: Families, name: string, match: Record<string, string> = {}): number {
  const family = f[name];
  assert.ok(family !== undefined, `no family ${name}`);
  let sum = 0;
  for (const [labels, value] of Object.entries(family.values)) {
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}=${v},`))) sum += value;
  }
  return sum;
}

/** The families the issue names: etcd's dashboard and alert rules read them. */
const required = [
  'etcd_server_has_leader', 'etcd_server_is_leader', 'etcd_server_leader_changes_seen_total',
  'etcd_server_proposals_committed_total', 'etcd_server_proposals_applied_total', 'etcd_server_proposals_pending', 'etcd_server_proposals_failed_total',
  'etcd_server_heartbeat_send_failures_total', 'etcd_server_slow_apply_total',
  'etcd_disk_wal_fsync_duration_seconds', 'etcd_disk_backend_commit_duration_seconds',
  'etcd_mvcc_db_total_size_in_bytes', 'etcd_mvcc_db_total_size_in_use_in_bytes', 'etcd_debugging_mvcc_keys_total',
  'etcd_network_peer_round_trip_time_seconds', 'etcd_network_peer_sent_bytes_total', 'etcd_network_peer_received_bytes_total',
  'etcd_network_client_grpc_received_bytes_total', 'etcd_network_client_grpc_sent_bytes_total',
  'grpc_server_started_total', 'grpc_server_handled_total', 'grpc_server_msg_received_total', 'grpc_server_msg_sent_total',
  'process_resident_memory_bytes',
];

describe('/metrics against etcd 3.4.23', function () {
  this.timeout(180_000);
  let ours: Cluster;
  let ref: Cluster;

  before(async function () {
    requireRealEtcd();
    requireGo();
    promparse = await goTool('promparse');
    [ours, ref] = await Promise.all([startCluster({ size: 2 }), startCluster({ size: 2, kind: 'etcd', extraArgs: ['--metrics', 'extensive'] })]);
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  /** Both clusters' first member, once each has measured a round trip to its peer. */
  async function scrapeBoth(): Promise<[Families, Families]> {
    return waitFor('both clusters to report peer round trips', async () => {
      const pair = await Promise.all([scrape(ours.members[0]!.clientUrl), scrape(ref.members[0]!.clientUrl)]);
      return pair.every((f) => f.etcd_network_peer_round_trip_time_seconds !== undefined) ? pair : undefined;
    }, 60_000, 500);
  }

  it('has every family etcd\'s dashboard and alerts use, with etcd\'s type and label names', async () => {
    const [mine, theirs] = await scrapeBoth();
    const differences: string[] = [];
    for (const name of required) {
      const a = mine[name];
      const b = theirs[name];
      if (a === undefined) differences.push(`${name}: missing`);
      else if (b === undefined) differences.push(`${name}: not in etcd's /metrics`);
      else if (a.type !== b.type || a.labels.join() !== b.labels.join()) differences.push(`${name}: ${a.type} ${a.labels} vs etcd's ${b.type} ${b.labels}`);
    }
    // And every other family both export agrees too.
    for (const [name, a] of Object.entries(mine)) {
      const b = theirs[name];
      if (b !== undefined && (a.type !== b.type || a.labels.join() !== b.labels.join())) differences.push(`${name}: ${a.type} ${a.labels} vs etcd's ${b.type} ${b.labels}`);
    }
    assert.deepEqual(differences, []);
    // Histogram buckets are etcd's: the same series count per histogram (14 buckets + +Inf).
    const walBuckets = (f: Families) => f.etcd_disk_wal_fsync_duration_seconds!.samples;
    assert.equal(walBuckets(mine), walBuckets(theirs));
  });

  it('moves counters and histograms by what a short load does', async () => {
    const endpoint = ours.members[0]!.clientUrl;
    const before = await scrape(endpoint);
    const puts = 50;
    for (let i = 0; i < puts; i++) {
      const answer = await post(endpoint, '/v3/kv/put', JSON.stringify({ key: Buffer.from(`load/${i}`).toString('base64'), value: 'dg==' }));
      assert.equal(answer.status, 200);
    }
    assert.equal((await post(endpoint, '/v3/kv/range', '{"key":""}')).status, 400);
    const watch = await openStream(endpoint, '/v3/watch', '{"create_request":{"key":"bG9hZC8w"}}');
    await watch.next();
    watch.close();
    const after = await waitFor('the watch to be counted as ended', async () => {
      const f = await scrape(endpoint);
      return total(f, 'grpc_server_handled_total', { grpc_method: 'Watch' }) > total(before, 'grpc_server_handled_total', { grpc_method: 'Watch' }) ? f : undefined;
    }, 10_000, 100);
    const grew = (name: string, match: Record<string, string> = {}) => total(after, name, match) - total(before, name, match);
    const put = { grpc_method: 'Put', grpc_service: 'etcdserverpb.KV', grpc_type: 'unary' };
    assert.equal(grew('grpc_server_started_total', put), puts);
    assert.equal(grew('grpc_server_handled_total', { ...put, grpc_code: 'OK' }), puts);
    assert.equal(grew('grpc_server_msg_received_total', put), puts);
    assert.equal(grew('grpc_server_msg_sent_total', put), puts);
    assert.equal(grew('grpc_server_handled_total', { grpc_method: 'Range', grpc_code: 'InvalidArgument' }), 1);
    assert.equal(grew('grpc_server_started_total', { grpc_method: 'Watch', grpc_type: 'bidi_stream' }), 1);
    assert.equal(grew('grpc_server_handled_total', { grpc_method: 'Watch', grpc_code: 'Canceled' }), 1);
    assert.ok(grew('etcd_network_client_grpc_received_bytes_total') >= puts * 10, 'request bytes counted');
    assert.ok(grew('etcd_network_client_grpc_sent_bytes_total') >= puts * 20, 'response bytes counted');
    assert.ok(grew('etcd_server_proposals_committed_total') >= puts);
    assert.ok(grew('etcd_server_proposals_applied_total') >= puts);
    assert.ok(grew('etcd_disk_wal_fsync_duration_seconds') >= 1, 'WAL fsyncs observed');
    assert.ok(grew('etcd_disk_backend_commit_duration_seconds') >= 1, 'backend commits observed');
    assert.ok(grew('etcd_network_peer_sent_bytes_total') > 0, 'the leader or follower sent to its peer');
    assert.equal(total(after, 'etcd_debugging_mvcc_keys_total'), puts);
    assert.equal(total(after, 'etcd_server_has_leader'), 1);
    assert.equal(total(after, 'etcd_server_proposals_failed_total'), total(before, 'etcd_server_proposals_failed_total'));
  });

  it('adds grpc_server_handling_seconds with --metrics extensive, as etcd\'s', async () => {
    const theirs = (await scrape(ref.members[0]!.clientUrl)).grpc_server_handling_seconds;
    assert.ok(theirs !== undefined, 'etcd --metrics extensive exports grpc_server_handling_seconds');
    const metrics = new GrpcMetrics(true);
    const observer = metrics.observe('/etcdserverpb.KV/Put', 'unary');
    observer.started();
    observer.handled(0, performance.now() - 30);
    const registry = new Registry();
    metrics.register(registry);
    const mine = (await parse(await registry.metrics())).grpc_server_handling_seconds!;
    assert.deepEqual([mine.type, mine.labels], [theirs.type, theirs.labels]);
    assert.equal(mine.values['grpc_method=Put,grpc_service=etcdserverpb.KV,grpc_type=unary,'], 1);
    const basic = new Registry();
    new GrpcMetrics(false).register(basic);
    assert.ok(!(await basic.metrics()).includes('grpc_server_handling_seconds'), 'basic leaves it out, as etcd does');
  });
});
