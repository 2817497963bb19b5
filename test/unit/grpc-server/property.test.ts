import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { HpackDecoder, HpackError, encodeHeaderBlock, encodeInteger, entryOverheadBytes, type HeaderField } from '../../../src/server/api/hpack.js';
import { GrpcServer } from '../../../src/server/api/grpc-server/server.js';
import {
  continuationFramesPerBlockMax, headerBlockBytesMax, headerTableBytes, maxFrameBytes, streamsPerConnectionMax, unsentAcksMax,
} from '../../../src/server/api/grpc-server/limits.js';
import { frameHeaderBytes } from '../../../src/server/api/grpc-server/frames.js';
import { E, F, T, frame, grpcMessage, preface, requestBlock, requestFields, settingsPayload, uint32 } from './raw-h2.js';
import { FakeSocket, writtenFrames } from './fake-socket.js';
import { testImplementation, testService } from './test-service.js';

/**
 * Property tests (fast-check, seeded so that CI runs the same cases and a
 * failure replays): the HPACK decoder fed arbitrary header blocks, and a
 * connection fed arbitrary frame sequences cut at arbitrary read
 * boundaries. After every input the limits hold: the dynamic table within
 * its size, decoded lists within theirs, buffered bytes within budget,
 * header block fragments within the CONTINUATION cap; and nothing escapes
 * but our typed errors (HpackError from the decoder; from the connection,
 * nothing at all, and never a GOAWAY INTERNAL_ERROR, which is how it ends
 * on an error that is not a protocol error, i.e. a bug).
 * PROPERTY_SEED=<n> runs another seed.
 */

const seed = Number(process.env['PROPERTY_SEED'] ?? 20_251_206);
const listBytesMax = 16 * 1024;

// ---------------------------------------------------------------------------
// HPACK.

/** One representation, valid or not: integers with long continuation runs, size updates of any size, strings of any octets. */
const representation: fc.Arbitrary<Buffer> = fc.oneof(
  fc.integer({ min: 0, max: 200 }).map((i) => encodeInteger(i, 7, 0x80)),
  fc.tuple(fc.integer({ min: 0, max: 70 }), fc.uint8Array({ maxLength: 40 }), fc.boolean()).map(([nameIndex, value, huffmanFlag]) => Buffer.concat([
    encodeInteger(nameIndex, 6, 0x40), encodeInteger(value.length, 7, huffmanFlag ? 0x80 : 0), Buffer.from(value),
  ])),
  fc.tuple(fc.constantFrom(0x00, 0x10, 0x40), fc.string({ maxLength: 20 }), fc.string({ maxLength: 300 })).map(([pattern, name, value]) => Buffer.concat([
    Buffer.from([pattern]), encodeInteger(name.length, 7, 0), Buffer.from(name, 'latin1'), encodeInteger(value.length, 7, 0), Buffer.from(value, 'latin1'),
  ])),
  fc.integer({ min: 0, max: 10_000 }).map((size) => encodeInteger(size, 5, 0x20)),
  // A prefix of ones, then a run of continuation octets: the integers that once grew to NaN.
  fc.tuple(fc.constantFrom(0x7f, 0x3f, 0x1f, 0xff), fc.oneof(fc.nat(12), fc.integer({ min: 140, max: 300 })), fc.integer({ min: 0, max: 127 })).map(([first, run, last]) => Buffer.from([first, ...Array(run).fill(0x80), last])),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => Buffer.from(b)),
);
const headerBlock = fc.array(representation, { maxLength: 30 }).map((parts) => Buffer.concat(parts));

