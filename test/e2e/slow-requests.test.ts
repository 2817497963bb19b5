import assert from 'node:assert/strict';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { get, post } from '../support/http-json.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';

/**
 * The slow-request log with --experimental-warning-apply-duration set so low
 * that every request is slow: etcd's message and fields, reads with etcd's
 * "read-only range " prefix, the count in etcd_server_slow_apply_total, and
 * no key in the log once authentication is on.
 */
interface SlowLine {
  took: string;
  'expected-duration': string;
  prefix: string;
  request: string;
  response: string;
  error?: string;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('slow-request log (--experimental-warning-apply-duration)', function () {
  this.timeout(60_000);
  let member: EtcdtsMember;

  before(async () => {
    member = await startEtcdts({ extraArgs: ['--experimental-warning-apply-duration', '1ns', '--log-level', 'warn'] });
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  const slowLines = (): SlowLine[] => member.proc.output().split('\n')
    .filter((l) => l.includes('"msg":"apply request took too long"'))
    .map((l) => JSON.parse(l) as SlowLine);

  /** The first slow line from the `from`th on that matches. */
  async function logged(match: (l: SlowLine) => boolean, from = 0): Promise<SlowLine> {
    return waitFor('the slow request to be logged', () => slowLines().slice(from).find(match), 10_000, 20);
  }

  it('logs a slow write and a slow read with etcd\'s fields, and counts them', async () => {
    assert.equal((await post(member.endpoint, '/v3/kv/put', `{"key":"${b64('visible-key')}","value":"${b64('the-value')}"}`)).status, 200);
    const put = await logged((l) => l.request.includes('put:<'));
    assert.equal(put['expected-duration'], '1ns');
    assert.equal(put.prefix, '');
    assert.match(put.took, /^[\d.]+(ns|µs|ms|s)$/);
    assert.match(put.request, /^header:<ID:\d+ > put:<key:"visible-key" value_size:9 >$/);
    assert.match(put.response, /^size:\d+$/);
    assert.ok(!JSON.stringify(put).includes('the-value'), 'a value was logged');
    await post(member.endpoint, '/v3/kv/range', `{"key":"${b64('visible-key')}"}`);
    const read = await logged((l) => l.prefix === 'read-only range ');
    assert.equal(read.request, 'key:"visible-key" ');
    assert.match(read.response, /^range_response_count:1 size:\d+$/);
    const metrics = (await get(member.endpoint, '/metrics')).body;
    const slow = Number(/^etcd_server_slow_apply_total (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(slow >= 2, `etcd_server_slow_apply_total ${slow}`);
  });

  it('logs key sizes, never keys, passwords or tokens, once authentication is on', async () => {
    for (const [path, body] of [
      ['/v3/auth/user/add', '{"name":"root","password":"rootpw"}'],
      ['/v3/auth/user/grant', '{"user":"root","role":"root"}'],
      ['/v3/auth/enable', '{}'],
    ]) assert.equal((await post(member.endpoint, path!, body!)).status, 200, path);
    const login = await post(member.endpoint, '/v3/auth/authenticate', '{"name":"root","password":"rootpw"}');
    const token = (JSON.parse(login.body) as { token: string }).token;
    const before = slowLines().length;
    assert.equal((await post(member.endpoint, '/v3/kv/put', `{"key":"${b64('tenant-42/secret-name')}","value":"${b64('v')}"}`, { Authorization: token })).status, 200);
    assert.equal((await post(member.endpoint, '/v3/kv/range', `{"key":"${b64('tenant-42/secret-name')}"}`, { Authorization: token })).status, 200);
    await logged((l) => l.prefix === 'read-only range ', before);
    const lines = slowLines().slice(before);
    const put = lines.find((l) => l.request.includes('put:<'))!;
    assert.match(put.request, /^header:<ID:\d+ username:"root" auth_revision:\d+ > put:<key_size:21 value_size:1 >$/);
    const text = member.proc.output();
    for (const secret of ['tenant-42', 'secret-name', 'rootpw', token]) assert.ok(!text.includes(secret), `the log holds ${secret}`);
  });
});
