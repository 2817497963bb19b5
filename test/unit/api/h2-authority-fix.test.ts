import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  AuthorityRewriter, Http2FramingError, authorityNeedsFix, fixedAuthority, headerBlockBytesMax, type RewriterOptions,
} from '../../../src/server/api/h2-authority-rewriter.js';
import { AuthorityFixStream, acceptHttp2, fixAuthority } from '../../../src/server/api/h2-authority-fix.js';
import { HpackDecoder, HpackError, encodeHeaderBlock, encodeString, type HeaderField } from '../../../src/server/api/hpack.js';
import { frame, preface } from '../grpc-server/raw-h2.js';

const type = { data: 0, headers: 1, rstStream: 3, settings: 4, pushPromise: 5, ping: 6, goaway: 7, windowUpdate: 8, continuation: 9 };
const flag = { endStream: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 };

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function parseFrames(bytes: Buffer): Frame[] {
  assert.deepEqual(bytes.subarray(0, preface.length), preface);
  const frames: Frame[] = [];
  for (let pos = preface.length; pos < bytes.length;) {
    const length = bytes.readUIntBE(pos, 3);
    frames.push({ type: bytes[pos + 3], flags: bytes[pos + 4], streamId: bytes.readUInt32BE(pos + 5), payload: bytes.subarray(pos + 9, pos + 9 + length) });
    pos += 9 + length;
  }
  return frames;
}

/** Feeds the input to a fresh rewriter in chunks of the given sizes (cycling), returning what it emits. */
function rewrite(input: Buffer, chunkSizes: number[] = [input.length], options: RewriterOptions = {}): { output: Buffer; rewriter: AuthorityRewriter } {
  const out: Buffer[] = [];
  const rewriter = new AuthorityRewriter((bytes) => out.push(Buffer.from(bytes)), options);
  for (let pos = 0, i = 0; pos < input.length; i++) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length]);
    rewriter.write(input.subarray(pos, pos + size));
    pos += size;
  }
  return { output: Buffer.concat(out), rewriter };
}

/** A small seeded generator (mulberry32), so random inputs replay exactly. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fixed chunk sizes around the preface and frame-header boundaries, then `count` seeded random ones. */
function chunkings(seed: number, count: number): number[][] {
  const next = seeded(seed);
  const fixed = [[1], [2], [7], [9], [10], [23], [24], [25], [4096]];
  const random = Array.from({ length: count }, () => Array.from({ length: 32 }, () => 1 + Math.floor(next() * 40)));
  return [...fixed, ...random];
}

/** literal with incremental indexing, new name (RFC 7541 6.2.1): the client's table grows. */
const indexed = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), encodeString(name), encodeString(value)]);
const fields = (pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value, sensitive: false }));

/**
 * A client connection as a client encoder with a dynamic table would send it:
 * stream 1's HEADERS is padded, carries priority and continues in a
 * CONTINUATION; stream 3's block refers to entries stream 1's block added.
 */