describe('grpc-server properties: the HPACK decoder', function () {
  this.timeout(60_000);

  it('decodes any sequence of blocks to lists within their limit, or throws HpackError; its table never outgrows its size', () => {
    fc.assert(fc.property(fc.array(headerBlock, { minLength: 1, maxLength: 8 }), (blocks) => {
      const decoder = new HpackDecoder(headerTableBytes, listBytesMax);
      for (const block of blocks) {
        let fields: HeaderField[];
        try {
          fields = decoder.decode(block);
        } catch (err) {
          assert(err instanceof HpackError, `not an HpackError: ${String(err)}`);
          return;
        }
        const listBytes = fields.reduce((n, f) => n + f.name.length + f.value.length + entryOverheadBytes, 0);
        assert(listBytes <= listBytesMax);
        const table = decoder.dynamicTable();
        assert(Number.isSafeInteger(table.bytes) && table.bytes <= headerTableBytes, `table of ${table.bytes} octets`);
        assert.equal(table.bytes, table.entries.reduce((n, [name, value]) => n + name.length + value.length + entryOverheadBytes, 0));
      }
    }), { seed, numRuns: 3000 });
  });

  it('decodes what the encoder wrote to the same list, Huffman-coded or not', () => {
    const field = fc.record({ name: fc.string({ minLength: 1, maxLength: 30 }), value: fc.string({ maxLength: 200 }), sensitive: fc.boolean() });
    fc.assert(fc.property(fc.array(field, { maxLength: 20 }), fc.boolean(), (fields, huffman) => {
      const latin1 = fields.map((f) => ({ ...f, name: Buffer.from(f.name, 'latin1').toString('latin1'), value: Buffer.from(f.value, 'latin1').toString('latin1') }));
      const decoded = new HpackDecoder(headerTableBytes, 1 << 20).decode(encodeHeaderBlock(latin1, { huffman }));
      assert.deepEqual(decoded.map((f) => [f.name, f.value]), latin1.map((f) => [f.name, f.value]));
    }), { seed, numRuns: 500 });
  });
});

// ---------------------------------------------------------------------------
// The connection.

const streamId = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }));
const paths = ['/t.Test/Echo', '/t.Test/Hang', '/t.Test/Sum', '/t.Test/Chat', '/t.Test/SlowChat', '/t.Test/Count', '/nope.X/Y'];

/** Frames a client might send, and many it must not: each type with payloads of the right shape, of the wrong one, and empty. */
const anyFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(streamId, fc.constantFrom(...paths), fc.integer({ min: 0, max: 0x3f }), fc.nat(60)).map(([id, path, flags, cut]) => {
    const block = requestBlock(path);
    return frame(T.headers, flags & ~F.padded & ~F.priority, id, block.subarray(0, Math.min(block.length, cut || block.length)));
  }),
  fc.tuple(streamId, fc.constantFrom(0, F.endHeaders), headerBlock).map(([id, flags, block]) => frame(T.continuation, flags, id, block.subarray(0, 200))),
  fc.tuple(streamId, fc.constantFrom(0, F.endHeaders), fc.nat(40)).map(([id, flags, n]) => frame(T.continuation, flags, id, requestBlock('/t.Test/Echo').subarray(0, n))),
  fc.tuple(streamId, fc.constantFrom(0, F.endStream, F.padded, F.padded | F.endStream), fc.nat(3000), fc.nat(255)).map(([id, flags, size, pad]) => (
    flags & F.padded ? frame(T.data, flags, id, Buffer.concat([Buffer.from([pad]), grpcMessage(Buffer.alloc(size, 7))])) : frame(T.data, flags, id, grpcMessage(Buffer.alloc(size, 7)))
  )),
  fc.tuple(streamId, fc.constantFrom(0, F.endStream)).map(([id, flags]) => frame(T.data, flags, id)),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.nat()), { maxLength: 40 }).map((entries) => frame(T.settings, 0, 0, settingsPayload(entries))),
  fc.constantFrom(frame(T.settings, F.ack, 0), frame(T.ping, 0, 0, Buffer.alloc(8)), frame(T.ping, F.ack, 0, Buffer.alloc(8)), frame(T.goAway, 0, 0, Buffer.alloc(8))),
  fc.tuple(streamId, fc.nat()).map(([id, increment]) => frame(T.windowUpdate, 0, id, uint32(increment))),
  fc.tuple(streamId, fc.integer({ min: 0, max: 13 })).map(([id, code]) => frame(T.rstStream, 0, id, uint32(code))),
  fc.tuple(streamId, fc.nat(7)).map(([id, n]) => frame(T.priority, 0, id, Buffer.alloc(n, 1))),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), streamId, fc.uint8Array({ maxLength: 64 })).map(([type, flags, id, payload]) => frame(type, flags, id, Buffer.from(payload))),
  fc.constant(Buffer.concat([frame(T.headers, 0, 1), frame(T.continuation, 0, 1)])),
  fc.nat(maxFrameBytes + 10).map((n) => frame(T.data, 0, 1, Buffer.alloc(n))),
);

