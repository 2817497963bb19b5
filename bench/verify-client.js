#!/usr/bin/env node
// Checks that the load generator's clients speak correct gRPC, against the
// real etcd (and against a @grpc/grpc-js server, whose HPACK encoder differs
// from Go's): every put lands, with the key and value etcd's benchmark would
// write; responses decode with the generated types; server errors come back
// with etcd's code and message; large requests cross HTTP/2 flow control.
// Exits non-zero on the first mismatch. A correctness check for the tooling,
// not a benchmark and not part of the test suite.
//
//   npm run build && node bench/verify-client.js

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { loadBenchmarkLibrary, repoRoot } from './lib/common.js';
import { startServer } from './lib/servers.js';

const etcdctl = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';
const lib = await loadBenchmarkLibrary();
const dist = process.env.ETCDTS_DIST ?? join(repoRoot, 'dist');
const rpc = await import(pathToFileURL(join(dist, 'src', 'proto', 'gen', 'etcdserverpb', 'rpc.js')).href);
const grpc = await import('@grpc/grpc-js');

function ctl(endpoint, ...args) {
  try {
    return JSON.parse(execFileSync(etcdctl, ['--endpoints', endpoint, '-w', 'json', ...args], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }));
  } catch (err) {
    throw new Error(`etcdctl ${args.join(' ')} failed: ${String(err.stderr ?? err.message).slice(0, 500)}`);
  }
}

