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
});
