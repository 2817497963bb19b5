import assert from 'node:assert/strict';
import { once } from 'node:events';
import { E, F, RawClients, T, frame, grpcMessage, requestBlock, sleep, startServer, uint32, waitUntil, type TestServer } from './raw-h2.js';
import { testImplementation, testService, type TestServiceState } from './test-service.js';

describe('grpc-server: stream lifecycle', function () {
  this.timeout(30000);
  let server: TestServer;
  let state: TestServiceState;
  const clients = new RawClients();
  const open = () => clients.connect(server.port);

  beforeEach(async () => {
    const test = testImplementation();
    state = test.state;
    server = await startServer([[testService, test.implementation]], { maxConcurrentStreams: 1000 });
  });
  afterEach(async () => {
    clients.closeAll();
    await server.close();
  });

  it('cancels the call when the client resets its stream: the handler hears cancelled', async () => {
    const client = await open();
    const cancelled = once(state.events, 'cancelled');
    client.unary(1, '/t.Test/Hang', Buffer.from('call-1'));
    await waitUntil(() => state.answer.has('call-1'));
    client.send(frame(T.rstStream, 0, 1, uint32(E.cancel)));
    assert.deepEqual(await cancelled, ['call-1']);
    assert.equal(state.held[0].cancelled, true);
    // Answering a cancelled call sends nothing and breaks nothing.
    state.answer.get('call-1')!(null, Buffer.from('late'));
    client.unary(3, '/t.Test/Echo', Buffer.from('next'));
    assert.equal((await client.status(3)).code, 0);
    assert.equal(client.responses.get(1)?.headers.length ?? 0, 0);
  });

  it('ends a call at its grpc-timeout with DEADLINE_EXCEEDED, and the handler hears cancelled', async () => {
    const client = await open();
    const cancelled = once(state.events, 'cancelled');
    client.send(
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Hang', [['grpc-timeout', '100m']])),
      frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('slow'))),
    );
    const got = await client.status(1);
    assert.deepEqual({ code: got.code, message: got.message }, { code: 4, message: 'Deadline exceeded' });
    assert.deepEqual(await cancelled, ['slow']);
  });

  it('cancels every call of a connection that is lost', async () => {
    const client = await open();
    for (const id of [1, 3, 5]) client.unary(id, '/t.Test/Hang', Buffer.from(`lost-${id}`));
    await waitUntil(() => state.answer.size === 3);
    const seen: string[] = [];
    state.events.on('cancelled', (name: string) => seen.push(name));
    client.close();
    await waitUntil(() => seen.length === 3);
    assert.deepEqual(seen.sort(), ['lost-1', 'lost-3', 'lost-5']);
  });

  it('drains on shutdown: GOAWAY names the last stream, calls in flight finish, new streams are refused, then it closes', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Hang', Buffer.from('in-flight'));
    await waitUntil(() => state.answer.has('in-flight'));
    const shutdown = server.server.shutdown(10_000);
    const goAway = await client.waitFor((f) => f.type === T.goAway);
    assert.deepEqual([goAway.payload.readUInt32BE(0), goAway.payload.readUInt32BE(4)], [1, E.noError]);
    client.unary(3, '/t.Test/Echo', Buffer.from('too late'));
    const refused = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 3);
    assert.equal(refused.payload.readUInt32BE(0), E.refusedStream);
    assert.equal(client.closed, false);
    state.answer.get('in-flight')!(null, Buffer.from('finished'));
    assert.deepEqual((await client.status(1)).messages.map(String), ['finished']);
    await shutdown;
    await client.waitClosed();
    assert.equal(server.server.connectionCount, 0);
  });

  it('ends streaming calls with UNAVAILABLE on shutdown, and lets a unary call in flight finish', async () => {
    const client = await open();
    client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Chat')), frame(T.data, 0, 1, grpcMessage(Buffer.from('hello'))));
    await client.waitFor((f) => f.type === T.data && f.streamId === 1);
    client.unary(3, '/t.Test/Hang', Buffer.from('unary-in-flight'));
    await waitUntil(() => state.answer.has('unary-in-flight'));
    const shutdown = server.server.shutdown(10_000);
    const chat = await client.status(1);
    assert.deepEqual([chat.code, chat.message, chat.messages.map(String)], [14, 'etcdserver: server stopped', ['hello']]);
    assert.equal(client.closed, false, 'the unary call still runs');
    state.answer.get('unary-in-flight')!(null, Buffer.from('answered'));
    assert.deepEqual((await client.status(3)).messages.map(String), ['answered']);
    await shutdown;
    await client.waitClosed();
  });

  it('finishes the calls in flight after the client says GOAWAY, then closes', async () => {
    const client = await open();
    client.unary(1, '/t.Test/Hang', Buffer.from('before-goaway'));
    await waitUntil(() => state.answer.has('before-goaway'));
    client.send(frame(T.goAway, 0, 0, Buffer.concat([uint32(0), uint32(E.noError)])));
    await client.barrier();
    assert.equal(client.closed, false);
    state.answer.get('before-goaway')!(null, Buffer.from('done'));
    assert.deepEqual((await client.status(1)).messages.map(String), ['done']);
    await client.waitClosed();
  });

  it('refuses streams past MAX_CONCURRENT_STREAMS with REFUSED_STREAM, and takes new ones once others end', async () => {
    const client = await open();
    const frames: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      frames.push(frame(T.headers, F.endHeaders, 2 * i + 1, requestBlock('/t.Test/Hang')), frame(T.data, F.endStream, 2 * i + 1, grpcMessage(Buffer.from(`h${i}`))));
    }
    client.send(...frames);
    await waitUntil(() => state.answer.size === 1000);
    client.unary(2001, '/t.Test/Echo', Buffer.from('one too many'));
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 2001);
    assert.equal(rst.payload.readUInt32BE(0), E.refusedStream);
    state.answer.get('h0')!(null, Buffer.from('freed'));
    await client.status(1);
    client.unary(2003, '/t.Test/Echo', Buffer.from('now it fits'));
    assert.deepEqual((await client.status(2003)).messages.map(String), ['now it fits']);
  });

  it('delivers the end of a request stream once, after its messages, when END_STREAM comes with the HEADERS', async () => {
    const client = await open();
    let ends = 0;
    state.events.on('chat-end', () => ends++);
    client.send(frame(T.headers, F.endHeaders | F.endStream, 1, requestBlock('/t.Test/Chat')));
    assert.deepEqual(await client.status(1), { code: 0, message: '', messages: [] });
    // A handler that reads nothing at first: the end waits for it, then comes once.
    client.send(frame(T.headers, F.endHeaders, 3, requestBlock('/t.Test/SlowChat')), frame(T.data, F.endStream, 3, grpcMessage(Buffer.from('late'))));
    await waitUntil(() => state.held.length === 1);
    await client.barrier();
    assert.equal(client.responses.get(3), undefined);
    state.held[0].resume();
    assert.deepEqual((await client.status(3)).messages.map(String), ['4']);
    assert.equal(ends, 1);
  });

  it('pings for keepalive, and closes the connection of a client that stops answering', async () => {
    const keepalive = await startServer([[testService, testImplementation().implementation]], { keepaliveTimeMs: 50, keepaliveTimeoutMs: 200 });
    try {
      const answering = await clients.connect(keepalive.port);
      const silent = await clients.connect(keepalive.port);
      let acked = 0;
      const timer = setInterval(() => {
        for (const ping of answering.frames.filter((f) => f.type === T.ping && f.flags === 0).slice(acked)) {
          answering.send(frame(T.ping, F.ack, 0, ping.payload));
          acked++;
        }
      }, 10);
      await silent.waitClosed(2000);
      assert(silent.frames.some((f) => f.type === T.ping && f.flags === 0));
      // Longer than the 200 ms keepalive timeout, counted in pings the server sent and we answered.
      const ackedAtClose = acked;
      await waitUntil(() => acked >= ackedAtClose + 6 || answering.closed);
      clearInterval(timer);
      assert.equal(answering.closed, false);
    } finally {
      await keepalive.close();
    }
  });

  it('serves hundreds of concurrent streams on one connection, frames interleaved', async () => {
    const client = await open();
    client.grantAll();
    const n = 500;
    const bodies = Array.from({ length: n }, (_, i) => Buffer.alloc((i * 7919) % 40_000, i % 251));
    const pieces = bodies.map((b) => grpcMessage(b));
    client.send(...bodies.map((_, i) => frame(T.headers, F.endHeaders, 2 * i + 1, requestBlock('/t.Test/Echo'))));
    // Round-robin 1000-byte DATA frames over every stream.
    const offsets = new Array<number>(n).fill(0);
    for (let active = n; active > 0;) {
      active = 0;
      const batch: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        if (offsets[i] > pieces[i].length) continue;
        const slice = pieces[i].subarray(offsets[i], offsets[i] + 1000);
        offsets[i] += 1000;
        batch.push(frame(T.data, offsets[i] >= pieces[i].length ? F.endStream : 0, 2 * i + 1, slice));
        if (offsets[i] >= pieces[i].length) offsets[i] = Infinity;
        else active++;
      }
      client.send(...batch);
    }
    for (let i = 0; i < n; i++) {
      const got = await client.status(2 * i + 1, 15_000);
      assert.equal(got.code, 0);
      assert(got.messages[0].equals(bodies[i]), `stream ${2 * i + 1}`);
    }
  });
});
