import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { KVService, RangeResponse } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { GrpcServer, type ServiceDefinition, type ServiceImplementation } from '../../../src/server/api/grpc-server/server.js';
import { Gateway } from '../../../src/server/api/gateway/gateway.js';
import { waitFor } from '../../support/procs.js';

/**
 * The gateway's shared budget of request bytes: bodies being read count
 * against it, a request that would pass it is refused (429) rather than
 * buffered, and bytes come back when a body is decoded or its client goes.
 * A gateway with a 100 kB budget in front of a KV service that answers
 * every range at once.
 */
describe('gateway: the shared budget of request bytes', () => {
  let http: Server;
  let gateway: Gateway;
  let port = 0;

  before(async () => {
    const grpc = new GrpcServer();
    const kv: ServiceImplementation = { range: (_call: unknown, done: (err: null, r: RangeResponse) => void) => done(null, RangeResponse.fromPartial({})) };
    grpc.addService(KVService as unknown as ServiceDefinition, kv);
    gateway = new Gateway(grpc, [KVService as unknown as ServiceDefinition], { bytesHeldMax: 100_000 });
    http = createServer((req, res) => gateway.serve(req, res, (req.url ?? '').slice('/v3/'.length)));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
  });

  after(() => {
    http.close();
    http.closeAllConnections();
  });

  /** A range request padded with spaces to `bytes`, and its headers. */
  function request(bytes: number): { head: string; body: string } {
    const json = '{"key":"YQ=="}';
    return { head: `POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: ${bytes}\r\n\r\n`, body: json + ' '.repeat(bytes - json.length) };
  }

  function open(): Promise<{ socket: Socket; answer: () => string }> {
    return new Promise((resolve) => {
      let data = '';
      const socket = connect({ host: '127.0.0.1', port }, () => resolve({ socket, answer: () => data }));
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('error', () => undefined);
    });
  }

  it('refuses a body that would pass the budget, and takes bodies again once bytes come back', async () => {
    const slow = await open();
    const big = request(80_000);
    slow.socket.write(big.head + big.body.slice(0, 60_000));
    await waitFor('the first body to be held', () => gateway.bytesHeld === 60_000, 5000, 5);
    const refused = await open();
    const other = request(50_000);
    refused.socket.write(other.head + other.body);
    await waitFor('the second request to be refused', () => refused.answer().includes('\r\n\r\n{'), 5000, 5);
    assert.match(refused.answer(), /^HTTP\/1\.1 429 /);
    assert.match(refused.answer(), /"error":"gateway: too many request bytes in flight \(100000 bytes max\)"/);
    assert.equal(gateway.bytesHeld, 60_000, 'a refused body holds nothing');
    slow.socket.write(big.body.slice(60_000));
    await waitFor('the first request to be answered', () => slow.answer().startsWith('HTTP/1.1 200 '), 5000, 5);
    assert.equal(gateway.bytesHeld, 0);
    const later = await open();
    later.socket.write(other.head + other.body);
    await waitFor('a later request to be answered', () => later.answer().startsWith('HTTP/1.1 200 '), 5000, 5);
    for (const c of [slow, refused, later]) c.socket.destroy();
  });

  it('gives back what a client sent when it goes before its body ends', async () => {
    const gone = await open();
    const big = request(80_000);
    gone.socket.write(big.head + big.body.slice(0, 30_000));
    await waitFor('the body to be held', () => gateway.bytesHeld === 30_000, 5000, 5);
    gone.socket.destroy();
    await waitFor('the bytes to come back', () => gateway.bytesHeld === 0, 5000, 5);
  });
});
