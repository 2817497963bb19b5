import assert from 'node:assert/strict';
import { Metadata, credentials, status as Status, type ServiceError } from '@grpc/grpc-js';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient, type HealthCheckResponse } from '../../src/proto/gen/grpc/health/v1/health.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { goTool, requireGo } from '../support/go-tools.js';
import { get } from '../support/http-json.js';
import { killAll, removeTempDirs, run } from '../support/procs.js';

/**
 * The probes of one healthy member, in the forms orchestrators use: etcd
 * 3.6's /livez and /readyz (terse, ?verbose, per check, ?exclude), and the
 * gRPC health service through grpc-js's client and grpc-go's own generated
 * client (test/go/src/healthprobe). How they flip when the cluster is in
 * trouble is test/cluster/health-flips.test.ts.
 */
describe('health probes of a member', function () {
  this.timeout(120_000);
  let member: EtcdtsMember;
  let health: HealthClient;

  before(async () => {
    member = await startEtcdts();
    health = new HealthClient(`127.0.0.1:${member.clientPort}`, credentials.createInsecure());
  });

  after(async () => {
    health?.close();
    await killAll();
    removeTempDirs();
  });

  const check = (service: string): Promise<HealthCheckResponse> => new Promise((resolve, reject) => {
    health.check({ service }, new Metadata(), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res?: HealthCheckResponse) => (err !== null ? reject(err) : resolve(res!)));
  });

  it('answers /livez and /readyz as etcd 3.6 does: ok, the checks with ?verbose, one check by path', async () => {
    const answers = await Promise.all(['/livez', '/readyz', '/readyz?verbose', '/livez?verbose', '/readyz/linearizable_read', '/readyz?exclude=linearizable_read&verbose']
      .map((path) => get(member.endpoint, path)));
    assert.deepEqual(answers.map((a) => [a.status, a.contentType, a.body]), [
      [200, 'text/plain; charset=utf-8', 'ok\n'],
      [200, 'text/plain; charset=utf-8', 'ok\n'],
      [200, 'text/plain; charset=utf-8', '[+]data_corruption ok\n[+]no_space ok\n[+]serializable_read ok\n[+]linearizable_read ok\nok\n'],
      [200, 'text/plain; charset=utf-8', '[+]serializable_read ok\nok\n'],
      [200, 'text/plain; charset=utf-8', 'ok\n'],
      [200, 'text/plain; charset=utf-8', '[+]data_corruption ok\n[+]no_space ok\n[+]serializable_read ok\nok\n'],
    ]);
  });

  it('takes GET only, and knows only its own checks', async () => {
    const post = await get(member.endpoint, '/readyz', 'POST');
    assert.deepEqual([post.status, post.body], [405, 'Method Not Allowed\n']);
    for (const path of ['/livez/linearizable_read', '/readyz/nothing', '/livez/', '/readyz/linearizable_read/x']) {
      assert.equal((await get(member.endpoint, path)).status, 404, path);
    }
  });

  it('serves grpc.health.v1 to grpc-js: SERVING for the whole server, NOT_FOUND for other names', async () => {
    assert.equal((await check('')).status, Serving.SERVING);
    await assert.rejects(check('etcdserverpb.KV'), (err: ServiceError) => err.code === Status.NOT_FOUND && err.details === 'unknown service');
    const statuses: number[] = [];
    const watch = health.watch({ service: '' });
    const unknown = health.watch({ service: 'other' });
    const first = await new Promise<number[]>((resolve) => {
      const seen: number[] = [];
      const done = () => {
        if (statuses.length >= 1 && seen.length >= 1) resolve([statuses[0]!, seen[0]!]);
      };
      watch.on('data', (r: HealthCheckResponse) => { statuses.push(r.status); done(); });
      unknown.on('data', (r: HealthCheckResponse) => { seen.push(r.status); done(); });
    });
    assert.deepEqual(first, [Serving.SERVING, Serving.SERVICE_UNKNOWN]);
    for (const stream of [watch, unknown]) {
      stream.on('error', () => undefined);
      stream.cancel();
    }
  });

  it('serves grpc.health.v1 to grpc-go\'s generated client, as load balancers probe it', async () => {
    requireGo();
    const probe = await goTool('healthprobe');
    const addr = `127.0.0.1:${member.clientPort}`;
    const answers = await Promise.all([
      run(probe, ['-addr', addr]),
      run(probe, ['-addr', addr, '-service', 'etcdserverpb.KV']),
      run(probe, ['-addr', addr, '-mode', 'watch']),
      run(probe, ['-addr', addr, '-mode', 'watch', '-service', 'other']),
    ]);
    assert.deepEqual(answers.map((a) => a.stdout.trim()), [
      'SERVING',
      'rpc error: code = NotFound desc = unknown service',
      'SERVING',
      'SERVICE_UNKNOWN',
    ]);
  });
});
