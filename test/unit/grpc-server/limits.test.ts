import assert from 'node:assert/strict';
import { encodeHeaderBlock, encodeInteger, encodeString } from '../../../src/server/api/hpack.js';
import type { GrpcServerOptions } from '../../../src/server/api/grpc-server/server.js';
import {
  E, F, RawClients, S, T, frame, grpcMessage, requestBlock, requestFields, settingsPayload, sleep, startServer, uint32, waitUntil,
  type RawClient, type TestServer,
} from './raw-h2.js';
import { testImplementation, testService, type TestServiceState } from './test-service.js';

/**
 * The budgets and time limits of limits.ts, each driven past its bound
 * by a raw client: what ends the connection (and with which GOAWAY), what
 * a well-behaved client doing the same amount of legitimate work keeps.
 */

const hang = (id: number) => frame(T.headers, F.endHeaders, id, requestBlock('/t.Test/Hang'));
const hangCall = (id: number) => [hang(id), frame(T.data, F.endStream, id, grpcMessage(Buffer.from(`h${id}`)))];
const echo = (id: number) => [frame(T.headers, F.endHeaders, id, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, id, grpcMessage(Buffer.from(`e${id}`)))];
const repeat = (count: number, make: (i: number) => Buffer[]) => Array.from({ length: count }, (_, i) => make(i)).flat();
const goAwayDebug = (client: RawClient) => client.frames.find((f) => f.type === T.goAway)!.payload.subarray(8).toString();