function clientConnection(authority: string): { bytes: Buffer; requests: [string, string][][] } {
  // Dynamic table after block 1: 62 = x-seq: 1, 63 = :authority.
  const block1 = Buffer.concat([Buffer.from([0x83, 0x86]), Buffer.from([0x44]), encodeString('/etcdserverpb.KV/Range'),
    Buffer.from([0x41]), encodeString(authority), indexed('x-seq', '1')]);
  const block2 = Buffer.from([0x83, 0x86, 0x84, 0xbf, 0xbe]);
  const padding = 3;
  const headersPayload = Buffer.concat([Buffer.from([padding]), Buffer.from([0, 0, 0, 0, 15]), block1.subarray(0, 10), Buffer.alloc(padding)]);
  const bytes = Buffer.concat([
    preface,
    frame(type.settings, 0, 0, Buffer.from([0, 4, 0, 0x10, 0, 0])),
    frame(type.windowUpdate, 0, 0, Buffer.from([0, 1, 0, 0])),
    frame(type.headers, flag.padded | flag.priority, 1, headersPayload),
    frame(type.continuation, flag.endHeaders, 1, block1.subarray(10)),
    frame(type.data, flag.endStream, 1, Buffer.from('hello')),
    frame(type.settings, 1, 0),
    frame(type.headers, flag.endHeaders | flag.endStream, 3, block2),
    frame(type.ping, 0, 0, Buffer.alloc(8, 7)),
  ]);
  return {
    bytes,
    requests: [
      [[':method', 'POST'], [':scheme', 'http'], [':path', '/etcdserverpb.KV/Range'], [':authority', authority], ['x-seq', '1']],
      [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', authority], ['x-seq', '1']],
    ],
  };
}

describe('h2 authority fix: authorities', () => {
  const table: [string, boolean, string][] = [
    ['127.0.0.1:2379', false, '127.0.0.1:2379'],
    ['localhost', false, 'localhost'],
    ['http://127.0.0.1:2379', true, '127.0.0.1:2379'],
    ['https://[::1]:2379/', true, '[::1]:2379'],
    ['unix://localhost:2379', true, 'localhost:2379'],
    ['127.0.0.1:2379/some/path', true, '127.0.0.1:2379'],
  ];
  for (const [authority, needsFix, fixed] of table) {
    it(`${authority} ${needsFix ? `becomes ${fixed}` : 'is left alone'}`, () => {
      assert.equal(authorityNeedsFix(authority), needsFix);
      if (needsFix) assert.equal(fixedAuthority(authority), fixed);
    });
  }
});

describe('h2 authority fix: the byte stream', () => {
  it('passes a connection with a valid authority through byte for byte, however it is chunked', () => {
    const { bytes } = clientConnection('127.0.0.1:2379');
    for (const sizes of chunkings(1, 20)) {
      const { output, rewriter } = rewrite(bytes, sizes);
      assert.deepEqual(output, bytes, `chunks ${sizes.join(',')}`);
      assert.equal(rewriter.state, 'passthrough');
    }
  });

  it('rewrites every header block of a connection with a bad authority, the same way however it is chunked', () => {
    const { bytes, requests } = clientConnection('http://127.0.0.1:2379');
    const whole = rewrite(bytes).output;
    for (const sizes of chunkings(2, 20)) {
      const { output, rewriter } = rewrite(bytes, sizes);
      assert.deepEqual(output, whole, `chunks ${sizes.join(',')}`);
      assert.equal(rewriter.state, 'rewrite');
    }
    const frames = parseFrames(whole);
    assert.deepEqual(frames.map((f) => [f.type, f.flags, f.streamId]), [
      [type.settings, 0, 0], [type.windowUpdate, 0, 0],
      [type.headers, flag.endHeaders, 1],
      [type.data, flag.endStream, 1], [type.settings, 1, 0],
      [type.headers, flag.endHeaders | flag.endStream, 3],
      [type.ping, 0, 0],
    ], 'frames keep their order; padding, priority and the CONTINUATION are gone');
    // A server decoder that has only ever seen the rewritten blocks decodes them with an empty table.
    const server = new HpackDecoder(4096, 1 << 20);
    const fixed = requests.map((r) => fields(r.map(([n, v]) => [n, n === ':authority' ? '127.0.0.1:2379' : v])));
    assert.deepEqual(server.decode(frames[2].payload), fixed[0]);
    assert.deepEqual(server.decode(frames[5].payload), fixed[1]);
    assert.deepEqual(server.dynamicTable(), { entries: [], bytes: 0 });
    for (const i of [0, 1, 3, 4, 6]) assert.deepEqual(frames[i], parseFrames(bytes)[i + (i >= 3 ? 1 : 0)], `frame ${i} is unchanged`);
  });

  it('splits a rewritten block larger than 16384 octets into HEADERS and CONTINUATIONs', () => {
    const big = 'v'.repeat(40000);
    const block = Buffer.concat([Buffer.from([0x41]), encodeString('http://h:1'), Buffer.from([0x00]), encodeString('x-big', false), encodeString(big, false)]);
    const input = Buffer.concat([preface, ...splitBlock(block, 1, flag.endStream)]);
    const frames = parseFrames(rewrite(input, [1000]).output);
    assert.deepEqual(frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length <= 16384]), [
      [type.headers, flag.endStream, 1, true], [type.continuation, 0, 1, true], [type.continuation, flag.endHeaders, 1, true],
    ]);
    assert.equal(frames[0].payload.length, 16384);
    const decoded = new HpackDecoder(4096, 1 << 20).decode(Buffer.concat(frames.map((f) => f.payload)));
    assert.deepEqual(decoded, fields([[':authority', 'h:1'], ['x-big', big]]));
  });

  it('keeps never-indexed fields never indexed', () => {
    const block = Buffer.concat([Buffer.from([0x41]), encodeString('http://h:1'), Buffer.from([0x10]), encodeString('authorization'), encodeString('secret')]);
    const frames = parseFrames(rewrite(Buffer.concat([preface, frame(type.headers, flag.endHeaders, 1, block)])).output);
    assert.deepEqual(new HpackDecoder(4096, 1 << 20).decode(frames[0].payload), [
      { name: ':authority', value: 'h:1', sensitive: false }, { name: 'authorization', value: 'secret', sensitive: true },
    ]);
  });

  it('drops the first SETTINGS ACK when asked to, and only that one, however the bytes are chunked', () => {
    const { bytes } = clientConnection('127.0.0.1:2379');
    const ack = frame(type.settings, 1, 0);
    const preface24 = bytes.subarray(0, 24);
    const withAck = Buffer.concat([preface24, frame(type.settings, 0, 0), ack, bytes.subarray(24)]);
    for (const sizes of chunkings(3, 10)) {
      const { output, rewriter } = rewrite(withAck, sizes, { dropSettingsAck: true });
      // The connection's own ACK (after stream 1's DATA) is the second one: it stays.
      assert.deepEqual(output, Buffer.concat([preface24, frame(type.settings, 0, 0), bytes.subarray(24)]), `chunks ${sizes.join(',')}`);
      assert.equal(rewriter.state, 'passthrough');
    }
  });

  it('stays parsing after a valid first block until the ACK to drop has come', () => {
    const { bytes } = clientConnection('127.0.0.1:2379');
    const out: Buffer[] = [];
    const rewriter = new AuthorityRewriter((b) => out.push(Buffer.from(b)), { dropSettingsAck: true });
    const tail = 9 + 14 + 17; // The SETTINGS ACK, stream 3's HEADERS and the PING.
    rewriter.write(bytes.subarray(0, bytes.length - tail));
    assert.equal(rewriter.state, 'verbatim');
    rewriter.write(bytes.subarray(bytes.length - tail));
    assert.equal(rewriter.state, 'passthrough');
    const expected = Buffer.concat(parseFrames(bytes).filter((f) => !(f.type === type.settings && f.flags === 1)).map((f) => frame(f.type, f.flags, f.streamId, f.payload)));
    assert.deepEqual(Buffer.concat(out), Buffer.concat([preface, expected]));
  });

  it('drops the ACK in rewrite mode too, whenever it comes', () => {
    const { bytes } = clientConnection('http://127.0.0.1:2379');
    const plainOut = rewrite(bytes).output;
    const dropped = rewrite(bytes, [5], { dropSettingsAck: true });
    assert.equal(dropped.rewriter.state, 'rewrite');
    const withoutAck = parseFrames(plainOut).filter((f) => !(f.type === type.settings && f.flags === 1));
    assert.deepEqual(parseFrames(dropped.output), withoutAck);
  });

  it('notes frames the client may wait for the server to answer', () => {
    const quiet = rewrite(Buffer.concat([preface, frame(type.settings, 0, 0), frame(type.windowUpdate, 0, 0, Buffer.from([0, 0, 1, 0]))]));
    assert.equal(quiet.rewriter.needsServer, false);
    const ping = rewrite(Buffer.concat([preface, frame(type.settings, 0, 0), frame(type.ping, 0, 0, Buffer.alloc(8))]));
    assert.equal(ping.rewriter.needsServer, true);
  });

  const malformed: [string, () => Buffer[], RegExp][] = [
    ['a wrong preface', () => [Buffer.from('PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n')], /preface/],
    ['a CONTINUATION without HEADERS', () => [frame(type.continuation, flag.endHeaders, 1, Buffer.from([0x82]))], /without HEADERS/],
    ['a DATA frame inside a header block', () => [frame(type.headers, 0, 1, Buffer.from([0x82])), frame(type.data, 0, 1)], /inside a header block/],
    ['a CONTINUATION on another stream', () => [frame(type.headers, 0, 1, Buffer.from([0x82])), frame(type.continuation, flag.endHeaders, 3)], /another stream/],
    ['HEADERS on stream 0', () => [frame(type.headers, flag.endHeaders, 0, Buffer.from([0x82]))], /stream 0/],
    ['padding longer than the frame', () => [frame(type.headers, flag.endHeaders | flag.padded, 1, Buffer.from([9, 0x82]))], /padding/],
    ['a PUSH_PROMISE from the client', () => [frame(type.pushPromise, flag.endHeaders, 1, Buffer.alloc(4))], /PUSH_PROMISE/],
    ['an HPACK index past the tables', () => [frame(type.headers, flag.endHeaders, 1, Buffer.from([0xbe]))], /beyond the tables/],
  ];
  for (const [what, frames, message] of malformed) {
    it(`refuses ${what}`, () => {
      const input = Buffer.concat(what.includes('preface') ? frames() : [preface, ...frames()]);
      assert.throws(() => rewrite(input), (err: Error) => (err instanceof Http2FramingError || err instanceof HpackError) && message.test(err.message));
    });
  }

  it('meets random frames with a typed error or with output, never anything else', () => {
    const random = seeded(4);
    const byte = (): number => Math.floor(random() * 256);
    for (let round = 0; round < 2000; round++) {
      const frames: Buffer[] = [preface];
      // A first block with a bad authority half of the time, so rewrite mode meets the garbage too.
      if (round % 2 === 0) frames.push(frame(type.headers, flag.endHeaders, 1, Buffer.concat([Buffer.from([0x41]), encodeString('http://h:1')])));
      for (let i = 0; i < 4; i++) {
        const payload = Buffer.from(Array.from({ length: Math.floor(random() * 24) }, byte));
        const frameType = [type.headers, type.continuation, type.data, type.settings, type.ping][Math.floor(random() * 5)];
        frames.push(frame(frameType, byte() & 0x2d, 1 + Math.floor(random() * 3) * 2, payload));
      }
      const input = Buffer.concat(frames);
      for (const options of [{}, { dropSettingsAck: true }]) {
        try {
          rewrite(input, [1 + Math.floor(random() * 16)], options);
        } catch (err) {
          assert(err instanceof Http2FramingError || err instanceof HpackError, `round ${round}: ${String(err)}`);
        }
      }
    }
  });

  it('refuses a header block over the bound from its frame header alone, before buffering any payload', () => {
    const header = frame(type.headers, 0, 1).subarray(0, 9);
    header.writeUIntBE(headerBlockBytesMax + 1, 0, 3);
    assert.throws(() => rewrite(Buffer.concat([preface, header])), /header block larger than 1048576/);
    const first = frame(type.headers, 0, 1, Buffer.alloc(headerBlockBytesMax - 10, 0x82));
    const second = frame(type.continuation, flag.endHeaders, 1).subarray(0, 9);
    second.writeUIntBE(11, 0, 3);
    assert.throws(() => rewrite(Buffer.concat([preface, first, second])), /header block larger/);
  });
});

