import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { encodeHeaderBlock } from '../../../src/server/api/hpack.js';
import { GrpcServer } from '../../../src/server/api/grpc-server/server.js';
import type { Http2Connection } from '../../../src/server/api/grpc-server/connection.js';
import { F, S, T, frame, grpcMessage, preface, requestBlock, requestFields, settingsPayload, uint32 } from './raw-h2.js';
import { testImplementation, testService } from './test-service.js';
import { FakeSocket, writtenFrameTypes } from './fake-socket.js';

/**
 * Seeded fuzzing of the connection with malformed and mutated input: valid
 * sessions (calls of every kind, PINGs, SETTINGS, WINDOW_UPDATEs, resets,
 * CONTINUATIONs, padding) with frames and bytes mutated, fed in random
 * slices. Whatever comes in, nothing may throw out of the connection, what
 * it buffers stays within its bounds, everything it writes is well-formed
 * HTTP/2 ending in GOAWAY if it closes, and the server keeps serving. A
 * failure names its seed; FUZZ_SEED=<n> replays it alone.
 */

const cases = Number(process.env['FUZZ_CASES'] ?? 3000);
const firstSeed = Number(process.env['FUZZ_SEED'] ?? 1);
const budgetBytes = 256 * 1024;

/** mulberry32: small, fast, seeded. */
function prng(seed: number): { next(): number; int(n: number): number; pick<T>(items: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)], chance: (p) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const paths = ['/t.Test/Echo', '/t.Test/Hang', '/t.Test/Count', '/t.Test/Sum', '/t.Test/Chat', '/t.Test/SlowChat', '/t.Test/Fail', '/t.Test/Big', '/nope.X/Y'];

/** A plausible session: mostly valid frames a gRPC client might send. */
function session(rng: Rng): Buffer[] {
  const frames: Buffer[] = [frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, rng.pick([0, 100, 65_535, 2 ** 31 - 1])]]))];
  let id = 1;
  for (let i = rng.int(8); i >= 0; i--) {
    const path = rng.pick(paths);
    const extra: [string, string][] = rng.chance(0.3) ? [['grpc-timeout', `${rng.int(50)}m`]] : [];
    const block = rng.chance(0.5) ? requestBlock(path, extra) : encodeHeaderBlock(requestFields(path, extra), { huffman: false });
    if (rng.chance(0.2) && block.length > 4) {
      const cut = 1 + rng.int(block.length - 1);
      frames.push(frame(T.headers, 0, id, block.subarray(0, cut)), frame(T.continuation, F.endHeaders, id, block.subarray(cut)));
    } else {
      frames.push(frame(T.headers, F.endHeaders, id, block));
    }
    const body = path === '/t.Test/Count' ? Buffer.from(`${rng.int(5)},${rng.int(40_000)}`) : path === '/t.Test/Big' ? Buffer.from(String(rng.int(100_000))) : Buffer.alloc(rng.int(3000), rng.int(256));
    const message = grpcMessage(body);
    const split = rng.int(message.length + 1);
    frames.push(frame(T.data, 0, id, message.subarray(0, split)));
    frames.push(frame(T.data, rng.chance(0.9) ? F.endStream : 0, id, message.subarray(split)));
    if (rng.chance(0.2)) frames.push(frame(T.rstStream, 0, id, uint32(8)));
    if (rng.chance(0.3)) frames.push(frame(T.windowUpdate, 0, rng.chance(0.5) ? 0 : id, uint32(1 + rng.int(1_000_000))));
    if (rng.chance(0.3)) frames.push(frame(T.ping, 0, 0, Buffer.alloc(8, i)));
    if (rng.chance(0.1)) frames.push(frame(T.priority, 0, id, Buffer.from([0, 0, 0, 0, 16])));
    if (rng.chance(0.1)) frames.push(frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, rng.int(100_000)], [S.maxFrameSize, 16_384 + rng.int(10_000)]])));
    id += 2;
  }
  if (rng.chance(0.2)) frames.push(frame(T.goAway, 0, 0, Buffer.alloc(8)));
  return frames;
}

