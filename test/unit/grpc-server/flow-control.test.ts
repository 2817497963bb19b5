import assert from 'node:assert/strict';
import { once } from 'node:events';
import { E, F, RawClients, S, T, frame, grpcMessage, requestBlock, settingsPayload, startServer, uint32, waitUntil, type TestServer } from './raw-h2.js';
import { testImplementation, testService, type TestServiceState } from './test-service.js';

describe('grpc-server: flow control and buffering', function () {
  this.timeout(30000);
  let server: TestServer;
  let state: TestServiceState;
  const clients = new RawClients();
  const open = (settings?: [number, number][]) => clients.connect(server.port, { settings });

  before(async () => {
    const test = testImplementation();
    state = test.state;
    server = await startServer([[testService, test.implementation]], { maxReceiveMessageBytes: 8 * 1024 * 1024 });
  });
  afterEach(() => {
    clients.closeAll();
  });
  after(() => server.close());

  it('sends no more DATA than the client windows allow, and the rest as the client grants more', async () => {
    const client = await open([[S.initialWindowSize, 1000]]);
    client.unary(1, '/t.Test/Big', Buffer.from('100000'));
    await waitUntil(() => client.dataBytes(1) >= 1000);
    await client.barrier();
    assert.equal(client.dataBytes(1), 1000, 'the stream window');
    client.send(frame(T.windowUpdate, 0, 1, uint32(200_000)));
    await waitUntil(() => client.dataBytes(1) >= 65_535);
    await client.barrier();
    assert.equal(client.dataBytes(1), 65_535, 'the connection window');
    client.send(frame(T.windowUpdate, 0, 0, uint32(100_000)));
    const status = await client.status(1);
    assert.equal(status.code, 0);
    assert.equal(status.messages[0].length, 100_000);
    assert(client.frames.every((f) => f.payload.length <= 16_384));
  });

  it('applies SETTINGS_INITIAL_WINDOW_SIZE changes to open streams, down to a negative window', async () => {
    const client = await open([[S.initialWindowSize, 0]]);
    client.unary(1, '/t.Test/Big', Buffer.from('300'));
    await client.waitFor((f) => f.type === T.headers && f.streamId === 1);
    await client.barrier();
    assert.equal(client.dataBytes(1), 0);
    const setWindow = (bytes: number) => client.send(frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, bytes]])));
    setWindow(100);
    await waitUntil(() => client.dataBytes(1) >= 100);
    await client.barrier();
    assert.equal(client.dataBytes(1), 100);
    setWindow(50); // window: 0 + (50 - 100) = -50
    client.send(frame(T.windowUpdate, 0, 1, uint32(60))); // window 10
    await waitUntil(() => client.dataBytes(1) >= 110);
    await client.barrier();
    assert.equal(client.dataBytes(1), 110);
    setWindow(1000);
    const status = await client.status(1);
    assert.equal(status.messages[0].length, 300);
  });

  it('cuts DATA to the client SETTINGS_MAX_FRAME_SIZE', async () => {
    const client = await open([[S.maxFrameSize, 20_000]]);
    client.grantAll();
    client.unary(1, '/t.Test/Big', Buffer.from('100000'));
    assert.equal((await client.status(1)).messages[0].length, 100_000);
    const sizes = client.frames.filter((f) => f.type === T.data).map((f) => f.payload.length);
    assert(sizes.every((n) => n <= 20_000));
    assert(sizes.includes(20_000));
  });

  it('gives a slow reader back-pressure: write() returns false at the high-water mark, drain follows the window', async () => {
    const client = await open([[S.initialWindowSize, 0]]);
    client.unary(1, '/t.Test/Count', Buffer.from('100,16384'));
    await client.waitFor((f) => f.type === T.headers && f.streamId === 1);
    await waitUntil(() => state.writes.includes(false));
    await client.barrier();
    assert(state.writes.length < 100 && state.writes[state.writes.length - 1] === false, 'the handler waits for drain');
    client.grantAll();
    const status = await client.status(1);
    assert.equal(status.messages.length, 100);
    assert(status.messages.every((m, i) => m.length === 16_384 && m[0] === i % 256));
    assert(state.drains >= 1);
  });

  it('resets a stream whose handler ignores back-pressure (ENHANCE_YOUR_CALM); the connection lives on', async () => {
    const client = await open([[S.initialWindowSize, 0]]);
    const cancelled = once(state.events, 'flood-cancelled');
    client.unary(1, '/t.Test/Flood', Buffer.alloc(0));
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1, 10_000);
    assert.equal(rst.payload.readUInt32BE(0), E.enhanceYourCalm);
    await cancelled;
    client.grantAll();
    client.unary(3, '/t.Test/Echo', Buffer.from('alive'));
    assert.deepEqual((await client.status(3)).messages.map(String), ['alive']);
  });

  it('takes a request larger than its first window, returning credit as it reads', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Sum')));
    const chunk = grpcMessage(Buffer.alloc(16_000));
    for (let i = 0; i < 400; i++) client.send(frame(T.data, 0, 1, chunk)); // 6.4 MB
    client.send(frame(T.data, F.endStream, 1));
    assert.deepEqual((await client.status(1)).messages.map(String), ['6400000']);
    assert(client.frames.some((f) => f.type === T.windowUpdate && f.streamId === 1));
    assert(client.frames.some((f) => f.type === T.windowUpdate && f.streamId === 0 && f.payload.readUInt32BE(0) < 2 ** 30));
  });

  it('withholds credit while a handler reads nothing, and returns it once it reads', async () => {
    const client = await open();
    client.grantAll();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/SlowChat')));
    const chunk = grpcMessage(Buffer.alloc(16_000));
    for (let i = 0; i < 150; i++) client.send(frame(T.data, 0, 1, chunk)); // 2.4 MB, within the 8 MiB window
    await client.barrier();
    assert(!client.frames.some((f) => f.type === T.windowUpdate && f.streamId === 1), 'no credit while nothing is read');
    const call = state.held[state.held.length - 1];
    let received = 0;
    state.events.on('slow-data', () => received++);
    call.resume();
    await client.waitFor((f) => f.type === T.windowUpdate && f.streamId === 1);
    assert.equal(received, 150);
  });

  it('resets a stream that sends past its window while its handler reads nothing (FLOW_CONTROL_ERROR)', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/SlowChat')));
    const chunk = grpcMessage(Buffer.alloc(16_379)); // 16 KiB frames
    const window = 8 * 1024 * 1024 + 5;
    for (let sent = 0; sent <= window; sent += 16_384) client.send(frame(T.data, 0, 1, chunk));
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1, 10_000);
    assert.equal(rst.payload.readUInt32BE(0), E.flowControl);
  });

  it('bounds what one connection holds: a message that would pass the budget fails its stream with RESOURCE_EXHAUSTED', async () => {
    const small = await startServer([[testService, testImplementation().implementation]], { connectionBufferedBytesMax: 100_000 });
    try {
      const client = await clients.connect(small.port);
      const first = grpcMessage(Buffer.alloc(80_000));
      client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')), frame(T.data, 0, 1, first.subarray(0, 10_000)));
      client.send(frame(T.headers, F.endHeaders, 3, requestBlock('/t.Test/Echo')), frame(T.data, 0, 3, first.subarray(0, 10_000)));
      const refused = await client.status(3);
      assert.equal(refused.code, 8);
      assert.equal(refused.message, 'grpc: the connection holds more than 100000 bytes of unread requests');
      client.grantAll();
      for (let pos = 10_000; pos < first.length; pos += 16_000) client.send(frame(T.data, 0, 1, first.subarray(pos, pos + 16_000)));
      client.send(frame(T.data, F.endStream, 1));
      assert.equal((await client.status(1)).messages[0].length, 80_000);
    } finally {
      await small.close();
    }
  });
});
