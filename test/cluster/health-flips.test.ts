import assert from 'node:assert/strict';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient, type HealthCheckResponse } from '../../src/proto/gen/grpc/health/v1/health.js';
import { leaderOf, startCluster, type Cluster, type ClusterMember } from '../support/cluster.js';
import { goTool, requireGo } from '../support/go-tools.js';
import { get, post } from '../support/http-json.js';
import { killAll, removeTempDirs, start, waitFor } from '../support/procs.js';

/**
 * How a member's health probes flip on a real three-member cluster, and
 * back: when the leader is killed (the followers cannot read linearizably
 * until a new leader is elected), when quorum is lost, and when a NOSPACE
 * alarm is raised. What each probe says is deliberate (src/server/api/
 * health.ts): /livez never fails for the cluster's troubles, /health and
 * /readyz do, and gRPC health follows leadership and reads but not NOSPACE,
 * which every member shares.
 *
 * A long election timeout (3 s) keeps each outage long enough for every
 * probe to see it.
 */

const quotaBytes = 2 * 1024 * 1024;

interface Probes {
  health: number;
  readyz: string;
  livez: number;
  grpc: string;
}

async function probes(m: ClusterMember): Promise<Probes> {
  const [health, readyz, livez, grpc] = await Promise.all([
    get(m.clientUrl, '/health'), get(m.clientUrl, '/readyz'), get(m.clientUrl, '/livez'), grpcStatus(m),
  ]);
  return { health: health.status, readyz: `${readyz.status} ${readyz.body}`, livez: livez.status, grpc };
}

function grpcStatus(m: ClusterMember): Promise<string> {
  const client = new HealthClient(`127.0.0.1:${m.clientPort}`, credentials.createInsecure());
  return new Promise<string>((resolve) => {
    client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res?: HealthCheckResponse) => {
      client.close();
      resolve(err !== null ? `error ${err.code}` : Serving[res!.status]);
    });
  });
}

const healthy: Probes = { health: 200, readyz: '200 ok\n', livez: 200, grpc: 'SERVING' };

describe('health probes flip with the cluster\'s troubles, and back', function () {
  this.timeout(300_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ size: 3, extraArgs: ['--election-timeout', '3000', '--quota-backend-bytes', String(quotaBytes)] });
    await leaderOf(cluster);
    await allHealthy();
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const running = (): ClusterMember[] => cluster.members.filter((m) => m.proc !== undefined);

  async function allHealthy(): Promise<void> {
    await waitFor('every running member to probe healthy', async () => {
      const all = await Promise.all(running().map(probes));
      return all.every((p) => JSON.stringify(p) === JSON.stringify(healthy));
    }, 60_000, 200);
  }

  it('flips /health, /readyz and gRPC health on the followers while a killed leader is replaced; /livez stays ok', async function () {
    const leader = await leaderOf(cluster);
    const follower = cluster.members.find((m) => m.name !== leader)!;
    // grpc-go's own client watches the follower's status through the outage.
    requireGo();
    const watcher = start(await goTool('healthprobe'), ['-addr', `127.0.0.1:${follower.clientPort}`, '-mode', 'watch', '-n', '3', '-timeout', '120s']);
    await waitFor('the watch to see SERVING', () => watcher.output().includes('SERVING'), 10_000, 50);
    await cluster.kill(leader);
    const seen = { health: false, readyz: false, grpc: false };
    const livez: number[] = [];
    await waitFor('the follower to report the outage on every probe', async () => {
      const p = await probes(follower);
      livez.push(p.livez);
      seen.health ||= p.health === 503;
      seen.readyz ||= p.readyz.startsWith('503 ') && p.readyz.includes('[-]linearizable_read failed: ');
      seen.grpc ||= p.grpc === 'NOT_SERVING';
      return seen.health && seen.readyz && seen.grpc;
    }, 60_000, 100);
    assert.ok(livez.every((s) => s === 200), `/livez answered ${livez.join(',')}`);
    await allHealthy();
    if (watcher !== undefined) {
      await watcher.exited;
      assert.deepEqual(watcher.output().trim().split('\n'), ['SERVING', 'NOT_SERVING', 'SERVING']);
    }
    await cluster.restart(leader);
    await allHealthy();
  });

  it('flips them on the last member standing when quorum is lost, and back when it returns', async () => {
    const [survivor, ...others] = cluster.members;
    for (const m of others) await cluster.kill(m.name);
    const down = await waitFor('the survivor to report lost quorum', async () => {
      const p = await probes(survivor!);
      return p.health === 503 && p.readyz.startsWith('503 ') && p.grpc === 'NOT_SERVING' ? p : undefined;
    }, 60_000, 200);
    assert.equal(down.livez, 200, 'a member without quorum is still alive: no liveness probe may restart it');
    assert.match(down.readyz, /\[\+\]serializable_read ok\n\[-\]linearizable_read failed: /);
    for (const m of others) await cluster.restart(m.name);
    await allHealthy();
  });

  it('flips /health and /readyz (not /livez, not gRPC) on every member while NOSPACE is raised, and back when disarmed', async () => {
    const endpoint = running()[0]!.clientUrl;
    const big = JSON.stringify({ key: 'Ymln', value: Buffer.alloc(256 * 1024, 1).toString('base64') });
    await waitFor('a put to be refused for space', async () => (await post(endpoint, '/v3/kv/put', big)).status === 429, 60_000, 10);
    await waitFor('every member to see the alarm', async () => {
      const all = await Promise.all(running().map((m) => get(m.clientUrl, '/health')));
      return all.every((a) => a.status === 503);
    }, 30_000, 100);
    for (const m of running()) {
      const p = await probes(m);
      assert.deepEqual(p, { health: 503, readyz: `503 ${noSpaceReport}`, livez: 200, grpc: 'SERVING' }, m.name);
      const body = await get(m.clientUrl, '/health');
      assert.deepEqual([body.contentType, body.body], ['text/plain; charset=utf-8', '{"health":"false"}\n']);
      assert.equal((await get(m.clientUrl, '/health?exclude=NOSPACE')).status, 200);
      assert.equal((await get(m.clientUrl, '/readyz?exclude=no_space')).status, 200);
    }
    const alarms = JSON.parse((await post(endpoint, '/v3/maintenance/alarm', '{"action":"GET"}')).body) as { alarms: Array<{ memberID: string }> };
    for (const a of alarms.alarms) {
      const disarmed = await post(endpoint, '/v3/maintenance/alarm', JSON.stringify({ action: 'DEACTIVATE', memberID: a.memberID, alarm: 'NOSPACE' }));
      assert.equal(disarmed.status, 200);
    }
    await allHealthy();
  });
});

const noSpaceReport = '[+]data_corruption ok\n[-]no_space failed: alarm activated: NOSPACE\n[+]serializable_read ok\n[+]linearizable_read ok\n\n';
