import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { get, openStream, post } from '../support/http-json.js';
import { TestPki, type IssuedCertificate } from '../support/pki.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';

/**
 * What the gateway does beyond matching etcd's answers
 * (test/compat/gateway-vs-etcd.test.ts): it keeps its own bounds (body size,
 * calls and streams per connection), a watch holds no more than the store's
 * bounded queue for a client that stops reading and still delivers every
 * event once it reads again, a stream ends when its client goes, deadlines
 * from Grpc-Timeout hold, and over TLS a client certificate names the user
 * exactly as it does over gRPC.
 */

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** The value of an unlabelled sample in a /metrics text. */
async function metric(endpoint: string, name: string): Promise<number> {
  const text = (await get(endpoint, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/** A raw HTTP/1.1 connection: requests written as given, answers read as bytes. */
function rawConnection(port: number): Promise<{ socket: Socket; received: () => string }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect({ host: '127.0.0.1', port }, () => resolve({ socket, received: () => data }));
    // Only the start of the answers is kept: enough to see statuses and the first lines.
    socket.on('data', (chunk: Buffer) => {
      if (data.length < 64 * 1024) data += chunk.toString('latin1');
    });
    socket.on('error', reject);
  });
}

function postRequest(path: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('HTTP/JSON gateway: bounds, streams and identity', function () {
  this.timeout(180_000);
  let member: EtcdtsMember;

  before(async () => {
    member = await startEtcdts({ extraArgs: ['--max-request-bytes', String(64 * 1024)] });
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('refuses a body past twice the gRPC limit without reading it, and keeps serving', async () => {
    // --max-request-bytes 64 KiB: gRPC takes 576 KiB, the gateway reads 1152 KiB of JSON.
    const huge = `{"key":"${b64('k')}","value":"${'A'.repeat(1_300_000)}"}`;
    const answer = await post(member.endpoint, '/v3/kv/put', huge);
    assert.equal(answer.status, 429);
    assert.deepEqual(JSON.parse(answer.body), {
      error: 'gateway: request body larger than max (1179648 bytes)', message: 'gateway: request body larger than max (1179648 bytes)', code: 8,
    });
    const justOver = `{"key":"${b64('k')}","value":"${Buffer.alloc(600 * 1024).toString('base64')}"}`;
    assert.match((await post(member.endpoint, '/v3/kv/put', justOver)).body, /grpc: received message larger than max \(\d+ vs\. 589824\)/);
    assert.match((await post(member.endpoint, '/v3/kv/put', `{"key":"${b64('k')}","value":"${Buffer.alloc(65 * 1024).toString('base64')}"}`)).body, /etcdserver: request is too large/);
    assert.equal((await post(member.endpoint, '/v3/kv/put', `{"key":"${b64('k')}","value":"dg=="}`)).status, 200);
  });

  it('runs at most 16 pipelined calls per connection and refuses the rest, answering in order', async () => {
    const conn = await rawConnection(member.clientPort);
    const count = 20;
    conn.socket.write(Array.from({ length: count }, () => postRequest('/v3/kv/range', `{"key":"${b64('k')}"}`)).join(''));
    await waitFor('every answer', () => (conn.received().match(/HTTP\/1\.1 /g) ?? []).length === count, 10_000, 20);
    const statuses = [...conn.received().matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [...Array(16).fill(200), ...Array(4).fill(429)]);
    conn.socket.destroy();
  });

  it('never starts a call queued behind a stream on the same connection', async () => {
    const conn = await rawConnection(member.clientPort);
    conn.socket.write(postRequest('/v3/watch', `{"create_request":{"key":"${b64('w')}"}}`) + postRequest('/v3/kv/put', `{"key":"${b64('behind')}","value":"dg=="}`));
    await waitFor('the watch to be created', () => conn.received().includes('"created":true'), 10_000, 20);
    const got = JSON.parse((await post(member.endpoint, '/v3/kv/range', `{"key":"${b64('behind')}"}`)).body) as { kvs?: unknown[] };
    assert.equal(got.kvs, undefined, 'the put queued behind the watch ran');
    conn.socket.destroy();
    await waitFor('the watch to end with its connection', async () => (await metric(member.endpoint, 'etcd_debugging_mvcc_watcher_total')) === 0, 10_000, 50);
  });

  it('ends a watch when its client goes', async () => {
    const watchers = await metric(member.endpoint, 'etcd_debugging_mvcc_watcher_total');
    const watch = await openStream(member.endpoint, '/v3/watch', `{"create_request":{"key":"${b64('gone')}"}}`);
    assert.match((await watch.next())!, /"created":true/);
    assert.equal(await metric(member.endpoint, 'etcd_debugging_mvcc_watcher_total'), watchers + 1, 'the watch is counted while its client stays');
    watch.close();
    await waitFor('the watcher to be removed', async () => (await metric(member.endpoint, 'etcd_debugging_mvcc_watcher_total')) === watchers, 10_000, 50);
  });

  it('holds back a watch whose client stops reading, then delivers every event in order', async () => {
    const conn = await rawConnection(member.clientPort);
    const keys: string[] = [];
    let pending = '';
    // Events are read line by line as they come, so the test holds only the keys.
    conn.socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        for (const m of line.matchAll(/"key":"([^"]+)","create_revision"/g)) keys.push(Buffer.from(m[1]!, 'base64').toString());
      }
    });
    conn.socket.write(postRequest('/v3/watch', `{"create_request":{"key":"${b64('slow/')}","range_end":"${b64('slow0')}"}}`));
    await waitFor('the watch to be created', () => conn.received().includes('"created":true'), 10_000, 20);
    conn.socket.pause();
    // 40 MiB of events: more than socket buffers and the store's 8 MiB queue for a stream.
    const value = Buffer.alloc(60 * 1024, 7).toString('base64');
    const puts = 700;
    for (let i = 0; i < puts; i++) {
      const answer = await post(member.endpoint, '/v3/kv/put', `{"key":"${b64(`slow/${String(i).padStart(4, '0')}`)}","value":"${value}"}`);
      assert.equal(answer.status, 200);
    }
    // The stream's queue filled: its watcher was moved aside to catch up from the store later, rather than buffered.
    await waitFor('the watcher to be held back', async () => (await metric(member.endpoint, 'etcd_debugging_mvcc_slow_watcher_total')) === 1, 30_000, 100);
    const rss = await metric(member.endpoint, 'process_resident_memory_bytes');
    assert.ok(rss < 400 * 1024 * 1024, `resident memory ${rss} bytes with a stalled watch`);
    conn.socket.resume();
    await waitFor('every event', () => keys.length === puts, 60_000, 100);
    assert.deepEqual(keys, Array.from({ length: puts }, (_, i) => `slow/${String(i).padStart(4, '0')}`));
    conn.socket.destroy();
  });

  it('applies Grpc-Timeout as etcd\'s gateway does: a call past it ends with DEADLINE_EXCEEDED', async () => {
    await post(member.endpoint, '/v3/lease/grant', '{"TTL":60,"ID":"1"}');
    await post(member.endpoint, '/v3/lease/grant', '{"TTL":60,"ID":"2"}');
    assert.equal((await post(member.endpoint, '/v3/lock/lock', `{"name":"${b64('l')}","lease":"1"}`)).status, 200);
    const waiting = await post(member.endpoint, '/v3/lock/lock', `{"name":"${b64('l')}","lease":"2"}`, { 'Grpc-Timeout': '300m' });
    assert.deepEqual([waiting.status, JSON.parse(waiting.body)], [504, { error: 'context deadline exceeded', message: 'context deadline exceeded', code: 4 }]);
    const bad = await post(member.endpoint, '/v3/kv/range', `{"key":"${b64('k')}"}`, { 'Grpc-Timeout': '5x' });
    assert.deepEqual([bad.status, JSON.parse(bad.body)], [400, { error: 'invalid grpc-timeout: 5x', message: 'invalid grpc-timeout: 5x', code: 3 }]);
  });

  describe('over TLS with --client-cert-auth', () => {
    let pki: TestPki;
    let secure: EtcdtsMember;
    const certs: Record<string, IssuedCertificate> = {};

    before(async () => {
      pki = new TestPki();
      const server = pki.issue('server');
      for (const user of ['root', 'alice']) certs[user] = pki.issue(user);
      secure = await startEtcdts({
        name: 'tls', clientScheme: 'https',
        extraArgs: ['--cert-file', server.cert, '--key-file', server.key, '--trusted-ca-file', pki.caFile, '--client-cert-auth'],
      });
    });

    function as(user: string, path: string, body: string): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const req = httpsRequest(`${secure.endpoint}${path}`, {
          method: 'POST', ca: readFileSync(pki.caFile), cert: readFileSync(certs[user]!.cert), key: readFileSync(certs[user]!.key),
        }, (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        });
        req.on('error', reject);
        req.end(body);
      });
    }

    it('takes the verified certificate\'s CN as the user, as gRPC does, where etcd\'s gateway refuses it', async () => {
      for (const [path, body] of [
        ['/v3/auth/user/add', '{"name":"root","password":"pw"}'],
        ['/v3/auth/user/grant', '{"user":"root","role":"root"}'],
        ['/v3/auth/user/add', '{"name":"alice","options":{"no_password":true}}'],
        ['/v3/auth/role/add', '{"name":"reader"}'],
        ['/v3/auth/role/grant', `{"name":"reader","perm":{"permType":"READ","key":"${b64('app/')}","range_end":"${b64('app0')}"}}`],
        ['/v3/auth/user/grant', '{"user":"alice","role":"reader"}'],
        ['/v3/kv/put', `{"key":"${b64('app/x')}","value":"${b64('v')}"}`],
        ['/v3/auth/enable', '{}'],
      ] as const) {
        assert.equal((await as('root', path, body)).status, 200, path);
      }
      const read = await as('alice', '/v3/kv/range', `{"key":"${b64('app/x')}"}`);
      assert.equal(read.status, 200);
      assert.match(read.body, /"kvs":\[\{"key":"YXBwL3g="/);
      const write = await as('alice', '/v3/kv/put', `{"key":"${b64('app/x')}","value":"${b64('w')}"}`);
      assert.deepEqual([write.status, JSON.parse(write.body).error], [403, 'etcdserver: permission denied']);
      assert.equal((await as('root', '/v3/kv/put', `{"key":"${b64('other')}","value":"${b64('w')}"}`)).status, 200);
    });
  });
});
