import assert from 'node:assert/strict';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, removeTempDirs } from '../support/procs.js';
import { requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';
import { get, normalize, openStream, post, type HttpAnswer, type LineStream } from '../support/http-json.js';

/**
 * The HTTP/JSON gateway, request for request against etcd 3.4.23: the same
 * requests in the same order to a fresh real etcd and a fresh etcdts give
 * the same status, content type and JSON, byte for byte once ids, terms,
 * sizes and ports are normalized (test/support/http-json.ts). Revisions are
 * not normalized: both stores see the same writes.
 */

/** Long bodies (oversized requests) shortened for failure messages. */
function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}... (${text.length} chars)` : text;
}

/** A request: path, body, and the token to send as Authorization (etcd's gateway takes it from there). */
type Step = [path: string, body: string, auth?: 'token'];

/** What the two servers may differ in, each for a stated reason. */
function comparable(path: string, answer: HttpAnswer): string {
  let body = normalize(answer.body);
  // Status carries dbSizeQuota, a field etcd added in 3.5: our Status service fills it for gRPC clients too.
  if (path === '/v3/maintenance/status') body = body.replace(/,"dbSizeQuota":"\d+"/, '');
  return `${answer.status} ${answer.contentType} ${body}`;
}

describe('HTTP/JSON gateway against etcd 3.4.23', function () {
  this.timeout(120_000);
  const endpoints = { etcd: '', etcdts: '' };
  const tokens = { etcd: '', etcdts: '' };

  before(async function () {
    requireRealEtcd();
    const [ref, ours] = await Promise.all([startRealEtcd(), startEtcdts({ name: 'ref' })]);
    endpoints.etcd = ref.endpoint;
    endpoints.etcdts = ours.endpoint;
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  /** Runs the steps on both servers in order and compares every answer. */
  async function same(steps: Step[]): Promise<void> {
    const diffs: string[] = [];
    for (const [path, body, auth] of steps) {
      const answers = await Promise.all((['etcd', 'etcdts'] as const).map(async (kind) => {
        const headers: Record<string, string> = auth === 'token' ? { Authorization: tokens[kind] } : {};
        return comparable(path, await post(endpoints[kind], path, body, headers));
      }));
      if (answers[0] !== answers[1]) diffs.push(`POST ${path} ${clip(body)}\n  etcd:   ${clip(answers[0]!)}\n  etcdts: ${clip(answers[1]!)}`);
    }
    assert.deepEqual(diffs, []);
  }

  /** Opens the same stream on both servers. */
  async function streams(path: string, body: string): Promise<{ etcd: LineStream; etcdts: LineStream }> {
    const [etcd, etcdts] = await Promise.all([openStream(endpoints.etcd, path, body), openStream(endpoints.etcdts, path, body)]);
    return { etcd, etcdts };
  }

  async function sameLines(s: { etcd: LineStream; etcdts: LineStream }, count: number): Promise<string[]> {
    const lines: string[][] = [[], []];
    for (let i = 0; i < count; i++) {
      lines[0]!.push(normalize((await s.etcd.next()) ?? '<end>'));
      lines[1]!.push(normalize((await s.etcdts.next()) ?? '<end>'));
    }
    assert.deepEqual(lines[1], lines[0]);
    return lines[0]!;
  }

  it('answers KV requests as etcd does: put, range in all its forms, delete, txn, compaction', async () => {
    await same([
      ['/v3/kv/put', '{"key":"Zm9v","value":"YmFy"}'],
      ['/v3/kv/put', '{"key":"Zm9v","value":"YmF6","prev_kv":true}'],
      ['/v3/kv/put', '{"key":"YQ==","value":"MQ=="}'],
      ['/v3/kv/put', '{"key":"Yg==","value":"Ig==","lease":"0"}'],
      ['/v3/kv/put', '{"key":"Yg==","ignore_value":true,"prevKv":true}'],
      ['/v3/kv/range', '{"key":"YQ==","range_end":"ew==","sort_order":"DESCEND","sort_target":"KEY"}'],
      ['/v3/kv/range', '{"key":"YQ==","rangeEnd":"ew==","count_only":true}'],
      ['/v3/kv/range', '{"key":"YQ==","range_end":"ew==","limit":1,"keys_only":true}'],
      ['/v3/kv/range', '{"key":"AA==","range_end":"AA==","min_mod_revision":"3","serializable":true}'],
      ['/v3/kv/range', '{"key":"YQ==","revision":100}'],
      ['/v3/kv/txn', '{"compare":[{"key":"Zm9v","target":"VALUE","result":"EQUAL","value":"YmF6"}],"success":[{"request_put":{"key":"Zm9v","value":"cXV4"}},{"request_range":{"key":"Zm9v"}}],"failure":[{"request_delete_range":{"key":"Zm9v"}}]}'],
      ['/v3/kv/txn', '{"compare":[{"key":"Zm9v","target":"VERSION","result":"GREATER","version":"10"}],"failure":[{"request_range":{"key":"Zm9v"}},{"request_txn":{"success":[{"request_range":{"key":"YQ=="}}]}}]}'],
      ['/v3/kv/txn', '{"compare":[{"key":"Zm9v","target":"MOD","result":"LESS","mod_revision":"100"},{"key":"Yg==","target":"CREATE","createRevision":"5"}],"success":[{"requestDeleteRange":{"key":"Yg==","prev_kv":true}}]}'],
      ['/v3/kv/txn', '{"success":[{"request_put":{"key":"ZA==","value":"MQ=="}},{"request_delete_range":{"key":"ZA=="}}]}'],
      ['/v3/kv/deleterange', '{"key":"YQ==","prev_kv":true}'],
      ['/v3/kv/deleterange', '{"key":"eHh4","range_end":"eHh5"}'],
      ['/v3/kv/compaction', '{"revision":3}'],
      ['/v3/kv/compaction', '{"revision":3,"physical":true}'],
      ['/v3/kv/range', '{"key":"Zm9v","revision":2}'],
      ['/v3/kv/compaction', '{"revision":300}'],
    ]);
  });

  it('answers lease requests as etcd does, at both of their paths', async () => {
    await same([
      ['/v3/lease/grant', '{"TTL":60,"ID":"1000"}'],
      ['/v3/lease/grant', '{"TTL":60,"ID":"1000"}'],
      ['/v3/lease/grant', '{"TTL":"99999999999","ID":"5"}'],
      ['/v3/kv/put', '{"key":"bA==","value":"MQ==","lease":"1000"}'],
      ['/v3/kv/put', '{"key":"bQ==","value":"MQ==","lease":"1001"}'],
      ['/v3/lease/timetolive', '{"ID":"1000","keys":true}'],
      ['/v3/kv/lease/timetolive', '{"ID":"1001"}'],
      ['/v3/lease/leases', '{}'],
      ['/v3/kv/lease/leases', ''],
      ['/v3/lease/revoke', '{"ID":"1000"}'],
      ['/v3/kv/lease/revoke', '{"ID":"1000"}'],
      ['/v3/kv/range', '{"key":"bA=="}'],
    ]);
  });

  it('answers cluster and maintenance requests as etcd does', async () => {
    await same([
      ['/v3/cluster/member/list', '{}'],
      ['/v3/cluster/member/add', '{"peerURLs":["bad"]}'],
      ['/v3/cluster/member/remove', '{"ID":"7"}'],
      ['/v3/cluster/member/update', '{"ID":"7","peerURLs":["http://127.0.0.1:2"]}'],
      ['/v3/cluster/member/promote', '{"ID":"7"}'],
      ['/v3/maintenance/status', '{}'],
      ['/v3/maintenance/alarm', '{"action":"GET"}'],
      ['/v3/maintenance/alarm', '{"action":"DEACTIVATE","memberID":"5","alarm":"NOSPACE"}'],
      ['/v3/maintenance/hash', '{}'],
      ['/v3/maintenance/defragment', '{}'],
      ['/v3/maintenance/transfer-leadership', '{"targetID":"5"}'],
    ]);
    // A learner joins both member lists; its id is the server's to pick, the rest is etcd's.
    const added = await Promise.all([endpoints.etcd, endpoints.etcdts].map((e) => post(e, '/v3/cluster/member/add', '{"peerURLs":["http://127.0.0.1:1"],"isLearner":true}')));
    const learner = added.map((a) => JSON.parse(a.body).member as Record<string, unknown>);
    assert.deepEqual({ ...learner[1], ID: 'x' }, { ...learner[0], ID: 'x' });
    const removed = await Promise.all([endpoints.etcd, endpoints.etcdts].map((e, i) => post(e, '/v3/cluster/member/remove', JSON.stringify({ ID: learner[i]!.ID }))));
    assert.deepEqual(removed.map((r) => r.status), [200, 200], removed.map((r) => r.body).join('\n'));
    await same([['/v3/cluster/member/list', '']]);
  });

  it('runs locks and elections as etcd does', async () => {
    await same([
      ['/v3/lease/grant', '{"TTL":60,"ID":"77"}'],
      ['/v3/lock/lock', '{"name":"bG9jaw==","lease":"77"}'],
      ['/v3/lock/unlock', '{"key":"bG9jay80ZA=="}'],
      ['/v3/election/campaign', '{"name":"ZWw=","lease":"77","value":"djE="}'],
      ['/v3/election/leader', '{"name":"ZWw="}'],
      ['/v3/election/leader', '{"name":"bm9uZQ=="}'],
      ['/v3/election/proclaim', '{}'],
      ['/v3/election/resign', '{}'],
    ]);
    const leader = JSON.parse((await post(endpoints.etcdts, '/v3/election/leader', '{"name":"ZWw="}')).body).kv as { key: string; create_revision: string };
    const key = JSON.stringify({ name: 'ZWw=', key: leader.key, rev: leader.create_revision, lease: '77' });
    const observed = await streams('/v3/election/observe', '{"name":"ZWw="}');
    await sameLines(observed, 1);
    await same([['/v3/election/proclaim', `{"leader":${key},"value":"djI="}`]]);
    await sameLines(observed, 1);
    observed.etcd.close();
    observed.etcdts.close();
    await same([['/v3/election/resign', `{"leader":${key}}`], ['/v3/lease/revoke', '{"ID":"77"}']]);
  });

  it('streams a watch as etcd does: creates, filters, progress, cancels, events with prev_kv', async () => {
    const body = [
      '{"create_request":{"key":"dy8=","range_end":"dzA=","prev_kv":true}}',
      '{"create_request":{"key":"dy96","watch_id":"9","filters":["NODELETE"]}}',
      '{"progress_request":{}}',
      '{"cancel_request":{"watch_id":"9"}}',
      '{"cancel_request":{"watch_id":"99"}}',
    ].join(' ');
    const watches = await streams('/v3/watch', body);
    assert.equal(watches.etcdts.status, watches.etcd.status);
    assert.equal(watches.etcdts.headers.get('content-type'), watches.etcd.headers.get('content-type'));
    await sameLines(watches, 4);
    await same([
      ['/v3/kv/put', '{"key":"dy9h","value":"MQ=="}'],
      ['/v3/kv/txn', '{"success":[{"request_put":{"key":"dy9i","value":"Mg=="}},{"request_delete_range":{"key":"dy9h"}}]}'],
      ['/v3/kv/put', '{"key":"eA==","value":"MQ=="}'],
      ['/v3/kv/deleterange', '{"key":"dy8=","range_end":"dzA="}'],
    ]);
    const events = await sameLines(watches, 3);
    assert.match(events[2]!, /"type":"DELETE"/);
    watches.etcd.close();
    watches.etcdts.close();
  });

  it('answers keep-alives as etcd does, each request in the body in turn', async () => {
    await same([['/v3/lease/grant', '{"TTL":30,"ID":"5"}']]);
    const alive = await streams('/v3/lease/keepalive', '{"ID":"5"}{"ID":"6"}');
    await sameLines(alive, 2);
    alive.etcd.close();
    alive.etcdts.close();
    await same([['/v3/lease/revoke', '{"ID":"5"}']]);
  });

  it('runs users, roles, authentication and tokens in the Authorization header as etcd does', async () => {
    await same([
      ['/v3/auth/user/add', '{"name":"root","password":"pw"}'],
      ['/v3/auth/user/add', '{"name":"root","password":"pw"}'],
      ['/v3/auth/user/add', '{"name":"","password":"pw"}'],
      ['/v3/auth/user/add', '{"name":"alice","password":"a","options":{"no_password":false}}'],
      ['/v3/auth/role/add', '{"name":"r1"}'],
      ['/v3/auth/role/grant', '{"name":"r1","perm":{"permType":"READWRITE","key":"Zm9v","range_end":"Zm9w"}}'],
      ['/v3/auth/role/get', '{"role":"r1"}'],
      ['/v3/auth/role/list', '{}'],
      ['/v3/auth/user/grant', '{"user":"alice","role":"r1"}'],
      ['/v3/auth/user/grant', '{"user":"root","role":"root"}'],
      ['/v3/auth/user/get', '{"name":"alice"}'],
      ['/v3/auth/user/list', '{}'],
      ['/v3/auth/user/changepw', '{"name":"alice","password":"b"}'],
      ['/v3/auth/user/revoke', '{"name":"alice","role":"nope"}'],
      ['/v3/auth/role/revoke', '{"role":"r1","key":"eA=="}'],
      ['/v3/auth/authenticate', '{"name":"alice","password":"zzz"}'],
      ['/v3/auth/enable', '{}'],
      ['/v3/kv/range', '{"key":"Zm9v"}'],
      ['/v3/auth/authenticate', '{"name":"alice","password":"wrong"}'],
    ]);
    for (const kind of ['etcd', 'etcdts'] as const) {
      const answer = await post(endpoints[kind], '/v3/auth/authenticate', '{"name":"alice","password":"b"}');
      tokens[kind] = (JSON.parse(answer.body) as { token: string }).token;
    }
    // The token also travels as Grpc-Metadata-Token (grpc-gateway forwards Grpc-Metadata-* as metadata); "Bearer" is not etcd's.
    for (const header of ['Grpc-Metadata-Token', 'Grpc-Metadata-Authorization', 'Authorization']) {
      const answers = await Promise.all((['etcd', 'etcdts'] as const).map(async (kind) => {
        const value = header === 'Authorization' ? `Bearer ${tokens[kind]}` : tokens[kind];
        return comparable('', await post(endpoints[kind], '/v3/kv/range', '{"key":"Zm9v"}', { [header]: value }));
      }));
      assert.equal(answers[1], answers[0], header);
    }
    await same([
      ['/v3/kv/put', '{"key":"Zm9v","value":"YWxpY2U="}', 'token'],
      ['/v3/kv/range', '{"key":"Zm9v"}', 'token'],
      ['/v3/kv/put', '{"key":"eA==","value":"MQ=="}', 'token'],
      ['/v3/auth/user/list', '{}', 'token'],
    ]);
    for (const kind of ['etcd', 'etcdts'] as const) {
      const answer = await post(endpoints[kind], '/v3/auth/authenticate', '{"name":"root","password":"pw"}');
      tokens[kind] = (JSON.parse(answer.body) as { token: string }).token;
    }
    await same([
      ['/v3/auth/user/list', '{}', 'token'],
      ['/v3/auth/user/delete', '{"name":"alice"}', 'token'],
      ['/v3/auth/role/delete', '{"role":"r1"}', 'token'],
      ['/v3/auth/disable', '{}', 'token'],
      ['/v3/auth/role/delete', '{"role":"r1"}'],
    ]);
  });

  it('refuses malformed bodies with etcd\'s status, error body and message', async () => {
    const bad = [
      '{"key":', '{"key":1}', '{"key":"!!"}', '{"limit":"x","key":"Zm9v"}', '{"limit":5.5,"key":"Zm9v"}', '[]', 'null', '',
      '{"key":"Zm9v","sortOrder":"BOGUS"}', '{"key":"Zm9v","limit":"\\u0031"}', '{"key":"Zm9v","limit":"tru"}', '{"key":"Zm9v","limit":""}',
      '{"key":"Zm9v","sort_order":true}', '{"key":"Zm9v","keys_only":"true"}', '{"key":"Zm9v","limit":99999999999999999999}',
      '{"key":"Zm9v","limit":1e3}', '{"key":"Zm9","limit":1}', '{"key":"Zm9vYg=","limit":1}', '{"key":"Zm=v"}', '{"key" "x"}',
      '{"key":"a\u0001"}', '{"key":tru}', '{"key":[1,2,256]}', '{"key":[104,"x",300]}', '{"key":"Zm9v","serializable":1}', '{,}', '{"a":1,}', '[1,]',
      '{"key":"Zm9v"} trailing', '{"key":"Zm9v","min_mod_revision":"-3"}', '{"key":"Zm9v","revision":-1}', '{"key":"\\ud800Zm9v"}',
      '"str"', '5', 'true', '{"key":"Zm9v","key":"YQ=="}', '{"key":{}}', '{"key":"Zm9v","sort_order":7}', '{"key":"Zm9v","limit":"-0"}',
    ];
    await same(bad.map((body): Step => ['/v3/kv/range', body]));
    await same([
      ['/v3/kv/txn', '{"compare":[{"key":"Zm9v","target_union":1}]}'],
      ['/v3/kv/txn', '{"compare":[{"key":"Zm9v","target":"VERSION","version":null}],"success":[{"request_range":{"key":"Zm9v"}}]}'],
      ['/v3/kv/txn', '{"compare":{}}'],
      ['/v3/kv/txn', '{"success":[{"request_put":5}]}'],
      ['/v3/lease/grant', '{"TTL":"1.5"}'],
      ['/v3/cluster/member/add', '{"peerURLs":"http://a:1"}'],
      ['/v3/auth/user/add', '{"name":5}'],
      ['/v3/watch', '{"create_request":'],
      ['/v3/watch', '{"create_request":5}'],
      ['/v3/lease/keepalive', '{"ID":"x"}'],
      ['/v3/election/observe', '{"name":1}'],
    ]);
  });

  it('refuses unknown paths, other methods and oversized bodies as etcd does', async () => {
    const paths = ['/v3/kv/nothing', '/v3/', '/v3/kv/range/', '/v3/kv/range:x', '/v3/KV/range', '/nothing', '/v3beta', '/v3beta/', '/v3alpha/kv/range', '/v3beta/kv/nope'];
    await same(paths.map((p): Step => [p, '{}']));
    await same([['/v3beta/kv/range', '{"key":"Zm9v"}']]);
    const methods = await Promise.all((['etcd', 'etcdts'] as const).map(async (kind) => {
      const answers = await Promise.all([get(endpoints[kind], '/v3/kv/range'), get(endpoints[kind], '/v3/kv/range', 'PUT'), get(endpoints[kind], '/v3', 'POST')]);
      return answers.map((a) => `${a.status} ${a.body}`);
    }));
    assert.deepEqual(methods[1], methods[0]);
    // Over --max-request-bytes: etcd's own error; over the gRPC limit: grpc-go's, with the encoded size.
    const value = (bytes: number): string => JSON.stringify({ key: 'Zm9v', value: Buffer.alloc(bytes, 97).toString('base64') });
    await same([['/v3/kv/put', value(1_600_000)], ['/v3/kv/put', value(2_200_000)], ['/v3/kv/put', value(1_000)]]);
  });

  it('serves /version, /health and /metrics where etcd does, with its status and types', async () => {
    for (const [path, method] of [['/version', 'GET'], ['/version', 'POST'], ['/health', 'GET'], ['/health?exclude=NOSPACE', 'GET'], ['/health', 'HEAD'], ['//health', 'GET']] as const) {
      const [etcd, etcdts] = await Promise.all([get(endpoints.etcd, path, method), get(endpoints.etcdts, path, method)]);
      assert.equal(`${etcdts!.status} ${etcdts!.contentType} ${etcdts!.body}`, `${etcd!.status} ${etcd!.contentType} ${etcd!.body}`, `${method} ${path}`);
    }
    const metrics = await Promise.all([get(endpoints.etcd, '/metrics'), get(endpoints.etcdts, '/metrics')]);
    assert.equal(metrics[1]!.contentType, metrics[0]!.contentType);
  });
});