/** Mutates frames and bytes: a few changes, so most of the session still parses. */
function mutate(rng: Rng, frames: Buffer[]): Buffer {
  const out: Buffer[] = frames.map((f) => Buffer.from(f));
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const f = out[rng.int(out.length)];
    // Inserted garbage may be shorter than a frame header: only whole frames get header mutations.
    switch (f.length >= 9 ? rng.int(9) : 5 + rng.int(4)) {
      case 0: f[3] = rng.int(12); break; // frame type
      case 1: f[4] = rng.int(256); break; // flags
      case 2: f.writeUInt32BE(rng.int(12), 5); break; // stream id
      case 3: if (f.length > 9) f[9 + rng.int(f.length - 9)] = rng.int(256); break; // payload byte
      case 4: f.writeUIntBE(rng.int(f.length + 20), 0, 3); break; // length field
      case 5: out.splice(rng.int(out.length), 0, Buffer.from(Array.from({ length: rng.int(40) }, () => rng.int(256)))); break; // garbage
      case 6: out.splice(rng.int(out.length), 1); break; // a frame lost
      case 7: out.splice(rng.int(out.length), 0, Buffer.from(rng.pick(out))); break; // a frame repeated
      default: out.splice(rng.int(out.length), 0, frame(rng.int(12), rng.int(256), rng.int(8), Buffer.alloc(rng.int(64), rng.int(256)))); // a random frame
    }
  }
  return Buffer.concat([preface, ...out]);
}

async function runCase(server: GrpcServer, seed: number): Promise<void> {
  const rng = prng(seed);
  const input = mutate(rng, session(rng));
  const socket = new FakeSocket();
  const connection: Http2Connection = server.handleConnection(socket as unknown as Socket);
  for (let pos = 0; pos < input.length;) {
    const n = 1 + rng.int(rng.chance(0.5) ? 64 : 4096);
    socket.emit('data', input.subarray(pos, pos + n));
    pos += n;
    assert(connection.bufferedBytes <= budgetBytes, 'received bytes held past the budget');
    assert(connection.bufferedBytes >= 0 && connection.sendQueuedBytes >= 0);
    assert(connection.streamCount <= 1000);
    if (rng.chance(0.05)) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
  connection.output.flush();
  const types = writtenFrameTypes(socket);
  assert.equal(types[0], T.settings, 'the server preface comes first');
  if (socket.ended) assert(types.includes(T.goAway), 'a connection the server ends gets GOAWAY');
  socket.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(connection.streamCount, 0);
}

describe('grpc-server: fuzzed input', function () {
  this.timeout(300_000);

  it(`survives ${cases} mutated sessions with bounded buffers and well-formed output, then serves a normal call`, async () => {
    const { implementation } = testImplementation();
    const server = new GrpcServer({ maxReceiveMessageBytes: 64 * 1024, connectionBufferedBytesMax: budgetBytes });
    server.addService(testService, implementation);
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown) => crashes.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const count = process.env['FUZZ_SEED'] !== undefined ? 1 : cases;
      for (let seed = firstSeed; seed < firstSeed + count; seed++) {
        try {
          await runCase(server, seed);
        } catch (err) {
          throw new Error(`seed ${seed} (replay with FUZZ_SEED=${seed}): ${(err as Error).message}`);
        }
        assert.deepEqual(crashes, [], `seed ${seed} threw out of the connection`);
      }
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    // Still serving: a clean session on a fresh connection.
    const socket = new FakeSocket();
    const connection = server.handleConnection(socket as unknown as Socket);
    socket.emit('data', Buffer.concat([preface, frame(T.settings, 0, 0), frame(T.headers, F.endHeaders, 1, requestBlock('/t.Test/Echo')),
      frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('after the storm')))]));
    await new Promise((resolve) => setImmediate(resolve));
    connection.output.flush();
    assert(Buffer.concat(socket.written).includes(Buffer.from('after the storm')));
    socket.destroy();
  });
});
