import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import {
  CompactedError,
  DeadlineExceededError,
  DuplicateKeyError,
  FutureRevisionError,
  KeyNotProvidedError,
  LeaseNotFoundError,
  RequestTooLargeError,
  TooManyOpsError,
} from '../../src/client/errors.js';
import { compare, op } from '../../src/client/txn.js';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, removeTempDirs } from '../support/procs.js';
import { requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';

/**
 * The typed client against a live server: etcd's errors arrive as typed
 * errors with etcd's messages, reads fail over to the next endpoint, and a
 * dead cluster fails within the dial timeout with a reason.
 * ETCDTS_COMPAT_SERVER=etcdts points it at etcdts instead of the real etcd.
 */
const serverKind = process.env.ETCDTS_COMPAT_SERVER === 'etcdts' ? 'etcdts' : 'etcd';

interface Server {
  endpoint: string;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  return serverKind === 'etcdts' ? startEtcdts() : startRealEtcd();
}

describe(`client library against a live server (${serverKind})`, function () {
  this.timeout(60000);
  let server: Server;
  let client: Client;

  before(async function () {
    requireRealEtcd();
    server = await startServer();
    client = await Client.connect({ endpoints: [server.endpoint], commandTimeoutMs: 5000 });
  });

  after(async () => {
    client?.close();
    await killAll();
    removeTempDirs();
  });

  it('puts and gets with friendly options and with request messages', async () => {
    const put = await client.kv.put('lib/a', 'one');
    assert.ok(put.header !== undefined && put.header.revision > 1n);
    await client.kv.put({ key: Buffer.from('lib/b'), value: Buffer.from('two') });
    const got = await client.kv.get('lib/', { prefix: true });
    assert.deepEqual(got.kvs.map((kv) => `${kv.key}=${kv.value}`), ['lib/a=one', 'lib/b=two']);
    assert.equal(got.count, 2n);
  });

  it('runs a txn built with the compare/op helpers', async () => {
    const r = await client.kv.txn({
      compare: [compare.value('lib/a', '=', 'one'), compare.createRevision('lib/none', '=', 0n)],
      success: [op.put('lib/c', 'three'), op.get('lib/', { prefix: true, countOnly: true })],
      failure: [op.get('lib/a')],
    });
    assert.equal(r.succeeded, true);
    assert.equal(r.responses[1]!.responseRange!.count, 3n);
  });

  it('raises etcd\'s errors as typed errors with etcd\'s messages', async () => {
    const head = (await client.kv.get('lib/a')).header!.revision;
    await assert.rejects(client.kv.get('lib/a', { revision: head + 1000n }), FutureRevisionError);
    await assert.rejects(client.kv.put('', 'v'), (err: unknown) => err instanceof KeyNotProvidedError && err.message === 'etcdserver: key is not provided');
    await assert.rejects(client.kv.put('k', 'v', { lease: 0x1234n }), LeaseNotFoundError);
    const many = Array.from({ length: 129 }, (_, i) => op.put(`many/${i}`, 'v'));
    await assert.rejects(client.kv.txn({ success: many }), TooManyOpsError);
    await assert.rejects(client.kv.txn({ success: [op.put('d', '1'), op.delete('d')] }), DuplicateKeyError);
    await assert.rejects(client.kv.put('big', Buffer.alloc(1600 * 1024)), RequestTooLargeError);
    await client.kv.compact(head);
    await assert.rejects(client.kv.get('lib/a', { revision: head - 1n }), (err: unknown) => err instanceof CompactedError && err.message === 'etcdserver: mvcc: required revision has been compacted');
  });

  it('reads status and the member list', async () => {
    const status = await client.maintenance.status({ endpoint: server.endpoint });
    assert.match(status.version, /^3\.4\./);
    const members = await client.cluster.memberList();
    assert.equal(members.members.length, 1);
    assert.equal(members.members[0]!.ID, status.header!.memberId);
  });

  it('skips a dead endpoint when connecting', async () => {
    const other = await Client.connect({ endpoints: ['127.0.0.1:1', server.endpoint], dialTimeoutMs: 3000 });
    try {
      assert.equal((await other.kv.get('lib/a')).kvs.length, 1);
    } finally {
      other.close();
    }
  });

  it('fails over reads to the next endpoint when a member dies', async () => {
    // Two separate one-member clusters stand in for two members: each holds a
    // different value under the same key, which tells which one answered.
    const second = await startServer();
    const only = await Client.connect({ endpoints: [second.endpoint] });
    await only.kv.put('whoami', 'second');
    only.close();
    await client.kv.put('whoami', 'first');
    const both = await Client.connect({ endpoints: [second.endpoint, server.endpoint], commandTimeoutMs: 10000 });
    try {
      // Whichever member answers first (the client takes the first endpoint that connects) is stopped.
      const answered = (await both.kv.get('whoami')).kvs[0]?.value.toString();
      assert.ok(answered === 'first' || answered === 'second', `unexpected answer ${answered}`);
      if (answered === 'second') await second.stop();
      else await server.stop();
      const survivor = answered === 'second' ? 'first' : 'second';
      assert.equal((await both.kv.get('whoami')).kvs[0]?.value.toString(), survivor);
      await both.kv.put('after-failover', 'ok');
      assert.equal((await both.kv.get('after-failover')).kvs.length, 1);
    } finally {
      both.close();
    }
  });

  it('fails at the dial timeout with the reason when nothing answers', async () => {
    await assert.rejects(Client.connect({ endpoints: ['127.0.0.1:1'], dialTimeoutMs: 500 }), (err: unknown) => {
      assert.ok(err instanceof DeadlineExceededError);
      assert.equal(err.message, 'context deadline exceeded');
      assert.match(err.detail ?? '', /127\.0\.0\.1:1: .*ECONNREFUSED/);
      return true;
    });
  });
});
