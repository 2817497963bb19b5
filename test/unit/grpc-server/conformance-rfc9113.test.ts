import assert from 'node:assert/strict';
import { once } from 'node:events';
import { encodeHeaderBlock, type HeaderField } from '../../../src/server/api/hpack.js';
import {
  E, F, RawClients, S, T, describeSections, frame, grpcMessage, requestBlock, requestFields, settingsPayload, startServer, uint32,
  type RawClient, type Section, type TestServer,
} from './raw-h2.js';
import { testImplementation, testService, type TestServiceState } from './test-service.js';

/**
 * RFC 9113 (HTTP/2), section by section: every requirement a server
 * enforces on what a client sends, each violation sent with the raw client
 * and the exact answer checked. A connection error is GOAWAY with its code
 * and then the end of the connection (§5.4.1); a stream error is
 * RST_STREAM with its code on that stream, after which the connection
 * serves the next call (§5.4.2). Positive cases check what must be
 * accepted or ignored. h2spec's list was the checklist; the tests are ours.
 */

/** What the server must answer. */
type Expect =
  | { connectionError: number }
  | { streamError: number; streamId?: number }
  | { check: (client: RawClient, state: TestServiceState) => Promise<void> };


const field = (name: string, value: string): HeaderField => ({ name, value, sensitive: false });
/** HEADERS (END_HEADERS) of a call that waits for its request: the stream stays open. */
const open = (id: number, path = '/t.Test/Hang') => frame(T.headers, F.endHeaders, id, requestBlock(path));
/** A Hang call whose request is complete: half-closed (remote) until the test answers it. */
const halfClosed = (id: number) => [open(id), frame(T.data, F.endStream, id, grpcMessage(Buffer.from(`call ${id}`)))];
/** A finished Echo call: closed once the server answered. */
const echo = (id: number, fields = requestFields('/t.Test/Echo')) => [
  frame(T.headers, F.endHeaders, id, encodeHeaderBlock(fields)), frame(T.data, F.endStream, id, grpcMessage(Buffer.from('ping'))),
];
/** An Echo request whose header list is `fields`, for the HTTP semantics of §8. */
const request = (fields: HeaderField[]) => echo(1, fields);
const withField = (name: string, value: string) => request([...requestFields('/t.Test/Echo'), field(name, value)]);
const without = (name: string) => request(requestFields('/t.Test/Echo').filter((f) => f.name !== name));
const replaced = (name: string, value: string) => request(requestFields('/t.Test/Echo').map((f) => (f.name === name ? field(name, value) : f)));

/** The stream id the follow-up call uses: above every id a case sends. */
const nextId = 101;

async function expectAnswer(client: RawClient, expect: Expect, state: TestServiceState): Promise<void> {
  if ('connectionError' in expect) {
    assert.equal(await client.goAwayCode(), expect.connectionError, 'GOAWAY error code');
    return;
  }
  if ('streamError' in expect) {
    const streamId = expect.streamId ?? 1;
    const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === streamId);
    assert.equal(rst.payload.readUInt32BE(0), expect.streamError, 'RST_STREAM error code');
    assert(!client.frames.some((f) => f.type === T.goAway), 'a stream error must not end the connection');
    client.unary(nextId, '/t.Test/Echo', Buffer.from('after'));
    assert.deepEqual((await client.status(nextId)).messages.map(String), ['after']);
    return;
  }
  await expect.check(client, state);
}

/** The connection is still serving: a call on a fresh stream succeeds. */
async function stillServing(client: RawClient, id = nextId): Promise<void> {
  client.unary(id, '/t.Test/Echo', Buffer.from('still here'));
  assert.deepEqual((await client.status(id)).messages.map(String), ['still here']);
  assert(!client.frames.some((f) => f.type === T.goAway));
}