/** A header block cut into a HEADERS frame and CONTINUATIONs of at most 16384 octets. */
function splitBlock(block: Buffer, streamId: number, headersFlags: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let pos = 0; pos < block.length; pos += 16384) {
    const last = pos + 16384 >= block.length;
    const flags = (pos === 0 ? headersFlags : 0) | (last ? flag.endHeaders : 0);
    frames.push(frame(pos === 0 ? type.headers : type.continuation, flags, streamId, block.subarray(pos, pos + 16384)));
  }
  return frames;
}

type FrontEnd = 'fixAuthority' | 'acceptHttp2';

/** A Node HTTP/2 server behind a TCP listener that puts the chosen front end before it. */
async function echoServer(frontEnd: FrontEnd): Promise<{ port: number; injected: Duplex[]; close(): void }> {
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      const echoed = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-') || k === 'authorization'));
      stream.end(JSON.stringify({ authority: headers[':authority'], path: headers[':path'], echoed, body: Buffer.concat(chunks).toString() }));
    });
  });
  const injected: Duplex[] = [];
  const inject = (connection: Duplex): void => {
    injected.push(connection);
    h2.emit('connection', connection);
  };
  const listener = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    if (frontEnd === 'fixAuthority') inject(fixAuthority(socket));
    else acceptHttp2(socket, inject);
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as { port: number }).port;
  return { port, injected, close: () => (listener.close(), h2.close()) };
}