/** etcd's benchmark key: zig-zag varint of n in a zeroed buffer of `size` bytes. */
function benchKey(n, size) {
  const key = Buffer.alloc(size);
  let v = n * 2;
  let o = 0;
  while (v >= 0x80) {
    key[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  key[o] = v;
  return key;
}

async function checkPutsLand(endpoint, transport) {
  const total = 3000;
  const spec = { ...lib.defaultWorkloadSpec, operation: 'put', keySize: 8, valSize: 33, keySpaceSize: total, sequentialKeys: true, seed: 7 };
  ctl(endpoint, 'del', '', '--from-key');
  const result = await lib.runBenchmark({ endpoints: [endpoint], conns: 3, clients: 40, transport, workers: 0, workload: spec, total });
  assert.equal(result.stats.errorCount, 0, `${transport}: errors ${JSON.stringify(result.stats.errors)}`);
  assert.equal(result.stats.count, total);
  const all = ctl(endpoint, 'get', '', '--from-key');
  assert.equal(Number(all.count), total, `${transport}: etcd holds ${all.count} keys after ${total} puts`);
  const workload = lib.createWorkload(spec);
  const expectedValue = rpc.PutRequest.decode(workload.frameOf(0).subarray(5)).value;
  const keys = new Set(all.kvs.map((kv) => Buffer.from(kv.key, 'base64').toString('hex')));
  for (let n = 0; n < total; n++) assert.ok(keys.has(benchKey(n, 8).toString('hex')), `${transport}: key ${n} missing`);
  for (const kv of all.kvs) assert.deepEqual(Buffer.from(kv.value, 'base64'), expectedValue);
  console.log(`ok   ${transport}: ${total} puts from 40 clients on 3 connections, all ${total} keys and values in etcd`);
}

async function checkEncodings() {
  for (const spec of [
    { operation: 'put', keySize: 8, valSize: 8, keySpaceSize: 1, sequentialKeys: false },
    { operation: 'put', keySize: 16, valSize: 0, keySpaceSize: 1000, sequentialKeys: false },
    { operation: 'put', keySize: 32, valSize: 300, keySpaceSize: 1 << 20, sequentialKeys: true },
    { operation: 'range', rangeKey: 'foo', rangeEnd: 'fop', serializable: true },
    { operation: 'range', rangeKey: 'foo', serializable: false },
    { operation: 'mixed', keySize: 8, valSize: 8, keySpaceSize: 50, readRatio: 0.5, serializable: true },
  ]) {
    const workload = lib.createWorkload({ ...lib.defaultWorkloadSpec, ...spec });
    for (let i = 0; i < 200; i++) {
      const frame = workload.frameOf(i);
      assert.equal(frame[0], 0);
      assert.equal(frame.readUInt32BE(1), frame.length - 5);
      const type = workload.methodOf(i) === 0 ? rpc.PutRequest : rpc.RangeRequest;
      const decoded = type.decode(frame.subarray(5));
      assert.deepEqual(type.toJSON(decoded), type.toJSON(type.fromPartial(workload.messageOf(i))));
      assert.deepEqual(Buffer.from(type.encode(type.fromPartial(workload.messageOf(i))).finish()), frame.subarray(5));
    }
  }
  console.log('ok   hand-encoded Put/Range frames equal the generated encoder\'s bytes, message objects agree');
  // RFC 7541 Appendix C.4 examples.
  for (const [hex, text] of [['f1e3c2e5f23a6ba0ab90f4ff', 'www.example.com'], ['a8eb10649cbf', 'no-cache'],
    ['25a849e95ba97d7f', 'custom-key'], ['25a849e95bb8e8b4bf', 'custom-value']]) {
    const bytes = Buffer.from(hex, 'hex');
    assert.equal(lib.huffmanDecode(bytes, 0, bytes.length), text);
  }
  const decoded = [];
  const decoder = new lib.HpackDecoder();
  // C.4.1 then C.4.2: the second block refers to the first one's dynamic entries.
  decoder.decode(Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex'), (n, v) => decoded.push(`${n}: ${v}`));
  decoder.decode(Buffer.from('828684be5886a8eb10649cbf', 'hex'), (n, v) => decoded.push(`${n}: ${v}`));
  assert.deepEqual(decoded, [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com',
    ':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache']);
  console.log('ok   HPACK decoder: RFC 7541 C.4 Huffman and dynamic-table examples');
}

async function checkUnaryAndErrors(endpoint) {
  const connection = await lib.FramedConnection.open(new URL(endpoint));
  try {
    const put = rpc.PutResponse.decode(await connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(Buffer.from('verify'), Buffer.from('value-1'))));
    const range = rpc.RangeResponse.decode(await connection.unary('/etcdserverpb.KV/Range', lib.encodeRangeFrame(Buffer.from('verify'), Buffer.alloc(0), false)));
    assert.equal(range.kvs[0].value.toString(), 'value-1');
    assert.equal(range.header.revision, put.header.revision);
    await assert.rejects(connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(Buffer.alloc(0), Buffer.from('x'))),
      { code: 3, message: 'etcdserver: key is not provided' });
    const future = Buffer.from(rpc.RangeRequest.encode(rpc.RangeRequest.fromPartial({ key: Buffer.from('verify'), revision: put.header.revision + 1000n })).finish());
    await assert.rejects(connection.unary('/etcdserverpb.KV/Range', frame(future)),
      { code: 11, message: 'etcdserver: mvcc: required revision is a future revision' });
    // The error's HPACK entries are now indexed; the same error again exercises the dynamic table.
    await assert.rejects(connection.unary('/etcdserverpb.KV/Range', frame(future)), { code: 11 });
    await assert.rejects(connection.unary('/etcdserverpb.KV/NoSuchMethod', frame(Buffer.alloc(0))), { code: 12 });
  } finally {
    await connection.close();
  }
  console.log('ok   frames: unary Put/Range decode with the generated types; etcd errors keep code and message');
}

function frame(message) {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

async function checkFlowControl(endpoint, transport) {
  const valSize = 300 * 1024; // > the 64 KiB windows and the 16 KiB frame
  const spec = { ...lib.defaultWorkloadSpec, operation: 'put', keySize: 8, valSize, keySpaceSize: 20, sequentialKeys: true };
  ctl(endpoint, 'del', '', '--from-key');
  const result = await lib.runBenchmark({ endpoints: [endpoint], conns: 1, clients: 8, transport, workers: 0, workload: spec, total: 60 });
  assert.equal(result.stats.errorCount, 0, JSON.stringify(result.stats.errors));
  const got = ctl(endpoint, 'get', '', '--from-key');
  assert.equal(got.kvs.length, 20);
  for (const kv of got.kvs) assert.equal(Buffer.from(kv.value, 'base64').length, valSize);
  console.log(`ok   ${transport}: 60 puts of ${valSize >> 10} KiB values through 8 clients on one connection (flow control)`);
}

/** A grpc-js server (nghttp2 HPACK: Huffman strings, other indexing choices) answering Put and failing Range. */
async function checkAgainstGrpcJsServer() {
  // A stream limit of 3 makes 16 clients on 2 connections queue for streams.
  const server = new grpc.Server({ 'grpc.max_concurrent_streams': 3 });
  const message = 'etcdserver: ünïcode % and spaces, quite a long message to get Huffman-coded';
  let puts = 0;
  server.addService(rpc.KVService, {
    put: (call, cb) => {
      puts++;
      cb(null, rpc.PutResponse.fromPartial({ header: { revision: BigInt(puts) } }));
    },
    range: (call, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: message }),
  });
  const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  try {
    const endpoint = `http://127.0.0.1:${port}`;
    for (const transport of ['frames', 'http2']) {
      const r = await lib.runBenchmark({ endpoints: [endpoint], conns: 2, clients: 16, transport, workers: 0,
        workload: { ...lib.defaultWorkloadSpec, operation: 'mixed', keySpaceSize: 100, readRatio: 0.3 }, total: 2000 });
      assert.equal(r.stats.count + r.stats.errorCount, 2000);
      assert.deepEqual(Object.keys(r.stats.errors), [message]);
      assert.ok(r.stats.count > 1200 && r.stats.count < 1600, `${r.stats.count} puts`);
    }
    const connection = await lib.FramedConnection.open(new URL(endpoint));
    const reply = rpc.PutResponse.decode(await connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(Buffer.from('k'), Buffer.from('v'))));
    assert.equal(reply.header.revision, BigInt(puts));
    await connection.close();
  } finally {
    server.forceShutdown();
  }
  console.log('ok   frames, http2: against a grpc-js server (3 streams per connection), mixed load gets every success and the exact (Huffman-coded, percent-encoded) error');
}