describe('grpc-server: limits', function () {
  this.timeout(30000);
  const clients = new RawClients();
  const servers: TestServer[] = [];
  let state: TestServiceState;
  /** A server of the test service with these options, closed after the test. */
  const serve = async (options: GrpcServerOptions = {}): Promise<TestServer> => {
    const test = testImplementation();
    state = test.state;
    const server = await startServer([[testService, test.implementation]], options);
    servers.push(server);
    return server;
  };
  const connect = async (options: GrpcServerOptions = {}, settings?: [number, number][]) => {
    const server = await serve(options);
    return { server, client: await clients.connect(server.port, { settings }) };
  };

  afterEach(async () => {
    clients.closeAll();
    for (const server of servers.splice(0)) await server.close();
  });

  describe('stream resets: nghttp2\'s budget of 1000, then 33 a second', () => {
    it('rapid reset (CVE-2023-44487): a client resetting thousands of running calls gets GOAWAY ENHANCE_YOUR_CALM', async () => {
      const { client } = await connect();
      client.send(...repeat(3000, (i) => [hang(2 * i + 1), frame(T.rstStream, 0, 2 * i + 1, uint32(E.cancel))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert.match(goAwayDebug(client), /too many streams reset/);
    });

    it('a client resetting 500 calls keeps its connection', async () => {
      const { client } = await connect();
      client.send(...repeat(500, (i) => [hang(2 * i + 1), frame(T.rstStream, 0, 2 * i + 1, uint32(E.cancel))]));
      client.unary(1001, '/t.Test/Echo', Buffer.from('still here'));
      assert.deepEqual((await client.status(1001)).messages.map(String), ['still here']);
    });

    it('MadeYouReset (CVE-2025-8671): stream errors the client provokes cost the same budget, and the handlers are cancelled', async () => {
      const { client } = await connect();
      let cancelled = 0;
      state.events.on('cancelled', () => cancelled++);
      // A zero WINDOW_UPDATE on a running call is a stream error: we reset the stream, its handler stops.
      client.send(...repeat(1500, (i) => [...hangCall(2 * i + 1), frame(T.windowUpdate, 0, 2 * i + 1, uint32(0))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert(cancelled >= 1000, `${cancelled} handlers cancelled`);
      assert.equal(state.answer.size, cancelled, 'every call the server started was cancelled');
    });

    it('MadeYouReset by malformed requests: each reset costs the client a token', async () => {
      const { client } = await connect();
      const malformed = encodeHeaderBlock([...requestFields('/t.Test/Echo'), { name: 'Upper', value: 'x', sensitive: false }]);
      client.send(...repeat(1500, (i) => [frame(T.headers, F.endHeaders | F.endStream, 2 * i + 1, malformed)]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
    });

    it('messages the transport refuses cost a token too', async () => {
      const { client } = await connect({ maxReceiveMessageBytes: 10 });
      client.send(...repeat(1500, (i) => [frame(T.headers, F.endHeaders, 2 * i + 1, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, 2 * i + 1, grpcMessage(Buffer.alloc(11)))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert.equal((await client.status(1)).code, 8, 'RESOURCE_EXHAUSTED before the budget ran out');
    });
  });

  describe('frames without a request: nghttp2\'s glitch budget of 1000, then 33 a second', () => {
    const floods: [string, (client: RawClient) => Buffer[]][] = [
      ['empty DATA without END_STREAM (CVE-2019-9518)', () => [hang(1), ...repeat(1200, () => [frame(T.data, 0, 1)])]],
      ['PRIORITY', () => repeat(1200, (i) => [frame(T.priority, 0, 2 * i + 1, Buffer.from([0, 0, 0, 0, 16]))])],
      ['frames of unknown types', () => repeat(1200, () => [frame(0x42, 0, 0, Buffer.alloc(4))])],
      ['SETTINGS (CVE-2019-9515)', () => repeat(1200, () => [frame(T.settings, 0, 0)])],
      ['WINDOW_UPDATE on a closed stream', () => [...echo(1), ...repeat(1200, () => [frame(T.windowUpdate, 0, 1, uint32(1))])]],
      ['RST_STREAM on a closed stream', () => [...echo(1), ...repeat(1200, () => [frame(T.rstStream, 0, 1, uint32(E.cancel))])]],
      ['PING ACKs nobody asked for', () => repeat(1200, () => [frame(T.ping, F.ack, 0, Buffer.alloc(8))])],
      // Eight empty fragments per request outweigh the credit a request earns.
      ['empty header block fragments', () => repeat(300, (i) => [
        frame(T.headers, 0, 2 * i + 1), ...repeat(7, () => [frame(T.continuation, 0, 2 * i + 1)]), frame(T.continuation, F.endHeaders, 2 * i + 1, requestBlock('/t.Test/Hang')),
      ])],
    ];
    for (const [name, flood] of floods) {
      it(`a flood of ${name} gets GOAWAY ENHANCE_YOUR_CALM`, async () => {
        const { client } = await connect();
        client.send(...flood(client));
        assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      });
    }

    it('a well-behaved client whose calls each leave a stray WINDOW_UPDATE and RST_STREAM keeps its connection for 3000 calls', async () => {
      const { client } = await connect();
      for (let batch = 0; batch < 30; batch++) {
        const first = 1 + 200 * batch;
        client.send(...repeat(100, (i) => [...echo(first + 2 * i), frame(T.windowUpdate, 0, first + 2 * i, uint32(100)), frame(T.rstStream, 0, first + 2 * i, uint32(E.cancel))]));
        await client.status(first + 198);
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });
  });

  describe('acknowledgements owed (nghttp2\'s max_outbound_ack, CVE-2019-9512)', () => {
    it('more than 1000 PING ACKs owed at once: GOAWAY ENHANCE_YOUR_CALM', async () => {
      // Keepalive enforcement off, so that only the ACK count can stop the flood.
      const { client } = await connect({ keepaliveMinTimeMs: 0, keepalivePermitWithoutStream: true });
      client.send(...repeat(5000, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert.match(goAwayDebug(client), /acknowledgements/);
    });

    it('PINGs a client sends once its ACKs came back are owed afresh', async () => {
      const { client } = await connect({ keepaliveMinTimeMs: 0, keepalivePermitWithoutStream: true });
      for (let round = 0; round < 5; round++) {
        client.send(...repeat(500, (i) => [frame(T.ping, 0, 0, Buffer.from(`${round}-${String(i).padStart(5, '0')}`.padEnd(8, '.')))]));
        await client.waitFor((f) => f.type === T.ping && f.payload.toString() === `${round}-00499`.padEnd(8, '.'));
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });
  });

  describe('refused streams (Node\'s maxSessionRejectedStreams, 100 in a row)', () => {
    it('a client that keeps opening streams past the limit gets GOAWAY ENHANCE_YOUR_CALM', async () => {
      const { client } = await connect({ maxConcurrentStreams: 1 });
      client.send(...hangCall(1), ...repeat(150, (i) => hangCall(3 + 2 * i)));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert.equal(client.frames.filter((f) => f.type === T.rstStream && f.payload.readUInt32BE(0) === E.refusedStream).length, 100);
    });

    it('refusals between accepted streams start the count over', async () => {
      const { client } = await connect({ maxConcurrentStreams: 1 });
      for (let round = 0; round < 3; round++) {
        const base = 1 + 400 * round;
        client.send(...hangCall(base), ...repeat(90, (i) => hangCall(base + 2 + 2 * i)));
        await client.waitFor((f) => f.type === T.rstStream && f.streamId === base + 180);
        state.answer.get(`h${base}`)!(null, Buffer.from('done'));
        await client.status(base);
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });
  });

  describe('keepalive enforcement: grpc-go\'s handlePing with etcd\'s policy', () => {
    it('a fourth PING within 5 s of the last, a call open: GOAWAY ENHANCE_YOUR_CALM "too_many_pings"', async () => {
      const { client } = await connect();
      client.send(hang(1), ...repeat(4, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
      assert.equal(goAwayDebug(client), 'too_many_pings');
    });

    it('three PINGs are two strikes: the connection stays', async () => {
      const { client } = await connect();
      client.send(hang(1), ...repeat(3, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))]));
      await client.waitFor((f) => f.type === T.ping && f.payload[0] === 2);
      // A call answered after the PINGs: a GOAWAY for them would have come before its response.
      client.send(...echo(3));
      await client.status(3);
      assert(!client.frames.some((f) => f.type === T.goAway));
    });

    it('our HEADERS or DATA since the last PING wipe the strikes (a BDP ping answers our data)', async () => {
      const { client } = await connect();
      for (let i = 0; i < 20; i++) {
        client.send(...echo(2 * i + 1));
        await client.status(2 * i + 1);
        client.send(frame(T.ping, 0, 0, Buffer.alloc(8, i)));
        await client.waitFor((f) => f.type === T.ping && f.payload[0] === i);
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });

    it('with no call open, PINGs need two hours between them (PermitWithoutStream false)', async () => {
      const { client } = await connect();
      client.send(...repeat(4, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))]));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
    });

    it('PINGs further apart than keepaliveMinTimeMs are never strikes', async () => {
      const { client } = await connect({ keepaliveMinTimeMs: 20 });
      client.send(hang(1));
      for (let i = 0; i < 6; i++) {
        client.send(frame(T.ping, 0, 0, Buffer.alloc(8, i)));
        await client.waitFor((f) => f.type === T.ping && f.payload[0] === i);
        await sleep(40);
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });

    it('a server that pings every 100 ms itself lets clients ping as often, streams or not', async () => {
      const { client } = await connect({ keepaliveTimeMs: 100 });
      for (let i = 0; i < 6; i++) {
        client.send(frame(T.ping, 0, 0, Buffer.alloc(8, i)));
        await client.waitFor((f) => f.type === T.ping && (f.flags & F.ack) !== 0 && f.payload[0] === i);
        await sleep(60);
      }
      assert(!client.frames.some((f) => f.type === T.goAway));
    });
  });

  describe('time limits', () => {
    it('no preface within handshakeTimeoutMs: GOAWAY PROTOCOL_ERROR', async () => {
      const server = await serve({ handshakeTimeoutMs: 100 });
      const client = await clients.connect(server.port, { handshake: false });
      client.send(Buffer.from('PRI * HTTP/2.0\r\n'));
      assert.equal(await client.goAwayCode(), E.protocol);
    });

    it('a preface without SETTINGS within handshakeTimeoutMs: GOAWAY PROTOCOL_ERROR', async () => {
      const server = await serve({ handshakeTimeoutMs: 100 });
      const client = await clients.connect(server.port, { handshake: false });
      client.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      assert.equal(await client.goAwayCode(), E.protocol);
    });

    it('slowloris, a frame left unfinished: GOAWAY ENHANCE_YOUR_CALM after incompleteFrameTimeoutMs', async () => {
      const { client } = await connect({ incompleteFrameTimeoutMs: 100 });
      client.send(frame(T.ping, 0, 0, Buffer.alloc(8)).subarray(0, 12));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
    });

    it('slowloris, a header block never finished: GOAWAY ENHANCE_YOUR_CALM', async () => {
      const { client } = await connect({ incompleteFrameTimeoutMs: 100 });
      const block = requestBlock('/t.Test/Echo');
      client.send(frame(T.headers, 0, 1, block.subarray(0, 4)));
      for (let i = 4; i < 8; i++) {
        // CONTINUATIONs keep coming, each one whole: the block still never ends.
        await sleep(40);
        client.send(frame(T.continuation, 0, 1, block.subarray(i, i + 1)));
      }
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
    });

    it('a slow client whose frames each complete in time is not cut', async () => {
      const { client } = await connect({ incompleteFrameTimeoutMs: 1000, keepaliveMinTimeMs: 0, keepalivePermitWithoutStream: true });
      const bytes = Buffer.concat(repeat(8, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))]));
      // 17-octet PINGs, 5 octets every 60 ms: each frame takes about 240 ms, all of them together longer than the limit.
      for (let pos = 0; pos < bytes.length; pos += 5) {
        client.send(bytes.subarray(pos, pos + 5));
        await sleep(60);
      }
      await client.waitFor((f) => f.type === T.ping && f.payload[0] === 7);
      assert(!client.frames.some((f) => f.type === T.goAway));
    });

    it('idle: no stream for idleTimeoutMs, PINGs notwithstanding: GOAWAY NO_ERROR, then the end', async () => {
      const { client } = await connect({ idleTimeoutMs: 300, keepaliveMinTimeMs: 0, keepalivePermitWithoutStream: true });
      client.send(...echo(1));
      await client.status(1);
      for (let i = 0; i < 3 && !client.closed; i++) {
        client.send(frame(T.ping, 0, 0, Buffer.alloc(8, i)));
        await sleep(50);
      }
      assert.equal(await client.goAwayCode(), E.noError);
      const goAway = client.frames.find((f) => f.type === T.goAway)!;
      assert.equal(goAway.payload.readUInt32BE(0), 1, 'the last stream processed');
    });

    it('a connection with a call open is not idle', async () => {
      const { client, server } = await connect({ idleTimeoutMs: 100 });
      client.send(...hangCall(1));
      await waitUntil(() => state.answer.has('h1'));
      // A second connection, idle from the start and opened later: once the server has closed it
      // for idleness, the first one's idle deadline has passed too.
      const idle = await clients.connect(server.port);
      assert.equal(await idle.goAwayCode(), E.noError);
      assert(!client.frames.some((f) => f.type === T.goAway));
      state.answer.get('h1')!(null, Buffer.from('late'));
      assert.deepEqual((await client.status(1)).messages.map(String), ['late']);
    });
  });

  describe('HPACK bomb: a small block that decodes to a large header list', () => {
    /** One 4000-octet dynamic entry, referred to `refs` times by a block of `refs` octets. */
    const bomb = (refs: number) => {
      const entry = Buffer.concat([Buffer.from([0x40]), encodeString('x-bomb', false), encodeString('b'.repeat(4000), false)]);
      return [
        frame(T.headers, F.endHeaders, 1, Buffer.concat([requestBlock('/t.Test/Echo'), entry])),
        frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('setup'))),
        frame(T.headers, F.endHeaders | F.endStream, 3, Buffer.concat([requestBlock('/t.Test/Echo'), Buffer.alloc(refs, encodeInteger(62, 7, 0x80)[0])])),
      ];
    };

    it('past SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB): the stream is refused, the connection stays', async () => {
      const { client, server } = await connect();
      client.send(...bomb(20));
      const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 3);
      assert.equal(rst.payload.readUInt32BE(0), E.frameSize);
      client.unary(5, '/t.Test/Echo', Buffer.from('fine'));
      assert.equal((await client.status(5)).code, 0);
      assert(server.connections[0].limitsSnapshot().headerTableBytes <= 4096);
    });

    it('past the 256 KiB we decode at all: GOAWAY COMPRESSION_ERROR', async () => {
      const { client } = await connect();
      client.send(...bomb(100));
      assert.equal(await client.goAwayCode(), E.compression);
    });
  });

  describe('the memory budget of a server, across its connections', () => {
    it('zero-window clients asking for large responses: the heavy ones are reset, a well-behaved client is served, memory stays bounded', async () => {
      const memoryBytesMax = 4 * 1024 * 1024;
      const server = await serve({ memoryBytesMax });
      const hoarders: RawClient[] = [];
      let peak = 0;
      for (let c = 0; c < 8; c++) {
        const client = await clients.connect(server.port, { settings: [[S.initialWindowSize, 0]] });
        client.send(...repeat(4, (i) => [frame(T.headers, F.endHeaders, 2 * i + 1, requestBlock('/t.Test/Big')), frame(T.data, F.endStream, 2 * i + 1, grpcMessage(Buffer.from(String(512 * 1024))))]));
        hoarders.push(client);
        peak = Math.max(peak, server.server.memoryBudget.used);
      }
      await waitUntil(() => {
        peak = Math.max(peak, server.server.memoryBudget.used);
        return hoarders.some((c) => c.frames.some((f) => f.type === T.rstStream && f.payload.readUInt32BE(0) === E.enhanceYourCalm));
      });
      const polite = await clients.connect(server.port);
      polite.grantAll();
      polite.unary(1, '/t.Test/Big', Buffer.from(String(100 * 1024)));
      assert.equal((await polite.status(1)).messages[0].length, 100 * 1024);
      assert(peak <= 2 * memoryBytesMax, `peak ${peak} bytes`);
      clients.closeAll();
      await waitUntil(() => server.server.connectionCount === 0);
      assert.equal(server.server.memoryBudget.used, 0, 'every byte given back');
    });

    it('unread requests across connections: the heavy connections get RESOURCE_EXHAUSTED, a light one is served', async () => {
      const memoryBytesMax = 2 * 1024 * 1024;
      const server = await serve({ memoryBytesMax, maxReceiveMessageBytes: 1024 * 1024 });
      const heavy: RawClient[] = [];
      for (let c = 0; c < 6; c++) {
        const client = await clients.connect(server.port);
        // SlowChat reads nothing: its messages wait in the stream, held against the budget.
        client.send(frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/SlowChat')), ...repeat(40, () => [frame(T.data, 0, 1, grpcMessage(Buffer.alloc(16_000)))]));
        heavy.push(client);
      }
      const refused = async () => {
        for (const client of heavy) {
          const response = client.responses.get(1);
          if (response?.ended && response.headers.at(-1)?.some((f) => f.name === 'grpc-status' && f.value === '8')) return true;
        }
        return false;
      };
      await waitUntil(() => heavy.some((c) => c.responses.get(1)?.ended === true));
      assert(await refused(), 'a heavy connection was refused with RESOURCE_EXHAUSTED');
      assert(server.server.memoryBudget.used <= 2 * memoryBytesMax);
      const light = await clients.connect(server.port);
      light.unary(1, '/t.Test/Echo', Buffer.alloc(1000, 1));
      assert.equal((await light.status(1)).code, 0);
    });
  });

  describe('streams per connection', () => {
    it('whatever SETTINGS_MAX_CONCURRENT_STREAMS says, a connection holds at most 10 000 streams', async () => {
      const { client } = await connect();
      client.send(...repeat(10_001, (i) => [hang(2 * i + 1)]));
      const rst = await client.waitFor((f) => f.type === T.rstStream, 20_000);
      assert.equal(rst.streamId, 20_001);
      assert.equal(rst.payload.readUInt32BE(0), E.refusedStream);
    });
  });
});