const modeOf = (connection: Duplex | undefined): string =>
  connection instanceof AuthorityFixStream ? connection.rewriter.state : connection !== undefined ? 'native socket' : 'none';

for (const frontEnd of ['fixAuthority', 'acceptHttp2'] as const) {
  describe(`h2 authority fix: ${frontEnd} between a Node HTTP/2 client and server`, function () {
    this.timeout(30000);
    let server: Awaited<ReturnType<typeof echoServer>>;
    before(async () => {
      server = await echoServer(frontEnd);
    });
    after(() => server.close());
    beforeEach(() => {
      server.injected.length = 0;
    });

    it('serves 50 varied requests on one connection whose authority has a scheme, rewritten to host:port', async () => {
      await fiftyRequests(server.port, `http://127.0.0.1:${server.port}`);
      assert.deepEqual(server.injected.map(modeOf), ['rewrite']);
    });

    it('serves 50 requests on a connection with a valid authority without rewriting', async () => {
      await fiftyRequests(server.port, `127.0.0.1:${server.port}`);
      assert.deepEqual(server.injected.map(modeOf), [frontEnd === 'fixAuthority' ? 'passthrough' : 'native socket']);
    });

    it('closes a connection that sends malformed frames, and keeps serving others', async () => {
      const socket = connect(server.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.on('error', () => {});
      socket.write(Buffer.concat([preface, frame(type.settings, 0, 0), frame(type.continuation, flag.endHeaders, 1, Buffer.from([0x82]))]));
      socket.resume();
      await once(socket, 'close');
      await fiftyRequests(server.port, `http://127.0.0.1:${server.port}`, 5);
    });
  });
}

describe('h2 authority fix: acceptHttp2 holding a connection', function () {
  this.timeout(30000);
  let server: Awaited<ReturnType<typeof echoServer>>;
  before(async () => {
    server = await echoServer('acceptHttp2');
  });
  after(() => server.close());

  it('answers a client that waits for the server SETTINGS before its first request, as gRPC-Go does', async () => {
    server.injected.length = 0;
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    const received = readFrames(socket);
    socket.write(Buffer.concat([preface, frame(type.settings, 0, 0)]));
    const first = await received.next(() => true);
    assert.deepEqual([first.type, first.flags, first.payload.length], [type.settings, 0, 0], 'the hold speaks first');
    assert.deepEqual(server.injected, [], 'the server has not seen the connection yet');
    // ACK it, then request: the ACK must not reach nghttp2, which never sent that SETTINGS.
    const block = encodeHeaderBlock(fields([[':method', 'GET'], [':scheme', 'http'], [':path', '/x'], [':authority', `127.0.0.1:${server.port}`]]));
    socket.write(Buffer.concat([frame(type.settings, 1, 0), frame(type.headers, flag.endHeaders | flag.endStream, 1, block)]));
    const realSettings = await received.next((f) => f.type === type.settings && f.flags === 0);
    socket.write(frame(type.settings, 1, 0));
    const response = await received.next((f) => f.type === type.data && f.streamId === 1);
    assert.equal(JSON.parse(response.payload.toString()).authority, `127.0.0.1:${server.port}`);
    assert(realSettings !== undefined);
    assert.deepEqual(server.injected.map(modeOf), ['native socket']);
    // A PING answered after all that shows the connection alive, and no GOAWAY came before it.
    socket.write(frame(type.ping, 0, 0, Buffer.alloc(8, 5)));
    await received.next((f) => f.type === type.ping && f.flags === 1);
    assert.equal(received.any((f) => f.type === type.goaway), false, 'the server saw no protocol error');
    socket.destroy();
  });

  it('hands over the wrapped stream when a PING comes before any request', async () => {
    server.injected.length = 0;
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    const received = readFrames(socket);
    socket.write(Buffer.concat([preface, frame(type.settings, 0, 0), frame(type.ping, 0, 0, Buffer.alloc(8, 9))]));
    const pong = await received.next((f) => f.type === type.ping);
    assert.equal(pong.flags, 1);
    assert.deepEqual(server.injected.map(modeOf), ['sniff']);
    // The ACK of the hold's SETTINGS comes late, after the server's own: the stream still drops the right one.
    const block = encodeHeaderBlock(fields([[':method', 'GET'], [':scheme', 'http'], [':path', '/y'], [':authority', 'http://h:1/']]));
    socket.write(Buffer.concat([frame(type.settings, 1, 0), frame(type.settings, 1, 0), frame(type.headers, flag.endHeaders | flag.endStream, 1, block)]));
    const response = await received.next((f) => f.type === type.data && f.streamId === 1);
    assert.equal(JSON.parse(response.payload.toString()).authority, 'h:1');
    assert.deepEqual(server.injected.map(modeOf), ['rewrite']);
    socket.destroy();
  });
});

/** Reads the frames the server sends; next(match) resolves with the first matching frame not yet taken. */
function readFrames(socket: Socket): { next(match: (f: Frame) => boolean): Promise<Frame>; any(match: (f: Frame) => boolean): boolean } {
  let buffer = Buffer.alloc(0);
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 9 && buffer.length >= 9 + buffer.readUIntBE(0, 3)) {
      const length = buffer.readUIntBE(0, 3);
      frames.push({ type: buffer[3], flags: buffer[4], streamId: buffer.readUInt32BE(5), payload: buffer.subarray(9, 9 + length) });
      buffer = buffer.subarray(9 + length);
    }
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    any: (match) => frames.some(match),
    async next(match) {
      for (;;) {
        const i = frames.findIndex(match);
        if (i >= 0) return frames.splice(i, 1)[0];
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

async function fiftyRequests(port: number, authority: string, count = 50): Promise<void> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  try {
    for (let batch = 0; batch < count; batch += 10) {
      const results = Array.from({ length: Math.min(10, count - batch) }, (_, j) => oneRequest(client, authority, batch + j));
      await Promise.all(results);
    }
  } finally {
    client.close();
  }
}

async function oneRequest(client: http2.ClientHttp2Session, authority: string, i: number): Promise<void> {
  // Repeated, alternating and growing values exercise insertions, references and evictions in the client's table.
  const headers: http2.OutgoingHttpHeaders = {
    ':method': i % 2 === 0 ? 'POST' : 'GET',
    ':path': `/etcdserverpb.Maintenance/${i % 3 === 0 ? 'HashKV' : 'Status'}`,
    ':authority': authority,
    'x-seq': String(i),
    'x-same': 'constant',
    'x-group': `g${i % 5}`,
    'x-grow': 'g'.repeat(i * 37),
  };
  if (i % 7 === 0) {
    headers.authorization = `token-${i}`;
    (headers as Record<symbol, unknown>)[http2.sensitiveHeaders] = ['authorization'];
  }
  if (i === 13) headers['x-huge'] = 'h'.repeat(20000);
  const stream = client.request(headers, { endStream: i % 2 !== 0 });
  if (i % 2 === 0) stream.end(`body ${i}`);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const [response] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
  await once(stream, 'end');
  assert.equal(response[':status'], 200, `request ${i}`);
  const seen = JSON.parse(Buffer.concat(chunks).toString());
  const expected: Record<string, string> = { 'x-seq': String(i), 'x-same': 'constant', 'x-group': `g${i % 5}`, 'x-grow': 'g'.repeat(i * 37) };
  if (i % 7 === 0) expected.authorization = `token-${i}`;
  if (i === 13) expected['x-huge'] = 'h'.repeat(20000);
  assert.deepEqual(seen, {
    authority: `127.0.0.1:${(client.socket as Socket).remotePort}`,
    path: headers[':path'],
    echoed: expected,
    body: i % 2 === 0 ? `body ${i}` : '',
  }, `request ${i}`);
}

describe('h2 authority fix: backpressure', () => {
  it('pauses the socket while the reader is full, and loses nothing', async () => {
    const listener = createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const accepted = once(listener, 'connection');
    const client = connect((listener.address() as { port: number }).port, '127.0.0.1');
    const [socket] = (await accepted) as [Socket];
    const shim = fixAuthority(socket);
    // 8 MiB of DATA frames after a first HEADERS with a valid authority.
    const block = encodeHeaderBlock(fields([[':method', 'POST'], [':authority', 'h:1']]));
    const frames = [preface, frame(type.headers, flag.endHeaders, 1, block)];
    for (let i = 0; i < 512; i++) frames.push(frame(type.data, 0, 1, Buffer.alloc(16384, i)));
    const input = Buffer.concat(frames);
    client.write(input);
    // Nobody reads the shim yet: it must have stopped the socket well before taking in 8 MiB.
    shim.read(0);
    await waitUntil(() => socket.isPaused() && shim.readableLength > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert(shim.readableLength < 1024 * 1024, `buffered ${shim.readableLength} octets`);
    const received: Buffer[] = [];
    let receivedBytes = 0;
    shim.on('data', (c: Buffer) => {
      received.push(c);
      receivedBytes += c.length;
      if (receivedBytes === input.length) client.end();
    });
    await once(shim, 'end');
    assert.deepEqual(Buffer.concat(received), input);
    shim.destroy();
    listener.close();
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert(condition(), 'condition never held');
}
