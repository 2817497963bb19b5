import assert from 'node:assert/strict';
import { encodeHeaderBlock } from '../../../src/server/api/hpack.js';
import {
  E, F, RawClients, S, T, frame, grpcMessage, requestBlock, settingsPayload, startServer, uint32, type TestServer,
} from './raw-h2.js';
import { testImplementation, testService } from './test-service.js';

describe('grpc-server: HTTP/2 connection', function () {
  this.timeout(20000);
  let server: TestServer;
  const clients = new RawClients();
  const open = (settings?: [number, number][]) => clients.connect(server.port, { settings });

  before(async () => {
    server = await startServer([[testService, testImplementation().implementation]]);
  });
  afterEach(() => {
    clients.closeAll();
  });
  after(() => server.close());

  describe('setup', () => {
    it('announces its settings and a 16 MiB connection window, and acknowledges the client SETTINGS', async () => {
      const client = await open([[S.initialWindowSize, 1000]]);
      const settings = client.frames.find((f) => f.type === T.settings && f.flags === 0)!;
      const announced = new Map<number, number>();
      for (let p = 0; p < settings.payload.length; p += 6) announced.set(settings.payload.readUInt16BE(p), settings.payload.readUInt32BE(p + 2));
      assert.equal(announced.get(S.maxConcurrentStreams), 2 ** 32 - 1, "etcd's --max-concurrent-streams default");
      assert.equal(announced.get(S.initialWindowSize), 4 * 1024 * 1024 + 5);
      assert.equal(announced.get(S.maxHeaderListSize), 64 * 1024);
      assert.equal(announced.get(S.enablePush), 0);
      const update = await client.waitFor((f) => f.type === T.windowUpdate && f.streamId === 0);
      assert.equal(65_535 + update.payload.readUInt32BE(0), 16 * 1024 * 1024);
      await client.waitFor((f) => f.type === T.settings && f.flags === F.ack);
    });

    it('answers PING with an ACK carrying the same payload', async () => {
      const client = await open();
      client.send(frame(T.ping, 0, 0, Buffer.from('ping0001')));
      const ack = await client.waitFor((f) => f.type === T.ping);
      assert.equal(ack.flags, F.ack);
      assert.equal(ack.payload.toString(), 'ping0001');
    });

    it('closes with GOAWAY PROTOCOL_ERROR on a wrong preface', async () => {
      const client = await clients.connect(server.port, { handshake: false });
      client.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal(await client.goAwayCode(), E.protocol);
    });

    it('closes with GOAWAY PROTOCOL_ERROR when the preface is not followed by SETTINGS', async () => {
      const client = await clients.connect(server.port, { handshake: false });
      client.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.ping, 0, 0, Buffer.alloc(8)));
      assert.equal(await client.goAwayCode(), E.protocol);
    });

    it('takes the preface and frames cut anywhere by the socket', async () => {
      const client = await clients.connect(server.port, { handshake: false });
      const bytes = Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.settings, 0, 0),
        frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('cut'))),
      ]);
      for (let i = 0; i < bytes.length; i++) {
        client.send(bytes.subarray(i, i + 1));
        if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const status = await client.status(1);
      assert.equal(status.code, 0);
      assert.deepEqual(status.messages.map(String), ['cut']);
    });
  });

  describe('connection errors end the connection with GOAWAY and the right code', () => {
    const headers = (id: number) => frame(T.headers, F.endHeaders, id, requestBlock('/t.Test/Hang'));
    const cases: [string, () => Buffer[], number][] = [
      ['a frame larger than 16 KiB', () => [frame(T.data, 0, 1, Buffer.alloc(16_385))], E.frameSize],
      ['DATA on stream 0', () => [frame(T.data, 0, 0, Buffer.alloc(1))], E.protocol],
      ['DATA on an idle stream', () => [frame(T.data, 0, 5, Buffer.alloc(1))], E.protocol],
      ['DATA whose padding is longer than the frame', () => [headers(1), frame(T.data, F.padded, 1, Buffer.from([9, 1, 2]))], E.protocol],
      ['HEADERS on stream 0', () => [frame(T.headers, F.endHeaders, 0, requestBlock('/t.Test/Echo'))], E.protocol],
      ['HEADERS on an even stream', () => [headers(2)], E.protocol],
      ['stream ids going down', () => [headers(5), headers(3)], E.protocol],
      ['a stream id reused', () => [headers(1), frame(T.rstStream, 0, 1, uint32(E.cancel)), headers(1)], E.protocol],
      ['CONTINUATION without HEADERS', () => [frame(T.continuation, F.endHeaders, 1, Buffer.from([0x83]))], E.protocol],
      ['a header block interrupted by another frame', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.ping, 0, 0, Buffer.alloc(8))], E.protocol],
      ['CONTINUATION on another stream', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.continuation, F.endHeaders, 3, Buffer.from([0x86]))], E.protocol],
      ['an undecodable header block', () => [frame(T.headers, F.endHeaders, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]))], E.compression],
      ['an index beyond the HPACK tables', () => [frame(T.headers, F.endHeaders, 1, Buffer.from([0xbf]))], E.compression],
      ['SETTINGS of a length not a multiple of 6', () => [frame(T.settings, 0, 0, Buffer.alloc(5))], E.frameSize],
      ['SETTINGS ACK with a payload', () => [frame(T.settings, F.ack, 0, Buffer.alloc(6))], E.frameSize],
      ['SETTINGS on a stream', () => [frame(T.settings, 0, 1)], E.protocol],
      ['SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1', () => [frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, 2 ** 31]]))], E.flowControl],
      ['SETTINGS_MAX_FRAME_SIZE below 16384', () => [frame(T.settings, 0, 0, settingsPayload([[S.maxFrameSize, 100]]))], E.protocol],
      ['SETTINGS_ENABLE_PUSH of 2', () => [frame(T.settings, 0, 0, settingsPayload([[S.enablePush, 2]]))], E.protocol],
      ['PING of 7 octets', () => [frame(T.ping, 0, 0, Buffer.alloc(7))], E.frameSize],
      ['PING on a stream', () => [frame(T.ping, 0, 1, Buffer.alloc(8))], E.protocol],
      ['WINDOW_UPDATE of 0 on the connection', () => [frame(T.windowUpdate, 0, 0, uint32(0))], E.protocol],
      ['WINDOW_UPDATE past 2^31-1 on the connection', () => [frame(T.windowUpdate, 0, 0, uint32(2 ** 31 - 1))], E.flowControl],
      ['WINDOW_UPDATE of 3 octets', () => [frame(T.windowUpdate, 0, 0, Buffer.alloc(3))], E.frameSize],
      ['WINDOW_UPDATE on an idle stream', () => [frame(T.windowUpdate, 0, 9, uint32(1))], E.protocol],
      ['RST_STREAM on an idle stream', () => [frame(T.rstStream, 0, 9, uint32(E.cancel))], E.protocol],
      ['RST_STREAM on stream 0', () => [frame(T.rstStream, 0, 0, uint32(E.cancel))], E.protocol],
      ['RST_STREAM of 5 octets', () => [headers(1), frame(T.rstStream, 0, 1, Buffer.alloc(5))], E.frameSize],
      ['PUSH_PROMISE from a client', () => [frame(T.pushPromise, F.endHeaders, 1, Buffer.alloc(4))], E.protocol],
      ['PRIORITY on stream 0', () => [frame(T.priority, 0, 0, Buffer.alloc(5))], E.protocol],
      ['GOAWAY on a stream', () => [frame(T.goAway, 0, 1, Buffer.alloc(8))], E.protocol],
    ];
    for (const [name, frames, code] of cases) {
      it(`${name}: code ${code}`, async () => {
        const client = await open();
        client.send(...frames());
        assert.equal(await client.goAwayCode(), code);
      });
    }
  });

  describe('stream errors reset one stream and the connection carries on', () => {
    const hang = (id: number, flags = F.endHeaders) => frame(T.headers, flags, id, requestBlock('/t.Test/Hang'));
    const cases: [string, () => Buffer[], number][] = [
      ['WINDOW_UPDATE of 0 on a stream', () => [hang(1), frame(T.windowUpdate, 0, 1, uint32(0))], E.protocol],
      ['WINDOW_UPDATE past 2^31-1 on a stream', () => [hang(1), frame(T.windowUpdate, 0, 1, uint32(2 ** 31 - 1))], E.flowControl],
      ['DATA after END_STREAM', () => [hang(1), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('x'))), frame(T.data, 0, 1, Buffer.alloc(1))], E.streamClosed],
      ['PRIORITY of 4 octets', () => [hang(1), frame(T.priority, 0, 1, Buffer.alloc(4))], E.frameSize],
      ['a stream that depends on itself', () => [frame(T.headers, F.endHeaders | F.priority, 1, Buffer.concat([uint32(1), Buffer.from([16]), requestBlock('/t.Test/Hang')]))], E.protocol],
      ['trailers without END_STREAM', () => [hang(1), frame(T.headers, F.endHeaders, 1, encodeHeaderBlock([{ name: 'x', value: 'y', sensitive: false }]))], E.protocol],
    ];
    for (const [name, frames, code] of cases) {
      it(`${name}: RST_STREAM ${code}`, async () => {
        const client = await open();
        client.send(...frames());
        const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1);
        assert.equal(rst.payload.readUInt32BE(0), code);
        client.unary(3, '/t.Test/Echo', Buffer.from('still here'));
        assert.deepEqual((await client.status(3)).messages.map(String), ['still here']);
      });
    }
  });

  describe('streams reset by the client (rapid reset, CVE-2023-44487)', () => {
    const openAndReset = (count: number, firstId = 1) => {
      const frames: Buffer[] = [];
      for (let i = 0, id = firstId; i < count; i++, id += 2) {
        frames.push(frame(T.headers, F.endHeaders, id, requestBlock('/t.Test/Hang')), frame(T.rstStream, 0, id, uint32(E.cancel)));
      }
      return frames;
    };

    it('a client within its budget keeps its connection', async () => {
      const client = await open();
      client.send(...openAndReset(500));
      client.unary(1001, '/t.Test/Echo', Buffer.from('still here'));
      assert.deepEqual((await client.status(1001)).messages.map(String), ['still here']);
    });

    it('a client resetting thousands of running calls at once gets GOAWAY ENHANCE_YOUR_CALM', async () => {
      const client = await open();
      client.send(...openAndReset(3000));
      assert.equal(await client.goAwayCode(), E.enhanceYourCalm);
    });
  });
});