/**
 * What a client does next. Most steps are what gRPC clients do (calls, with
 * header blocks over CONTINUATIONs, messages cut across DATA frames, resets,
 * window updates, pings), on the streams the session opened so far; the
 * rest are any frame at all.
 */
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    kind: fc.constant('call' as const), path: fc.constantFrom(...paths), continuations: fc.nat(9), body: fc.nat(5000), split: fc.nat(5000), endStream: fc.boolean(),
  }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('data' as const), stream: fc.nat(), body: fc.nat(20_000), flags: fc.constantFrom(0, F.endStream, F.padded) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reset' as const), stream: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('window' as const), stream: fc.nat(), increment: fc.oneof(fc.nat(100_000), fc.nat()) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('empty' as const), stream: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('block' as const), continuations: fc.nat(14), ends: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('frame' as const), frame: anyFrame }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

/** The frames of a session: stream ids in order, steps on the streams opened so far. */
function sessionFrames(steps: Step[]): Buffer[] {
  const opened: number[] = [];
  const pick = (n: number) => opened[n % opened.length];
  const frames: Buffer[] = [];
  for (const s of steps) {
    // Steps on a stream wait for one to exist (on an idle stream they would only end the session at once).
    if (s.kind !== 'call' && s.kind !== 'frame' && opened.length === 0) continue;
    if (s.kind === 'call') {
      const id = 2 * opened.length + 1;
      opened.push(id);
      const block = requestBlock(s.path);
      const cuts = Math.min(s.continuations, block.length - 1);
      const size = Math.ceil(block.length / (cuts + 1));
      for (let i = 0, pos = 0; pos < block.length; i++, pos += size) {
        const last = pos + size >= block.length;
        frames.push(frame(i === 0 ? T.headers : T.continuation, last ? F.endHeaders : 0, id, block.subarray(pos, pos + size)));
      }
      const message = grpcMessage(Buffer.alloc(s.body, 1));
      const at = Math.min(s.split, message.length);
      frames.push(frame(T.data, 0, id, message.subarray(0, at)), frame(T.data, s.endStream ? F.endStream : 0, id, message.subarray(at)));
    } else if (s.kind === 'data') {
      const body = grpcMessage(Buffer.alloc(Math.min(s.body, maxFrameBytes - 6), 2));
      frames.push(frame(T.data, s.flags, pick(s.stream), s.flags & F.padded ? Buffer.concat([Buffer.from([0]), body]) : body));
    } else if (s.kind === 'reset') {
      frames.push(frame(T.rstStream, 0, pick(s.stream), uint32(E.cancel)));
    } else if (s.kind === 'window') {
      frames.push(frame(T.windowUpdate, 0, s.stream % 3 === 0 ? 0 : pick(s.stream), uint32(s.increment)));
    } else if (s.kind === 'empty') {
      frames.push(frame(T.data, 0, pick(s.stream)));
    } else if (s.kind === 'block') {
      // A block of many small fragments, finished or not: what CONTINUATION floods look like.
      const id = 2 * opened.length + 1;
      opened.push(id);
      const block = encodeHeaderBlock(requestFields('/t.Test/Hang', [['x-pad', 'p'.repeat(40)]]), { huffman: false });
      frames.push(frame(T.headers, 0, id, block.subarray(0, 1)));
      for (let i = 1; i <= s.continuations; i++) {
        const last = i === s.continuations && s.ends;
        frames.push(frame(T.continuation, last ? F.endHeaders : 0, id, last ? block.subarray(i) : block.subarray(i, i + 1)));
      }
    } else {
      frames.push(s.frame);
    }
  }
  return frames;
}

