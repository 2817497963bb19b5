import assert from 'node:assert/strict';
import { encodeHeaderBlock, encodeInteger, encodeString } from '../../../src/server/api/hpack.js';
import { parseRequest } from '../../../src/server/api/grpc-server/server.js';
import { parseTimeoutMs, encodeGrpcMessage } from '../../../src/server/api/grpc-server/metadata.js';
import { E, F, RawClients, T, frame, grpcMessage, requestFields, startServer, type TestServer } from './raw-h2.js';
import { testImplementation, testService } from './test-service.js';

/** A literal with incremental indexing (RFC 7541 §6.2.1) under a static name index, value Huffman-coded. */
const indexedLiteral = (nameIndex: number, value: string) => Buffer.concat([encodeInteger(nameIndex, 6, 0x40), encodeString(value, true)]);
/** The same with a new name. */
const indexedNewName = (name: string, value: string) => Buffer.concat([Buffer.from([0x40]), encodeString(name, true), encodeString(value, true)]);
const indexed = (index: number) => encodeInteger(index, 7, 0x80);

describe('grpc-server: request headers', function () {
  this.timeout(20000);
  let server: TestServer;
  const clients = new RawClients();
  const open = () => clients.connect(server.port);

  before(async () => {
    server = await startServer([[testService, testImplementation().implementation]]);
  });
  afterEach(() => {
    clients.closeAll();
  });
  after(() => server.close());

  it('takes a header block split over CONTINUATION frames, with padding and a priority', async () => {
    const client = await open();
    const block = encodeHeaderBlock(requestFields('/t.Test/Echo', [['x-filler', 'f'.repeat(300)]]));
    const padded = Buffer.concat([Buffer.from([7]), uint32Priority(0), Buffer.from([200]), block.subarray(0, 50), Buffer.alloc(7)]);
    client.send(
      frame(T.headers, F.padded | F.priority, 1, padded),
      frame(T.continuation, 0, 1, block.subarray(50, 100)),
      frame(T.continuation, F.endHeaders, 1, block.subarray(100)),
      frame(T.data, F.padded | F.endStream, 1, Buffer.concat([Buffer.from([3]), grpcMessage(Buffer.from('padded')), Buffer.alloc(3)])),
    );
    const status = await client.status(1);
    assert.equal(status.code, 0);
    assert.deepEqual(status.messages.map(String), ['padded']);
  });

  it('follows the client encoder through Huffman strings, its dynamic table and a table size update', async () => {
    const client = await open();
    // Stream 1 inserts every request field in the dynamic table; the newest entry is index 62.
    const first = Buffer.concat([
      indexed(3), indexed(6), indexedLiteral(4, '/t.Test/Echo'), indexedLiteral(1, 'localhost'),
      indexedLiteral(31, 'application/grpc'), indexedNewName('te', 'trailers'),
    ]);
    // Stream 3 only refers to them: te=62, content-type=63, authority=64, path=65.
    const second = Buffer.concat([indexed(3), indexed(6), indexed(65), indexed(64), indexed(63), indexed(62)]);
    // Stream 5 empties the table first (size update to 0, then back to 4096), so it must spell everything again.
    const third = Buffer.concat([
      encodeInteger(0, 5, 0x20), encodeInteger(4096, 5, 0x20), indexed(3), indexed(6), indexedLiteral(4, '/t.Test/Echo'),
      indexedLiteral(31, 'application/grpc'),
    ]);
    [first, second, third].forEach((block, i) => {
      const id = 2 * i + 1;
      client.send(frame(T.headers, F.endHeaders, id, block), frame(T.data, F.endStream, id, grpcMessage(Buffer.from(`call ${id}`))));
    });
    for (const id of [1, 3, 5]) assert.deepEqual((await client.status(id)).messages.map(String), [`call ${id}`]);
  });

  it('hands metadata to the handler: ordinary values, base64-decoded -bin values, the authority as sent, and the peer', async () => {
    const client = await open();
    const extra: [string, string][] = [['token', 'secret'], ['blob-bin', Buffer.from([1, 2, 254]).toString('base64')], ['grpc-timeout', '10S']];
    const fields = requestFields('/t.Test/Meta', extra).map((f) => (f.name === ':authority' ? { ...f, value: 'http://127.0.0.1:2379' } : f));
    client.send(frame(T.headers, F.endHeaders, 1, encodeHeaderBlock(fields)), frame(T.data, F.endStream, 1, grpcMessage(Buffer.alloc(0))));
    const before = Date.now();
    const seen = JSON.parse((await client.status(1)).messages[0].toString());
    assert.deepEqual(seen.token, ['secret']);
    assert.deepEqual(seen.bin, ['0102fe']);
    assert.equal(seen.host, 'http://127.0.0.1:2379');
    assert.equal(seen.path, '/t.Test/Meta');
    assert.match(seen.peer, /^127\.0\.0\.1:\d+$/);
    assert(seen.deadline > before && seen.deadline <= Date.now() + 10_000);
  });

  it('refuses a header list larger than 64 KiB with RST_STREAM and keeps the connection', async () => {
    const client = await open();
    const block = encodeHeaderBlock(requestFields('/t.Test/Echo', [['x-big', 'v'.repeat(70_000)]]), { huffman: false });
    const frames = [frame(T.headers, 0, 1, block.subarray(0, 16_000))];
    for (let pos = 16_000; pos < block.length; pos += 16_000) {
      frames.push(frame(T.continuation, pos + 16_000 >= block.length ? F.endHeaders : 0, 1, block.subarray(pos, pos + 16_000)));
    }
    client.send(...frames);
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1);
    assert.equal(rst.payload.readUInt32BE(0), E.frameSize);
    client.unary(3, '/t.Test/Echo', Buffer.from('ok'));
    assert.equal((await client.status(3)).code, 0);
  });

  // RFC 9113's malformed requests are in conformance-rfc9113.test.ts; these are gRPC's own.
  describe('malformed gRPC requests are reset with PROTOCOL_ERROR, as grpc-go does', () => {
    const swap = (name: string, value: string) => requestFields('/t.Test/Echo').map((f) => (f.name === name ? { ...f, value } : f));
    const cases: [string, () => ReturnType<typeof requestFields>][] = [
      ['a content-type that is not gRPC', () => swap('content-type', 'application/json')],
      ['no content-type', () => requestFields('/t.Test/Echo').filter((f) => f.name !== 'content-type')],
      ['a malformed grpc-timeout', () => [...requestFields('/t.Test/Echo'), { name: 'grpc-timeout', value: '123456789S', sensitive: false }]],
    ];
    for (const [name, fields] of cases) {
      it(name, async () => {
        const client = await open();
        client.send(frame(T.headers, F.endHeaders, 1, encodeHeaderBlock(fields())), frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('x'))));
        const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1);
        assert.equal(rst.payload.readUInt32BE(0), E.protocol);
        client.unary(3, '/t.Test/Echo', Buffer.from('fine'));
        assert.equal((await client.status(3)).code, 0);
      });
    }
  });

  it('parses application/grpc content types with a subtype or parameters', () => {
    for (const value of ['application/grpc', 'application/grpc+proto', 'application/grpc;charset=utf-8']) {
      const fields = requestFields('/a.B/C').map((f) => (f.name === 'content-type' ? { ...f, value } : f));
      assert.notEqual(parseRequest(fields), undefined, value);
    }
    const wrong = requestFields('/a.B/C').map((f) => (f.name === 'content-type' ? { ...f, value: 'application/grpcx' } : f));
    assert.equal(parseRequest(wrong), undefined);
  });

  it('reads grpc-timeout in every unit, rounding up to whole milliseconds', () => {
    const table: [string, number | undefined][] = [
      ['1H', 3_600_000], ['2M', 120_000], ['3S', 3000], ['4m', 4], ['5000u', 5], ['1u', 1], ['1500000n', 2], ['99999999S', 2 ** 31 - 1],
      ['', undefined], ['S', undefined], ['123456789S', undefined], ['10s', undefined], ['-1S', undefined], ['1.5S', undefined],
    ];
    for (const [value, ms] of table) assert.equal(parseTimeoutMs(value), ms, value);
  });

  it('percent-encodes grpc-message as the gRPC spec says', () => {
    assert.equal(encodeGrpcMessage('etcdserver: key is not provided'), 'etcdserver: key is not provided');
    assert.equal(encodeGrpcMessage('100% sure\n'), '100%25 sure%0A');
    assert.equal(encodeGrpcMessage('héllo'), 'h%C3%A9llo');
  });
});

function uint32Priority(dependency: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(dependency, 0);
  return b;
}