/** The closed loop against an in-process fake connection: counts, warm-up, indexes, concurrency. */
async function checkClosedLoop() {
  const seen = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const fake = {
    call(workload, i, done) {
      seen.push(i);
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      setImmediate(() => {
        inFlight--;
        done(i % 10 === 3 ? new Error('every tenth fails') : null);
      });
    },
    close: async () => {},
  };
  const workload = lib.createWorkload({ ...lib.defaultWorkloadSpec });
  const r = await lib.runClosedLoop([fake, fake], workload, { clients: 7, total: 1000, warmupRequests: 100, indexOffset: 1, indexStride: 3 });
  assert.equal(seen.length, 1100);
  assert.deepEqual(seen.slice(0, 3), [1, 4, 7]);
  assert.equal(mostInFlight, 7);
  assert.equal(r.completedAll, 1100);
  assert.equal(r.latenciesMs.length + r.errors['every tenth fails'], 1000);
  assert.equal(r.errors['every tenth fails'], 100);
  const stats = lib.summarize(r);
  assert.ok(stats.percentilesMs['50'] <= stats.percentilesMs['99'] && stats.percentilesMs['99'] <= stats.slowestMs);
  assert.equal(lib.percentile(Float64Array.from([1, 2, 3, 4]), 50), 2);
  assert.equal(lib.percentile(Float64Array.from([1, 2, 3, 4]), 99), 4);
  const timed = await lib.runClosedLoop([fake], workload, { clients: 3, durationMs: 200, warmupMs: 50 });
  assert.ok(timed.elapsedMs >= 200 && timed.elapsedMs < 1000, `${timed.elapsedMs} ms`);
  console.log('ok   closed loop: exact counts, warm-up excluded, index stride, at most `clients` in flight, duration mode');
}

await checkEncodings();
await checkClosedLoop();
const etcd = await startServer('etcd', 1, lib);
try {
  const endpoint = etcd.endpoints[0];
  for (const transport of lib.transportKinds) await checkPutsLand(endpoint, transport);
  await checkUnaryAndErrors(endpoint);
  await checkFlowControl(endpoint, 'frames');
} finally {
  await etcd.stop();
}
await checkAgainstGrpcJsServer();
console.log('all checks passed');