/** A session: the preface and a SETTINGS (almost always), its steps, and the read sizes that cut them. */
const session = fc.record({
  handshake: fc.oneof({ weight: 19, arbitrary: fc.constant(Buffer.concat([preface, frame(T.settings, 0, 0)])) }, { weight: 1, arbitrary: fc.constant(preface.subarray(0, 10)) }),
  steps: fc.array(step, { maxLength: 100 }),
  reads: fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 20 }),
});

describe('grpc-server properties: the connection', function () {
  this.timeout(120_000);

  it('holds every limit after every read, whatever frames come and wherever reads cut them', async () => {
    const { implementation } = testImplementation();
    const memoryBytesMax = 1024 * 1024;
    const bufferedBytesMax = 256 * 1024;
    const server = new GrpcServer({
      maxReceiveMessageBytes: 64 * 1024, connectionBufferedBytesMax: bufferedBytesMax, memoryBytesMax, handshakeTimeoutMs: 0, idleTimeoutMs: 0, incompleteFrameTimeoutMs: 0,
    });
    server.addService(testService, implementation);
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown) => crashes.push(err);
    process.on('uncaughtException', onUncaught);
    // How deep the sessions went: a property that only ever sees broken prefaces proves little.
    let deepest = 0;
    const sessionsWithStreams = new Set<object>();
    const runs = 1000;
    try {
      await fc.assert(fc.asyncProperty(session, async ({ handshake, steps, reads }) => {
        const input = Buffer.concat([handshake, ...sessionFrames(steps)]);
        const socket = new FakeSocket();
        const connection = server.handleConnection(socket as unknown as Socket);
        for (let pos = 0, r = 0; pos < input.length; r++) {
          const n = reads[r % reads.length];
          socket.emit('data', input.subarray(pos, pos + n));
          pos += n;
          const limits = connection.limitsSnapshot();
          deepest = Math.max(deepest, limits.streams);
          if (limits.streamsOpened > 0) sessionsWithStreams.add(connection);
          assert(limits.headerTableBytes <= headerTableBytes, 'dynamic table within SETTINGS_HEADER_TABLE_SIZE');
          assert(limits.blockFragments <= 1 + continuationFramesPerBlockMax, 'header block fragments within the CONTINUATION cap');
          assert(limits.blockBytes <= headerBlockBytesMax, 'header block within its size');
          assert(limits.transportBytes <= frameHeaderBytes + maxFrameBytes + headerBlockBytesMax, 'transport buffers within one frame and one block');
          assert(limits.streams <= streamsPerConnectionMax);
          assert(limits.unsentAcks <= unsentAcksMax);
          assert(connection.bufferedBytes >= 0 && connection.bufferedBytes <= bufferedBytesMax, 'received bytes within the connection budget');
          assert(connection.sendQueuedBytes >= 0);
          assert(server.memoryBudget.used >= 0 && server.memoryBudget.used <= 2 * memoryBytesMax, 'the server budget');
          if (r % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
        }
        await new Promise((resolve) => setImmediate(resolve));
        connection.output.flush();
        const written = writtenFrames(socket);
        assert.equal(written[0]?.type, T.settings, 'the server preface comes first');
        const goAway = written.find((f) => f.type === T.goAway);
        assert(goAway === undefined || goAway.payload.readUInt32BE(4) !== E.internal, `GOAWAY INTERNAL_ERROR: ${goAway?.payload.subarray(8).toString()}`);
        socket.destroy();
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(connection.streamCount, 0);
        assert.deepEqual(crashes, [], 'nothing thrown out of the connection');
      }), { seed, numRuns: runs });
      assert(sessionsWithStreams.size > runs / 2 && deepest >= 3, `only ${sessionsWithStreams.size} of ${runs} sessions opened streams (${deepest} at once at most)`);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(server.connectionCount, 0);
      assert.equal(server.memoryBudget.used, 0, 'every byte given back once the connections are gone');
    } finally {
      process.off('uncaughtException', onUncaught);
      server.forceShutdown();
    }
  });
});
