import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import {
  KVClient, KVService, MaintenanceClient, MaintenanceService, PutRequest, RangeRequest, WatchClient, WatchRequest, WatchService, type PutResponse, type RangeResponse, type SnapshotResponse, type WatchResponse,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import type { ServerCall } from '../../../src/server/api/grpc-server/call.js';
import { bytesMethod, startServer, waitUntil, type TestServer } from './raw-h2.js';

/**
 * The grpc-js client (the one src/client uses) against our server, with the
 * generated etcd service definitions: unary, server streaming, client
 * streaming and bidirectional calls, large messages both ways (so flow
 * control works with a real peer), deadlines, cancellation, metadata, errors.
 */

const uploadService = { upload: bytesMethod('/t.Up/Upload', true, false) };
const UploadClient = makeGenericClientConstructor(uploadService, 'Up');
type Cb<T> = (err: unknown, value?: T, trailer?: Metadata) => void;

describe('grpc-server: interop with the grpc-js client', function () {
  this.timeout(60000);
  let server: TestServer;
  let target: string;
  const store = new Map<string, Buffer>();
  const events: string[] = [];
  let cancelledCalls = 0;
  const options = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

  before(async () => {
    const kv = {
      put: (call: ServerCall & { request: PutRequest }, cb: Cb<PutResponse>) => {
        const { key, value } = call.request;
        if (key.toString() === 'fail') return cb({ code: status.NOT_FOUND, details: 'etcdserver: requested lease not found', metadata: new Metadata() });
        if (key.toString() === 'unicode') return cb({ code: status.INVALID_ARGUMENT, details: 'ключ: 100% wrong\n' });
        if (key.toString() === 'hang') {
          call.on('cancelled', () => {
            cancelledCalls++;
            events.push('put cancelled');
          });
          return;
        }
        if (key.toString() === 'token') {
          const trailer = new Metadata();
          trailer.set('x-echo', String(call.metadata.get('token')[0]));
          return cb(null, { header: undefined, prevKv: undefined }, trailer);
        }
        store.set(key.toString('latin1'), value);
        cb(null, { header: { clusterId: 1n, memberId: 2n, revision: BigInt(value.length), raftTerm: 3n }, prevKv: undefined });
      },
      range: (call: ServerCall & { request: RangeRequest }, cb: Cb<RangeResponse>) => {
        const value = store.get(call.request.key.toString('latin1'));
        const kvs = value === undefined ? [] : [{ key: call.request.key, createRevision: 1n, modRevision: 1n, version: 1n, value, lease: 0n }];
        cb(null, { header: undefined, kvs, more: false, count: BigInt(kvs.length) });
      },
    };
    const maintenance = {
      snapshot: async (call: ServerCall) => {
        let cancelled = false;
        call.on('cancelled', () => {
          cancelled = true;
          cancelledCalls++;
        });
        for (let i = 0; i < 100 && !cancelled; i++) {
          const response: SnapshotResponse = { header: undefined, remainingBytes: BigInt(99 - i), blob: Buffer.alloc(32 * 1024, i), version: '' };
          if (!call.write(response)) await once(call, 'drain');
        }
        call.end();
      },
    };
    const watch = {
      watch: (call: ServerCall) => {
        call.on('data', (req: WatchRequest) => {
          const response: WatchResponse = {
            header: undefined, watchId: req.createRequest?.watchId ?? -1n, created: true, canceled: false, compactRevision: 0n, cancelReason: '', fragment: false, events: [],
          };
          call.write(response);
        });
        call.on('end', () => call.end());
      },
    };
    const upload = {
      upload: (call: ServerCall, cb: Cb<Buffer>) => {
        let total = 0;
        let messages = 0;
        call.on('data', (m: Buffer) => {
          total += m.length;
          messages++;
        });
        call.on('end', () => cb(null, Buffer.from(`${messages}:${total}`)));
      },
    };
    server = await startServer([[KVService, kv], [MaintenanceService, maintenance], [WatchService, watch], [uploadService, upload]]);
    target = `127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  const kvClient = () => new KVClient(target, credentials.createInsecure(), options);
  const unary = <Req, Res>(fn: (req: Req, md: Metadata, opts: object, cb: (e: ServiceError | null, r: Res) => void) => unknown, req: Req, md = new Metadata(), opts: object = {}) =>
    new Promise<Res>((resolve, reject) => fn(req, md, opts, (e, r) => (e ? reject(e) : resolve(r))));

  it('unary: put then range, with bigint and bytes fields intact', async () => {
    const kv = kvClient();
    try {
      const put = await unary<PutRequest, PutResponse>(kv.put.bind(kv), PutRequest.fromPartial({ key: Buffer.from('k'), value: Buffer.from('v'.repeat(300)) }));
      assert.equal(put.header?.revision, 300n);
      const range = await unary<RangeRequest, RangeResponse>(kv.range.bind(kv), RangeRequest.fromPartial({ key: Buffer.from('k') }));
      assert.equal(range.kvs[0]?.value.toString(), 'v'.repeat(300));
    } finally {
      kv.close();
    }
  });

  it('unary: status codes and messages reach the client as sent, percent-encoding undone', async () => {
    const kv = kvClient();
    try {
      const put = (key: string) => unary(kv.put.bind(kv), PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.alloc(0) }));
      await assert.rejects(put('fail'), (e: ServiceError) => e.code === status.NOT_FOUND && e.details === 'etcdserver: requested lease not found');
      await assert.rejects(put('unicode'), (e: ServiceError) => e.code === status.INVALID_ARGUMENT && e.details === 'ключ: 100% wrong\n');
    } finally {
      kv.close();
    }
  });

  it('unary: request metadata reaches the handler, trailing metadata the client', async () => {
    const kv = kvClient();
    try {
      const md = new Metadata();
      md.set('token', 'abc.def');
      const trailers = await new Promise<Metadata>((resolve, reject) => {
        const call = kv.put(PutRequest.fromPartial({ key: Buffer.from('token'), value: Buffer.alloc(0) }), md, (e) => e && reject(e));
        call.on('status', (s) => resolve(s.metadata));
      });
      assert.deepEqual(trailers.get('x-echo'), ['abc.def']);
    } finally {
      kv.close();
    }
  });

  it('unary: a 3 MiB request and its 3 MiB value back', async () => {
    const kv = kvClient();
    try {
      const big = Buffer.alloc(3 * 1024 * 1024, 0x5a);
      await unary(kv.put.bind(kv), PutRequest.fromPartial({ key: Buffer.from('big'), value: big }));
      const range = await unary<RangeRequest, RangeResponse>(kv.range.bind(kv), RangeRequest.fromPartial({ key: Buffer.from('big') }));
      assert(range.kvs[0]?.value.equals(big));
    } finally {
      kv.close();
    }
  });

  it('unary: 2000 concurrent calls over one connection', async () => {
    const kv = kvClient();
    try {
      const calls = Array.from({ length: 2000 }, (_, i) =>
        unary<PutRequest, PutResponse>(kv.put.bind(kv), PutRequest.fromPartial({ key: Buffer.from(`c${i}`), value: Buffer.alloc(i % 700) })));
      const results = await Promise.all(calls);
      results.forEach((r, i) => assert.equal(r.header?.revision, BigInt(i % 700)));
    } finally {
      kv.close();
    }
  });

  it('unary: a client deadline ends the call, and the handler hears cancelled', async () => {
    const kv = kvClient();
    try {
      const before = cancelledCalls;
      await assert.rejects(
        unary(kv.put.bind(kv), PutRequest.fromPartial({ key: Buffer.from('hang'), value: Buffer.alloc(0) }), new Metadata(), { deadline: Date.now() + 200 }),
        (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED,
      );
      await waitUntil(() => cancelledCalls > before);
    } finally {
      kv.close();
    }
  });

  it('server streaming: 3.2 MB of snapshot chunks in order, with back-pressure', async () => {
    const maintenance = new MaintenanceClient(target, credentials.createInsecure(), options);
    try {
      const stream = maintenance.snapshot({});
      const chunks: SnapshotResponse[] = [];
      for await (const chunk of stream) chunks.push(chunk as SnapshotResponse);
      assert.equal(chunks.length, 100);
      chunks.forEach((c, i) => {
        assert.equal(c.blob.length, 32 * 1024);
        assert.equal(c.blob[0], i);
        assert.equal(c.remainingBytes, BigInt(99 - i));
      });
    } finally {
      maintenance.close();
    }
  });

  it('server streaming: a client cancel reaches the handler', async () => {
    const maintenance = new MaintenanceClient(target, credentials.createInsecure(), options);
    try {
      const before = cancelledCalls;
      const stream = maintenance.snapshot({});
      stream.on('error', () => undefined);
      await once(stream, 'data');
      stream.cancel();
      await waitUntil(() => cancelledCalls > before);
    } finally {
      maintenance.close();
    }
  });

  it('client streaming: 10 MiB in 1 MiB messages, within the flow-control windows', async () => {
    const client = new UploadClient(target, credentials.createInsecure(), options);
    try {
      const result = await new Promise<Buffer>((resolve, reject) => {
        const call = (client as unknown as { upload: (cb: Cb<Buffer>) => NodeJS.WritableStream }).upload((e, r) => (e ? reject(e) : resolve(r!)));
        for (let i = 0; i < 10; i++) call.write(Buffer.alloc(1024 * 1024, i));
        call.end();
      });
      assert.equal(result.toString(), `10:${10 * 1024 * 1024}`);
    } finally {
      client.close();
    }
  });

  it('bidirectional: 1000 watch requests answered in order on one stream', async () => {
    const watch = new WatchClient(target, credentials.createInsecure(), options);
    try {
      const stream = watch.watch();
      const ids: bigint[] = [];
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (r: WatchResponse) => ids.push(r.watchId));
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      for (let i = 0; i < 1000; i++) {
        stream.write(WatchRequest.fromPartial({ createRequest: { key: Buffer.from('k'), watchId: BigInt(i) } }));
      }
      stream.end();
      await done;
      assert.deepEqual(ids, Array.from({ length: 1000 }, (_, i) => BigInt(i)));
    } finally {
      watch.close();
    }
  });
});