const sections: Section<Expect>[] = [
  ['RFC 9113 §3.4 HTTP/2 Connection Preface', [
    ['SETTINGS is the first frame the server sends', () => [], {
      check: async (client) => assert.equal(client.frames[0].type, T.settings),
    }],
    ['the client SETTINGS is acknowledged', () => [], {
      check: async (client) => void await client.waitFor((f) => f.type === T.settings && f.flags === F.ack),
    }],
  ]],
  ['RFC 9113 §4.1 Frame Format', [
    ['a frame of an unknown type is ignored', () => [frame(0x20, 0, 0, Buffer.alloc(10)), frame(0xff, 0xff, 3, Buffer.alloc(2))], {
      check: (client) => stillServing(client),
    }],
    ['flags a frame type does not define are ignored', () => [frame(T.ping, 0xfe, 0, Buffer.alloc(8))], {
      check: async (client) => assert.equal((await client.waitFor((f) => f.type === T.ping)).flags, F.ack),
    }],
    ['the reserved bit of the stream identifier is ignored', () => echo(1).map((f) => {
      f[5] |= 0x80;
      return f;
    }), { check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['ping']) }],
  ]],
  ['RFC 9113 §4.2 Frame Size', [
    ['DATA of exactly 16384 octets is accepted', () => [
      frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Sum')), frame(T.data, 0, 1, grpcMessage(Buffer.alloc(16_379))), frame(T.data, F.endStream, 1),
    ], { check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['16379']) }],
    ['DATA larger than SETTINGS_MAX_FRAME_SIZE', () => [open(1), frame(T.data, 0, 1, Buffer.alloc(16_385))], { connectionError: E.frameSize }],
    ['HEADERS larger than SETTINGS_MAX_FRAME_SIZE', () => [frame(T.headers, F.endHeaders, 1, Buffer.alloc(16_385, 0x80))], { connectionError: E.frameSize }],
    ['a SETTINGS frame larger than SETTINGS_MAX_FRAME_SIZE', () => [frame(T.settings, 0, 0, Buffer.alloc(16_386))], { connectionError: E.frameSize }],
  ]],
  ['RFC 9113 §4.3 Field Section Compression and Decompression', [
    ['a header block that does not decode', () => [frame(T.headers, F.endHeaders, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]))], { connectionError: E.compression }],
    ['a header block interrupted by PRIORITY', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.priority, 0, 1, Buffer.from([0, 0, 0, 0, 16]))], { connectionError: E.protocol }],
    ['a header block interrupted by HEADERS of another stream', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), open(3)], { connectionError: E.protocol }],
    ['a header block interrupted by DATA', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.data, 0, 1, Buffer.alloc(1))], { connectionError: E.protocol }],
    ['a header block interrupted by PING', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.ping, 0, 0, Buffer.alloc(8))], { connectionError: E.protocol }],
  ]],
  ['RFC 9113 §5.1 Stream States', [
    ['idle: DATA', () => [frame(T.data, 0, 5, Buffer.alloc(1))], { connectionError: E.protocol }],
    ['idle: RST_STREAM', () => [frame(T.rstStream, 0, 9, uint32(E.cancel))], { connectionError: E.protocol }],
    ['idle: WINDOW_UPDATE', () => [frame(T.windowUpdate, 0, 9, uint32(1))], { connectionError: E.protocol }],
    ['idle: CONTINUATION', () => [frame(T.continuation, F.endHeaders, 1, Buffer.from([0x83]))], { connectionError: E.protocol }],
    ['half-closed (remote): DATA', () => [...halfClosed(1), frame(T.data, 0, 1, Buffer.alloc(1))], { streamError: E.streamClosed }],
    ['half-closed (remote): HEADERS', () => [...halfClosed(1), frame(T.headers, F.endHeaders | F.endStream, 1, encodeHeaderBlock([field('x', 'y')]))], { streamError: E.streamClosed }],
    ['half-closed (remote): WINDOW_UPDATE, PRIORITY are accepted', () => [
      ...halfClosed(1), frame(T.windowUpdate, 0, 1, uint32(1000)), frame(T.priority, 0, 1, Buffer.from([0, 0, 0, 0, 16])),
    ], {
      check: async (client, state) => {
        await stillServing(client);
        state.answer.get('call 1')!(null, Buffer.from('answered'));
        assert.deepEqual((await client.status(1)).messages.map(String), ['answered']);
      },
    }],
    ['half-closed (remote): RST_STREAM cancels the call', () => halfClosed(1), {
      check: async (client, state) => {
        await stillServing(client, 3);
        const cancelled = once(state.events, 'cancelled');
        client.send(frame(T.rstStream, 0, 1, uint32(E.cancel)));
        assert.deepEqual(await cancelled, ['call 1']);
      },
    }],
    ['closed: frames that crossed our RST_STREAM are ignored', () => [
      ...withField('Bad', 'x'), frame(T.data, 0, 1, Buffer.alloc(10)), frame(T.windowUpdate, 0, 1, uint32(10)), frame(T.rstStream, 0, 1, uint32(E.cancel)),
    ], {
      check: async (client) => {
        assert.equal((await client.waitFor((f) => f.type === T.rstStream && f.streamId === 1)).payload.readUInt32BE(0), E.protocol);
        await stillServing(client);
      },
    }],
    ['closed: WINDOW_UPDATE and RST_STREAM after the call ended are ignored', () => [
      ...echo(1), frame(T.windowUpdate, 0, 1, uint32(10)), frame(T.rstStream, 0, 1, uint32(E.cancel)),
    ], { check: (client) => stillServing(client) }],
    ['closed: HEADERS', () => [...echo(1), ...echo(1)], { connectionError: E.protocol }],
  ]],
  ['RFC 9113 §5.1.1 Stream Identifiers', [
    ['an even stream identifier', () => [open(2)], { connectionError: E.protocol }],
    ['a stream identifier lower than one already used', () => [open(5), open(3)], { connectionError: E.protocol }],
    ['a stream identifier reused after its stream was reset', () => [open(1), frame(T.rstStream, 0, 1, uint32(E.cancel)), open(1)], { connectionError: E.protocol }],
    ['a stream identifier reused after its request was malformed', () => [...withField('Bad', 'x'), ...echo(1)], { connectionError: E.protocol }],
    ['a stream identifier reused after a HEADERS depending on itself', () => [
      frame(T.headers, F.endHeaders | F.priority, 1, Buffer.concat([uint32(1), Buffer.from([16]), requestBlock('/t.Test/Hang')])), ...echo(1),
    ], { connectionError: E.protocol }],
    ['identifiers may skip: a higher one implicitly closes the ones between', () => [...echo(1), ...echo(51)], {
      check: async (client) => assert.equal((await client.status(51)).code, 0),
    }],
  ]],
  ['RFC 9113 §5.3.1 Stream Dependencies', [
    ['HEADERS depending on its own stream', () => [
      frame(T.headers, F.endHeaders | F.priority, 1, Buffer.concat([uint32(1), Buffer.from([16]), requestBlock('/t.Test/Hang')])),
    ], { streamError: E.protocol }],
    ['PRIORITY depending on its own stream', () => [open(1), frame(T.priority, 0, 1, Buffer.concat([uint32(1), Buffer.from([16])]))], { streamError: E.protocol }],
  ]],
  ['RFC 9113 §5.4.1 Connection Error Handling', [
    ['GOAWAY names the last stream the server processed, then the connection ends', () => [open(1), open(3), frame(T.ping, 0, 5, Buffer.alloc(8))], {
      check: async (client) => {
        const goAway = await client.waitFor((f) => f.type === T.goAway);
        assert.equal(goAway.payload.readUInt32BE(0) & 0x7fffffff, 3);
        assert.equal(goAway.payload.readUInt32BE(4), E.protocol);
        await client.waitClosed();
      },
    }],
  ]],
  ['RFC 9113 §5.5 Extending HTTP/2', [
    ['an unknown frame inside a header block', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(0x20, 0, 1, Buffer.alloc(4))], { connectionError: E.protocol }],
    ['an unknown SETTINGS identifier is ignored', () => [frame(T.settings, 0, 0, settingsPayload([[0x99, 7]]))], {
      check: (client) => stillServing(client),
    }],
  ]],
  ['RFC 9113 §6.1 DATA', [
    ['DATA on stream 0', () => [frame(T.data, 0, 0, Buffer.alloc(1))], { connectionError: E.protocol }],
    ['a pad length as long as the frame', () => [open(1), frame(T.data, F.padded, 1, Buffer.from([3, 1, 2]))], { connectionError: E.protocol }],
    ['PADDED without a pad length octet', () => [open(1), frame(T.data, F.padded, 1)], { connectionError: E.frameSize }],
    ['padding is taken off the message', () => [
      open(1, '/t.Test/Echo'), frame(T.data, F.padded | F.endStream, 1, Buffer.concat([Buffer.from([4]), grpcMessage(Buffer.from('pad')), Buffer.alloc(4)])),
    ], { check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['pad']) }],
  ]],
  ['RFC 9113 §6.2 HEADERS', [
    ['HEADERS on stream 0', () => [frame(T.headers, F.endHeaders, 0, requestBlock('/t.Test/Echo'))], { connectionError: E.protocol }],
    ['a pad length longer than the frame', () => [frame(T.headers, F.endHeaders | F.padded, 1, Buffer.from([9, 0x83]))], { connectionError: E.protocol }],
    ['PRIORITY flag without room for the priority fields', () => [frame(T.headers, F.endHeaders | F.priority, 1, Buffer.from([0, 0, 0]))], { connectionError: E.frameSize }],
    ['a header block continued on another stream', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.continuation, F.endHeaders, 3, Buffer.from([0x86]))], { connectionError: E.protocol }],
  ]],
  ['RFC 9113 §6.3 PRIORITY', [
    ['PRIORITY on stream 0', () => [frame(T.priority, 0, 0, Buffer.alloc(5))], { connectionError: E.protocol }],
    ['PRIORITY of 4 octets', () => [open(1), frame(T.priority, 0, 1, Buffer.alloc(4))], { streamError: E.frameSize }],
    ['PRIORITY on an idle stream opens nothing', () => [frame(T.priority, 0, 9, Buffer.from([0, 0, 0, 0, 16])), ...echo(3)], {
      check: async (client) => assert.equal((await client.status(3)).code, 0),
    }],
  ]],
  ['RFC 9113 §6.4 RST_STREAM', [
    ['RST_STREAM on stream 0', () => [frame(T.rstStream, 0, 0, uint32(E.cancel))], { connectionError: E.protocol }],
    ['RST_STREAM of 5 octets', () => [open(1), frame(T.rstStream, 0, 1, Buffer.alloc(5))], { connectionError: E.frameSize }],
    ['RST_STREAM of 3 octets', () => [open(1), frame(T.rstStream, 0, 1, Buffer.alloc(3))], { connectionError: E.frameSize }],
  ]],
  ['RFC 9113 §6.5 SETTINGS', [
    ['SETTINGS ACK with a payload', () => [frame(T.settings, F.ack, 0, Buffer.alloc(6))], { connectionError: E.frameSize }],
    ['SETTINGS on a stream', () => [frame(T.settings, 0, 1)], { connectionError: E.protocol }],
    ['SETTINGS of a length not a multiple of 6', () => [frame(T.settings, 0, 0, Buffer.alloc(5))], { connectionError: E.frameSize }],
    ['SETTINGS of more than 32 entries (CVE-2020-11080, nghttp2 and Node cap them)', () => [
      frame(T.settings, 0, 0, settingsPayload(Array.from({ length: 33 }, () => [S.enablePush, 0] as [number, number]))),
    ], { connectionError: E.enhanceYourCalm }],
    ['SETTINGS of 32 entries is acknowledged', () => [frame(T.settings, 0, 0, settingsPayload(Array.from({ length: 32 }, () => [S.enablePush, 0] as [number, number])))], {
      check: async (client) => {
        await client.waitFor((f) => f.type === T.settings && f.flags === F.ack && client.frames.filter((g) => g.type === T.settings && g.flags === F.ack).length === 2);
        await stillServing(client);
      },
    }],
  ]],
  ['RFC 9113 §6.5.2 Defined Settings', [
    ['SETTINGS_ENABLE_PUSH of 2', () => [frame(T.settings, 0, 0, settingsPayload([[S.enablePush, 2]]))], { connectionError: E.protocol }],
    ['SETTINGS_INITIAL_WINDOW_SIZE of 2^31', () => [frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, 2 ** 31]]))], { connectionError: E.flowControl }],
    ['SETTINGS_MAX_FRAME_SIZE of 16383', () => [frame(T.settings, 0, 0, settingsPayload([[S.maxFrameSize, 16_383]]))], { connectionError: E.protocol }],
    ['SETTINGS_MAX_FRAME_SIZE of 2^24', () => [frame(T.settings, 0, 0, settingsPayload([[S.maxFrameSize, 2 ** 24]]))], { connectionError: E.protocol }],
    ['SETTINGS_MAX_FRAME_SIZE of 2^24-1 is accepted', () => [frame(T.settings, 0, 0, settingsPayload([[S.maxFrameSize, 2 ** 24 - 1]]))], {
      check: (client) => stillServing(client),
    }],
  ]],
  ['RFC 9113 §6.7 PING', [
    ['PING is answered with an ACK of the same payload', () => [frame(T.ping, 0, 0, Buffer.from('abcdefgh'))], {
      check: async (client) => assert.equal((await client.waitFor((f) => f.type === T.ping && f.flags === F.ack)).payload.toString(), 'abcdefgh'),
    }],
    ['a PING ACK is not answered', () => [frame(T.ping, F.ack, 0, Buffer.from('unasked!'))], {
      check: async (client) => {
        await stillServing(client);
        assert(!client.frames.some((f) => f.type === T.ping));
      },
    }],
    ['PING on a stream', () => [frame(T.ping, 0, 1, Buffer.alloc(8))], { connectionError: E.protocol }],
    ['PING of 7 octets', () => [frame(T.ping, 0, 0, Buffer.alloc(7))], { connectionError: E.frameSize }],
  ]],
  ['RFC 9113 §6.8 GOAWAY', [
    ['GOAWAY on a stream', () => [frame(T.goAway, 0, 1, Buffer.alloc(8))], { connectionError: E.protocol }],
    ['GOAWAY of 7 octets', () => [frame(T.goAway, 0, 0, Buffer.alloc(7))], { connectionError: E.frameSize }],
    ['after the client GOAWAY, calls in flight finish and the connection closes', () => [...halfClosed(1), frame(T.goAway, 0, 0, Buffer.alloc(8))], {
      check: async (client, state) => {
        await client.waitFor((f) => f.type === T.goAway);
        state.answer.get('call 1')!(null, Buffer.from('finished'));
        assert.deepEqual((await client.status(1)).messages.map(String), ['finished']);
        await client.waitClosed();
      },
    }],
  ]],
  ['RFC 9113 §6.9 WINDOW_UPDATE', [
    ['an increment of 0 on the connection', () => [frame(T.windowUpdate, 0, 0, uint32(0))], { connectionError: E.protocol }],
    ['an increment of 0 on a stream', () => [open(1), frame(T.windowUpdate, 0, 1, uint32(0))], { streamError: E.protocol }],
    ['WINDOW_UPDATE of 3 octets', () => [frame(T.windowUpdate, 0, 0, Buffer.alloc(3))], { connectionError: E.frameSize }],
    ['WINDOW_UPDATE of 5 octets on a stream', () => [open(1), frame(T.windowUpdate, 0, 1, Buffer.alloc(5))], { connectionError: E.frameSize }],
  ]],
  ['RFC 9113 §6.9.1 The Flow-Control Window', [
    ['a connection window past 2^31-1', () => [frame(T.windowUpdate, 0, 0, uint32(2 ** 31 - 1))], { connectionError: E.flowControl }],
    ['a stream window past 2^31-1', () => [open(1), frame(T.windowUpdate, 0, 1, uint32(2 ** 31 - 1))], { streamError: E.flowControl }],
    ['DATA beyond the stream window we announced', () => {
      const frames = [frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/SlowChat'))];
      const window = 4 * 1024 * 1024 + 5;
      for (let sent = 0; sent <= window; sent += 16_384) frames.push(frame(T.data, 0, 1, grpcMessage(Buffer.alloc(16_379))));
      return frames;
    }, { streamError: E.flowControl }],
  ]],
  ['RFC 9113 §6.9.2 Initial Flow-Control Window Size', [
    ['SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream past 2^31-1', () => [
      open(1), frame(T.windowUpdate, 0, 1, uint32(2 ** 31 - 1 - 65_535)), frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, 65_536]])),
    ], { connectionError: E.flowControl }],
  ]],
  ['RFC 9113 §6.10 CONTINUATION', [
    ['CONTINUATION after END_HEADERS', () => [open(1), frame(T.continuation, F.endHeaders, 1, Buffer.from([0x83]))], { connectionError: E.protocol }],
    ['CONTINUATION on stream 0', () => [frame(T.headers, 0, 1, Buffer.from([0x83])), frame(T.continuation, F.endHeaders, 0, Buffer.from([0x86]))], { connectionError: E.protocol }],
    ['a block over 8 CONTINUATION frames is accepted', () => {
      const block = encodeHeaderBlock(requestFields('/t.Test/Echo', [['x-filler', 'f'.repeat(100)]]));
      const cut = [0, 5, 10, 15, 20, 25, 30, 35, 40, block.length];
      const frames = [frame(T.headers, 0, 1, block.subarray(0, 5))];
      for (let i = 1; i < cut.length - 1; i++) frames.push(frame(T.continuation, i === cut.length - 2 ? F.endHeaders : 0, 1, block.subarray(cut[i], cut[i + 1])));
      return [...frames, frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('nine')))];
    }, { check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['nine']) }],
    ['a ninth CONTINUATION (CVE-2024-28182, nghttp2 allows 8)', () => [
      frame(T.headers, 0, 1, Buffer.from([0x83])), ...Array.from({ length: 9 }, () => frame(T.continuation, 0, 1, Buffer.from([0x86]))),
    ], { connectionError: E.enhanceYourCalm }],
  ]],
  ['RFC 9113 §8.1 HTTP Message Framing', [
    ['trailers without END_STREAM', () => [open(1), frame(T.headers, F.endHeaders, 1, encodeHeaderBlock([field('x', 'y')]))], { streamError: E.protocol }],
    ['trailers with a pseudo-header field', () => [open(1), frame(T.headers, F.endHeaders | F.endStream, 1, encodeHeaderBlock([field(':path', '/x')]))], { streamError: E.protocol }],
    ['trailers with an invalid field', () => [open(1), frame(T.headers, F.endHeaders | F.endStream, 1, encodeHeaderBlock([field('x', 'a\nb')]))], { streamError: E.protocol }],
    ['valid trailers end the request', () => [
      open(1, '/t.Test/Echo'), frame(T.data, 0, 1, grpcMessage(Buffer.from('t'))), frame(T.headers, F.endHeaders | F.endStream, 1, encodeHeaderBlock([field('x-trailer', 'ok')])),
    ], { check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['t']) }],
  ]],
  ['RFC 9113 §8.1.1 Malformed Messages', [
    ['content-length above the DATA sent', () => withField('content-length', '100'), { streamError: E.protocol }],
    ['content-length below the DATA sent', () => withField('content-length', '2'), { streamError: E.protocol }],
    ['content-length that is not a number', () => withField('content-length', '6a'), { streamError: E.protocol }],
    ['content-length with END_STREAM on the HEADERS', () => [frame(T.headers, F.endHeaders | F.endStream, 1, encodeHeaderBlock([...requestFields('/t.Test/Echo'), field('content-length', '5')]))], { streamError: E.protocol }],
    ['content-length that matches the DATA is accepted', () => withField('content-length', '9'), {
      check: async (client) => assert.deepEqual((await client.status(1)).messages.map(String), ['ping']),
    }],
  ]],
  ['RFC 9113 §8.2 HTTP Fields', [
    ['an upper-case field name', () => withField('X-Upper', '1'), { streamError: E.protocol }],
  ]],
  ['RFC 9113 §8.2.1 Field Validity', [
    ['a field name with a space', () => withField('x y', '1'), { streamError: E.protocol }],
    ['a field name with a colon inside', () => withField('x:y', '1'), { streamError: E.protocol }],
    ['a field name with a control octet', () => withField('x\ty', '1'), { streamError: E.protocol }],
    ['a field name with DEL', () => withField('x\x7f', '1'), { streamError: E.protocol }],
    ['a field name with a non-ASCII octet', () => withField('x\xe9', '1'), { streamError: E.protocol }],
    ['an empty field name', () => withField('', '1'), { streamError: E.protocol }],
    ['a field value with NUL', () => withField('x-v', 'a\0b'), { streamError: E.protocol }],
    ['a field value with LF', () => withField('x-v', 'a\nb'), { streamError: E.protocol }],
    ['a field value with CR', () => withField('x-v', 'a\rb'), { streamError: E.protocol }],
    ['a field value starting with a space', () => withField('x-v', ' a'), { streamError: E.protocol }],
    ['a field value ending with a tab', () => withField('x-v', 'a\t'), { streamError: E.protocol }],
    ['a pseudo-header value with LF', () => replaced(':authority', 'host\nx'), { streamError: E.protocol }],
    ['inner spaces, tabs and octets above 0x7f in a value are accepted', () => withField('x-v', 'a b\tc\xe9'), {
      check: async (client) => assert.equal((await client.status(1)).code, 0),
    }],
  ]],
  ['RFC 9113 §8.2.2 Connection-Specific Header Fields', [
    ['connection', () => withField('connection', 'keep-alive'), { streamError: E.protocol }],
    ['keep-alive', () => withField('keep-alive', '5'), { streamError: E.protocol }],
    ['proxy-connection', () => withField('proxy-connection', 'close'), { streamError: E.protocol }],
    ['transfer-encoding', () => withField('transfer-encoding', 'chunked'), { streamError: E.protocol }],
    ['upgrade', () => withField('upgrade', 'h2c'), { streamError: E.protocol }],
    ['te other than trailers', () => replaced('te', 'gzip'), { streamError: E.protocol }],
    ['te: trailers is accepted', () => request(requestFields('/t.Test/Echo')), {
      check: async (client) => assert.equal((await client.status(1)).code, 0),
    }],
  ]],
  ['RFC 9113 §8.3.1 Request Pseudo-Header Fields', [
    ['an unknown pseudo-header', () => request([field(':protocol', 'x'), ...requestFields('/t.Test/Echo')]), { streamError: E.protocol }],
    ['a response pseudo-header', () => request([field(':status', '200'), ...requestFields('/t.Test/Echo')]), { streamError: E.protocol }],
    ['a pseudo-header after a regular field', () => withField(':scheme', 'http'), { streamError: E.protocol }],
    ['a pseudo-header twice', () => request([field(':path', '/t.Test/Echo'), ...requestFields('/t.Test/Echo')]), { streamError: E.protocol }],
    ['no :method', () => without(':method'), { streamError: E.protocol }],
    ['no :scheme', () => without(':scheme'), { streamError: E.protocol }],
    ['no :path', () => without(':path'), { streamError: E.protocol }],
    ['an empty :path', () => replaced(':path', ''), { streamError: E.protocol }],
  ]],
  ['RFC 9113 §8.4 Server Push', [
    ['PUSH_PROMISE from a client', () => [frame(T.pushPromise, F.endHeaders, 1, Buffer.alloc(4))], { connectionError: E.protocol }],
  ]],
];

