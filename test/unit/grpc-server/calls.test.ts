import assert from 'node:assert/strict';
import { KVService } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { F, RawClient, RawClients, T, frame, grpcMessage, requestBlock, startServer, type TestServer } from './raw-h2.js';
import { testImplementation, testService, type TestServiceState } from './test-service.js';

const status = { ok: 0, unknown: 2, failedPrecondition: 9, aborted: 10, resourceExhausted: 8, unimplemented: 12, internal: 13 };

describe('grpc-server: gRPC calls', function () {
  this.timeout(20000);
  let server: TestServer;
  let state: TestServiceState;
  const clients = new RawClients();
  const open = () => clients.connect(server.port);

  before(async () => {
    const kvPutOnly = { put: (_call: unknown, cb: (e: unknown, v: unknown) => void) => cb(null, { header: undefined, prevKv: undefined }) };
    const test = testImplementation();
    state = test.state;
    server = await startServer([[testService, test.implementation], [KVService, kvPutOnly]], { maxReceiveMessageBytes: 1000 });
  });
  afterEach(() => {
    clients.closeAll();
  });
  after(() => server.close());

  it('answers a unary call with HEADERS, one message, and trailers with grpc-status 0', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Echo', Buffer.from('hello'));
    const response = await client.response(1);
    assert.equal(response.headers.length, 2);
    assert.deepEqual(response.headers[0].map((f) => [f.name, f.value]), [[':status', '200'], ['content-type', 'application/grpc']]);
    assert.deepEqual(response.headers[1].map((f) => [f.name, f.value]), [['grpc-status', '0']]);
    assert.deepEqual(response.messages.map(String), ['hello']);
  });

  it('answers an immediate error with a trailers-only response', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Fail', Buffer.from('no'));
    const response = await client.response(1);
    assert.equal(response.headers.length, 1);
    assert.deepEqual(response.headers[0].map((f) => f.name), [':status', 'content-type', 'grpc-status', 'grpc-message']);
    assert.deepEqual(await client.status(1), { code: status.failedPrecondition, message: 'no', messages: [] });
  });

  it('percent-encodes grpc-message on the wire', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Fail', Buffer.from('50% of "é"\nnext line'));
    const response = await client.response(1);
    assert.equal(response.headers[0].find((f) => f.name === 'grpc-message')!.value, '50%25 of "%C3%A9"%0Anext line');
    assert.equal((await client.status(1)).message, '50% of "é"\nnext line');
  });

  it('turns a handler that throws into its error status, and keeps serving', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Throws', Buffer.alloc(0));
    assert.deepEqual(await client.status(1), { code: status.aborted, message: 'handler threw', messages: [] });
    client.unary(3, '/t.Test/Echo', Buffer.from('after'));
    assert.equal((await client.status(3)).code, status.ok);
  });

  const statusCases: [string, (client: RawClient) => void, number, string][] = [
    ['an unknown service', (c) => c.unary(1, '/nope.Service/Call', Buffer.alloc(0)), status.unimplemented, 'unknown service nope.Service'],
    ['an unknown method of a known service', (c) => c.unary(1, '/t.Test/Nope', Buffer.alloc(0)), status.unimplemented, 'unknown method Nope for service t.Test'],
    ['a method name without a service', (c) => c.unary(1, 'justaname', Buffer.alloc(0)), status.resourceExhausted, 'malformed method name: "justaname"'],
    ['a method the implementation leaves out', (c) => c.unary(1, '/t.Test/Missing', Buffer.alloc(0)), status.unimplemented, 'method Missing not implemented'],
    ['a KV method the implementation leaves out', (c) => c.unary(1, '/etcdserverpb.KV/Range', Buffer.alloc(0)), status.unimplemented, 'method Range not implemented'],
    ['a message over the receive limit', (c) => c.unary(1, '/t.Test/Echo', Buffer.alloc(1001)), status.resourceExhausted, 'grpc: received message larger than max (1001 vs. 1000)'],
    ['a compressed message', (c) => c.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('z'), 1)),
    ), status.internal, 'grpc: compressed flag set with identity or empty encoding'],
    ['a gzip-compressed message', (c) => c.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo', [['grpc-encoding', 'gzip']])), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('z'), 1)),
    ), status.unimplemented, 'grpc: Decompressor is not installed for grpc-encoding "gzip"'],
    ['a message with an unknown payload format', (c) => c.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('z'), 7)),
    ), status.internal, 'grpc: received unexpected payload format 7'],
    ['a unary call without a request message', (c) => c.send(frame(T.headers, F.endHeaders | F.endStream, 1, requestBlock('/t.Test/Echo'))),
      status.unimplemented, 'Received no request message for server streaming method /t.Test/Echo'],
    ['a unary call with two request messages', (c) => c.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')),
      frame(T.data, F.endStream, 1, Buffer.concat([grpcMessage(Buffer.from('a')), grpcMessage(Buffer.from('b'))])),
    ), status.unimplemented, 'Received a second request message for server streaming method /t.Test/Echo'],
    ['a request ending inside a message', (c) => c.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('abc')).subarray(0, 6)),
    ), status.internal, 'grpc: the request ended inside a message'],
  ];
  for (const [name, send, code, message] of statusCases) {
    it(`answers ${name} with status ${code}`, async () => {
      const client = await open();
      send(client);
      const got = await client.status(1);
      assert.deepEqual({ code: got.code, message: got.message }, { code, message });
      client.unary(3, '/t.Test/Echo', Buffer.from('next'));
      assert.equal((await client.status(3)).code, status.ok);
    });
  }

  it('answers an undecodable protobuf request with INTERNAL, as grpc-go words it', async () => {
    const client = await open();
    client.unary(1, '/etcdserverpb.KV/Put', Buffer.from([0x0a, 0x20, 0x01]));
    const got = await client.status(1);
    assert.equal(got.code, status.internal);
    assert.match(got.message, /^grpc: error unmarshalling request: /);
  });

  it('streams responses (server streaming), then trailers', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Count', Buffer.from('5,10'));
    const got = await client.status(1);
    assert.equal(got.code, status.ok);
    assert.deepEqual(got.messages.map((m) => [m.length, m[0]]), [[10, 0], [10, 1], [10, 2], [10, 3], [10, 4]]);
  });

  it('ends a stream with the status of the error its handler destroys it with, after the messages written', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Destroyed', Buffer.alloc(0));
    const got = await client.status(1);
    assert.deepEqual(got.messages.map(String), ['partial']);
    assert.deepEqual({ code: got.code, message: got.message }, { code: 5, message: 'gone' });
    assert.deepEqual(state.writes, [true]);
  });

  it('ends a stream with the status its handler emits as an error (grpc-js style)', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/EmitsError')), frame(T.data, 0, 1, grpcMessage(Buffer.from('x'))));
    const got = await client.status(1);
    assert.deepEqual({ code: got.code, message: got.message }, { code: 7, message: 'denied' });
  });

  it('takes request streams (client streaming) cut anywhere across DATA frames', async () => {
    const client = await open();
    const messages = Buffer.concat([grpcMessage(Buffer.alloc(10)), grpcMessage(Buffer.alloc(0)), grpcMessage(Buffer.alloc(300)), grpcMessage(Buffer.alloc(7))]);
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Sum')));
    for (let pos = 0; pos < messages.length; pos += 3) client.send(frame(T.data, 0, 1, messages.subarray(pos, pos + 3)));
    client.send(frame(T.data, F.endStream, 1));
    assert.deepEqual((await client.status(1)).messages.map(String), ['317']);
  });

  it('echoes a bidirectional stream message by message', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Chat')));
    client.send(frame(T.data, 0, 1, grpcMessage(Buffer.from('one'))));
    await client.waitFor((f) => f.type === T.data && f.streamId === 1);
    client.send(frame(T.data, 0, 1, Buffer.concat([grpcMessage(Buffer.from('two')), grpcMessage(Buffer.from('three'))])), frame(T.data, F.endStream, 1));
    assert.deepEqual((await client.status(1)).messages.map(String), ['one', 'two', 'three']);
  });

  it('tells the client to stop sending (RST_STREAM NO_ERROR) when it answers before the request ended', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Nope')));
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1);
    assert.equal(rst.payload.readUInt32BE(0), 0);
    const ends = client.frames.filter((f) => f.streamId === 1).map((f) => [f.type, f.flags]);
    assert.deepEqual(ends, [[T.headers, F.endHeaders | F.endStream], [T.rstStream, 0]]);
  });
});
