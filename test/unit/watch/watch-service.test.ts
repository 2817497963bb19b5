import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Server, ServerCredentials, credentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { WatchClient, WatchRequest, WatchService, type ResponseHeader, type WatchResponse } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../../../src/server/etcdserver/server.js';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { AuthStore } from '../../../src/server/auth/store.js';
import { watchableStoreFor, type WatchableStore } from '../../../src/server/mvcc/watchable-store.js';
import { watchService } from '../../../src/server/api/watch-service.js';
import { removeTempDirs, sleep, tempDir, waitFor } from '../../support/procs.js';

/** Just what the Watch service uses of a member (auth off: a real, disabled auth store; callers carry no identity). */
function fakeMember(store: KVStore, backend: Backend): EtcdServer {
  return {
    store,
    auth: new AuthStore(backend, { enabled: () => undefined, userInvalidated: () => undefined }),
    authRequests: { authInfo: () => Promise.resolve(undefined) },
    watchable: watchableStoreFor(store),
    config: { maxRequestBytes: 1.5 * 1024 * 1024, watchProgressNotifyIntervalMs: 600_000 },
    fillHeader: (h: ResponseHeader | undefined) => {
      const filled = h ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
      Object.assign(filled, { clusterId: 11n, memberId: 22n, raftTerm: 3n });
      if (filled.revision === 0n) filled.revision = store.currentRev;
      return filled;
    },
  } as unknown as EtcdServer;
}

describe('Watch gRPC service in process', function () {
  this.timeout(60_000);
  let store: KVStore;
  let watchable: WatchableStore;
  let server: Server;
  let client: WatchClient;
  const cap = 64 * 1024;

  before(async () => {
    const backend = Backend.open(join(tempDir('watch-svc-'), 'db'));
    store = new KVStore(backend);
    watchable = watchableStoreFor(store, { limits: { streamQueueBytesMax: cap, streamCatchUpBelowBytes: cap / 2 } });
    server = new Server();
    server.addService(WatchService, watchService(fakeMember(store, backend), { progressNotifyIntervalMs: 100 }) as unknown as UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    client = new WatchClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  after(async () => {
    client.close();
    server.forceShutdown();
    await store.backend.close();
    removeTempDirs();
  });

  const put = (key: string, value: string): bigint => {
    const txn = store.write();
    txn.put(Buffer.from(key), Buffer.from(value), 0n);
    return txn.end();
  };

  function open(): { call: ReturnType<WatchClient['watch']>; got: WatchResponse[] } {
    const call = client.watch();
    const got: WatchResponse[] = [];
    call.on('data', (r: WatchResponse) => got.push(r));
    call.on('error', () => undefined);
    return { call, got };
  }

  it('fills headers with the member\'s ids and term', async () => {
    const { call, got } = open();
    call.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from('h') } }));
    await waitFor('create', () => got.length === 1);
    const rev = put('h', '1');
    await waitFor('event', () => got.length === 2);
    assert.deepEqual(got[1]!.header, { clusterId: 11n, memberId: 22n, revision: rev, raftTerm: 3n });
    call.cancel();
  });

  it('frees the stream and all its watchers when the client cancels the call', async () => {
    const { call, got } = open();
    for (let i = 0; i < 10; i++) call.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from(`free/${i}`), startRevision: i % 2 === 0 ? 0n : 1n } }));
    await waitFor('creates', () => got.length >= 10);
    assert.ok(watchable.streamCount >= 1);
    call.cancel();
    await waitFor('the server to drop the stream', () => watchable.streamCount === 0 && watchable.syncedCount === 0 && watchable.unsyncedCount === 0);
  });

  it('sends periodic progress notifications at the configured interval', async () => {
    const { call, got } = open();
    call.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from('tick'), progressNotify: true } }));
    await waitFor('two notifications', () => got.filter((r) => !r.created && r.events.length === 0).length >= 2, 5000);
    assert.ok(got.slice(1).every((r) => r.watchId === 0n && r.header!.revision === store.currentRev));
    call.cancel();
  });

  it('keeps the server-side queue bounded while the client does not read, then delivers everything', async () => {
    const { call, got } = open();
    call.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from('bulk/'), rangeEnd: Buffer.from('bulk0') } }));
    await waitFor('create', () => got.length === 1);
    call.pause();
    const value = 'x'.repeat(2048);
    let maxQueued = 0;
    for (let i = 0; i < 3000; i++) {
      put(`bulk/${i % 10}`, `${i}-${value}`);
      if (i % 100 === 0) {
        await store.backend.commit();
        await sleep(1);
      }
      maxQueued = Math.max(maxQueued, watchable.largestQueueBytes());
    }
    await store.backend.commit();
    assert.ok(maxQueued < cap + 8 * 1024, `queued ${maxQueued} bytes with a cap of ${cap}`);
    assert.ok(watchable.stats.victims > 0, 'the unread stream pushed its watcher out of the synced group');
    call.resume();
    await waitFor('every event', () => got.reduce((n, r) => n + r.events.length, 0) === 3000, 30000);
    const revs = got.flatMap((r) => r.events.map((e) => Number(e.kv!.modRevision)));
    assert.deepEqual(revs, [...new Set(revs)].sort((a, b) => a - b), 'each revision once, in order');
    call.cancel();
  });
});