describe('grpc-server conformance: RFC 9113', function () {
  this.timeout(20000);
  let server: TestServer;
  let state: TestServiceState;
  const clients = new RawClients();

  before(async () => {
    const test = testImplementation();
    state = test.state;
    server = await startServer([[testService, test.implementation]]);
  });
  afterEach(() => {
    clients.closeAll();
    for (const call of state.held.splice(0)) call.destroy();
    state.answer.clear();
  });
  after(() => server.close());

  describeSections(sections, () => server.port, clients, (client, expect) => expectAnswer(client, expect, state));

  describe('RFC 9113 §3.4 HTTP/2 Connection Preface: violations', () => {
    const cases: [string, Buffer[]][] = [
      ['a preface that is not HTTP/2\'s', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
      ['a preface not followed by SETTINGS', [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.ping, 0, 0, Buffer.alloc(8))]],
      ['a preface followed by a SETTINGS ACK', [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.settings, F.ack, 0)]],
    ];
    for (const [name, bytes] of cases) {
      it(`${name}: GOAWAY PROTOCOL_ERROR`, async () => {
        const client = await clients.connect(server.port, { handshake: false });
        client.send(...bytes);
        assert.equal(await client.goAwayCode(), E.protocol);
      });
    }
  });

  describe('RFC 9113 §5.1.2 Stream Concurrency', () => {
    let limited: TestServer;
    before(async () => {
      limited = await startServer([[testService, testImplementation().implementation]], { maxConcurrentStreams: 2 });
    });
    after(() => limited.close());

    it('announces the SETTINGS_MAX_CONCURRENT_STREAMS it was given', async () => {
      const client = await clients.connect(limited.port);
      const settings = client.frames.find((f) => f.type === T.settings && f.flags === 0)!;
      const values = new Map<number, number>();
      for (let p = 0; p < settings.payload.length; p += 6) values.set(settings.payload.readUInt16BE(p), settings.payload.readUInt32BE(p + 2));
      assert.equal(values.get(S.maxConcurrentStreams), 2);
    });

    it('a stream past the limit is refused with REFUSED_STREAM, and the connection carries on', async () => {
      const client = await clients.connect(limited.port);
      client.send(...halfClosed(1), ...halfClosed(3), ...halfClosed(5));
      const rst = await client.waitFor((f) => f.type === T.rstStream && f.streamId === 5);
      assert.equal(rst.payload.readUInt32BE(0), E.refusedStream);
      assert.equal(client.responses.get(1)?.reset, undefined);
      assert.equal(client.responses.get(3)?.reset, undefined);
    });
  });
});
