#!/usr/bin/env node
// Checks the load generator's streaming gRPC (Watch, LeaseKeepAlive) against
// the real etcd (and etcdts with --servers etcd,etcdts): hand-encoded
// requests equal the generated encoder's bytes, hand decoding agrees with the
// generated decoders, messages cut at any byte boundary reassemble, every
// watcher sees every put exactly once and in order (also with events larger
// than an HTTP/2 frame and a flow-control window), foreign events are noticed,
// keep-alive answers match their requests even 20 000 deep on one stream,
// and stream errors and cancellation behave. Exits non-zero on the first
// mismatch. A correctness check for the tooling, not a benchmark and not
// part of the test suite.
//
//   npm run build && node bench/verify-streams.js [--servers etcd,etcdts]

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadBenchmarkLibrary, options, repoRoot, sleep } from './lib/common.js';
import { startServers } from './lib/servers.js';

const opts = options({ servers: ['etcd'] });
const lib = await loadBenchmarkLibrary();
const dist = process.env.ETCDTS_DIST ?? join(repoRoot, 'dist');
const rpc = await import(pathToFileURL(join(dist, 'src', 'proto', 'gen', 'etcdserverpb', 'rpc.js')).href);

function frameOf(bytes) {
  return lib.grpcFrame(Buffer.from(bytes));
}

function checkEncodings() {
  for (const [key, rangeEnd, prevKv, watchId] of [['k', '', false, 1], ['/registry/pods/', '/registry/pods0', true, 300], ['x'.repeat(200), '\0', false, 70000]]) {
    const ours = lib.encodeWatchCreateFrame(Buffer.from(key), Buffer.from(rangeEnd), prevKv, watchId);
    const theirs = rpc.WatchRequest.encode(rpc.WatchRequest.fromPartial({ createRequest: { key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd), prevKv, watchId: BigInt(watchId) } })).finish();
    assert.deepEqual(ours, frameOf(theirs), `watch create ${key}`);
  }
  assert.deepEqual(lib.prefixRangeEnd(Buffer.from('abc')), Buffer.from('abd'));
  assert.deepEqual(lib.prefixRangeEnd(Buffer.from([0x61, 0xff])), Buffer.from('b'));
  assert.deepEqual(lib.prefixRangeEnd(Buffer.from([0xff])), Buffer.from([0]));
  for (const id of [1n, 0x7fffffffffffffffn, 0x694d7a3f1c2b0a05n]) {
    assert.deepEqual(lib.encodeLeaseGrantFrame(600n, id), frameOf(rpc.LeaseGrantRequest.encode({ TTL: 600n, ID: id }).finish()));
    assert.deepEqual(lib.encodeLeaseRevokeFrame(id), frameOf(rpc.LeaseRevokeRequest.encode({ ID: id }).finish()));
    assert.deepEqual(lib.encodeLeaseKeepAliveFrame(id), frameOf(rpc.LeaseKeepAliveRequest.encode({ ID: id }).finish()));
    const grant = rpc.LeaseGrantResponse.encode(rpc.LeaseGrantResponse.fromPartial({ header: { revision: 5n }, ID: id, TTL: 600n })).finish();
    assert.equal(lib.decodeLeaseGrantResponse(Buffer.from(grant)), id);
  }
  assert.deepEqual(lib.encodeLeaseGrantFrame(5n, 0n), frameOf(rpc.LeaseGrantRequest.encode({ TTL: 5n, ID: 0n }).finish()));
  assert.throws(() => lib.decodeLeaseGrantResponse(Buffer.from(rpc.LeaseGrantResponse.encode(rpc.LeaseGrantResponse.fromPartial({ error: 'no space' })).finish())), /no space/);
  for (const n of [0n, 1n, 127n, 128n, -1n, -(2n ** 63n), 2n ** 63n - 1n]) {
    const encoded = lib.encodeVarint64(n);
    assert.equal(new lib.ProtoReader().reset(encoded, 0, encoded.length).varint64(), n);
  }
  const negative = Buffer.from(rpc.LeaseKeepAliveResponse.encode(rpc.LeaseKeepAliveResponse.fromPartial({ ID: 7n, TTL: -1n })).finish());
  const r = new lib.ProtoReader().reset(negative, 0, negative.length);
  assert.equal(r.tag(), 0x10);
  assert.equal(r.varint(), 7);
  assert.equal(r.tag(), 0x18);
  assert.ok(r.int64() <= 0, 'TTL -1 reads as not positive');
  console.log('ok   hand-encoded Watch/Lease requests equal the generated encoder\'s bytes; lease ids and negative int64s decode exactly');
}

/** Frames of random sizes, fed in random cuts (down to one byte), come out whole and in order. */
function checkReassembly() {
  let seed = 12345;
  const random = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const messages = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 17 === 0 ? 0 : random(i % 5 === 0 ? 70000 : 300), i & 0xff));
  const stream = Buffer.concat(messages.map((m) => lib.grpcFrame(m)));
  for (const maxCut of [1, 7, 64, 5000, 100000]) {
    const seen = [];
    const reader = new lib.GrpcMessageReader((buf, start, end) => seen.push(Buffer.from(buf.subarray(start, end))));
    for (let pos = 0; pos < stream.length;) {
      const cut = Math.min(stream.length - pos, 1 + random(maxCut));
      // Each chunk sits at an offset inside a larger buffer, as frames do inside a socket read.
      const host = Buffer.concat([Buffer.alloc(3, 0xee), stream.subarray(pos, pos + cut), Buffer.alloc(2, 0xee)]);
      reader.push(host, 3, 3 + cut);
      pos += cut;
    }
    assert.equal(reader.partial, false);
    assert.equal(seen.length, messages.length, `cuts up to ${maxCut}`);
    for (let i = 0; i < messages.length; i++) assert.deepEqual(seen[i], messages[i]);
  }
  console.log('ok   gRPC message reassembly: 300 messages (0 B to 70 KB) cut at random byte boundaries come out whole and in order');
}

function watchOptions(server, overrides) {
  return {
    endpoints: server.endpoints, conns: 2, streams: 3, watchersPerStream: 7, key: Buffer.from(`verify/${Math.random()}`), prefix: false, keySpaceSize: 1,
    valSize: 16, prevKv: false, putTotal: 200, putRate: 0, putClients: 8, warmupPuts: 10, settleTimeoutMs: 3000, ...overrides,
  };
}

function assertComplete(r, label) {
  assert.deepEqual(r.watchErrors, [], label);
  assert.equal(r.put.errorCount, 0, `${label}: put errors ${JSON.stringify(r.put.errors)}`);
  assert.equal(r.eventsReceived, r.eventsExpected, `${label}: ${r.missed} missed`);
  assert.equal(r.missed, 0, label);
  assert.equal(r.duplicated, 0, label);
  assert.equal(r.outOfOrder, 0, label);
  assert.equal(r.events.count, r.watchers * (r.puts - 10), `${label}: one sample per measured (put, watcher)`);
  assert.ok(r.events.fastestMs >= 0, `${label}: no event before its put`);
}

async function checkWatch(server) {
  const kind = server.kind;
  const closed = await lib.runWatchLatency(watchOptions(server, {}));
  assertComplete(closed, `${kind} closed-loop`);
  assert.equal(closed.unexpected, 0);
  const rated = await lib.runWatchLatency(watchOptions(server, { putRate: 200, putTotal: 100, prefix: true, keySpaceSize: 13, prevKv: true }));
  assertComplete(rated, `${kind} rate, prefix, prev_kv`);
  // 60 KB values with prev_kv: each event (~120 KB) spans many DATA frames and
  // socket reads, and 40 of them per watcher exceed the 64 KB default windows.
  const big = await lib.runWatchLatency(watchOptions(server, { streams: 2, watchersPerStream: 2, conns: 1, valSize: 60000, prevKv: true, putTotal: 40, putClients: 4, warmupPuts: 10 }));
  assertComplete(big, `${kind} 60 KB values`);
  console.log(`ok   ${kind}: every watcher saw every put once, in order (21 watchers × 200 puts; rate + prefix + prev_kv; 60 KB values)`);
  await checkForeignEvents(server);
}

/** An event no put of the run made (a foreign write under the watched prefix) is counted, not taken for a put. */
async function checkForeignEvents(server) {
  const prefix = Buffer.from(`verify-foreign/${Math.random()}/`);
  const connection = await lib.FramedConnection.open(new URL(server.endpoints[0]));
  const foreign = sleep(400).then(() => connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(Buffer.concat([prefix, Buffer.from('x')]), Buffer.from('ab'))));
  const r = await lib.runWatchLatency(watchOptions(server, { key: prefix, prefix: true, keySpaceSize: 5, putRate: 50, putTotal: 50, settleTimeoutMs: 1000 }));
  await foreign;
  await connection.close();
  assertComplete(r, `${server.kind} foreign event`);
  assert.equal(r.unexpected, r.watchers, 'one foreign event per watcher');
  console.log(`ok   ${server.kind}: a foreign write under the watched prefix is counted as unexpected by each of the ${r.watchers} watchers, nothing else is disturbed`);
}

async function checkKeepAlive(server) {
  const ids = await lib.grantLeases(server.endpoints, 50, 600);
  assert.equal(new Set(ids.map(String)).size, 50);
  const r = await lib.runLeaseKeepAlive({ endpoints: server.endpoints, conns: 2, streams: 4, depth: 3, leaseIds: ids, total: 3000 });
  assert.equal(r.stats.errorCount, 0, JSON.stringify(r.stats.errors));
  assert.equal(r.stats.count, 3000);
  // 20 000 keep-alives written at once on one stream: ~300 KB, far past the 64 KB stream window.
  const deep = await lib.runLeaseKeepAlive({ endpoints: server.endpoints, conns: 1, streams: 1, depth: 20000, leaseIds: ids, total: 20000 });
  assert.equal(deep.stats.errorCount, 0, JSON.stringify(deep.stats.errors));
  assert.equal(deep.stats.count, 20000);
  // A revoked lease: every keep-alive for it is answered TTL 0 and counted as an error.
  await lib.revokeLeases(server.endpoints, ids.slice(0, 1));
  const gone = await lib.runLeaseKeepAlive({ endpoints: server.endpoints, conns: 1, streams: 2, depth: 2, leaseIds: ids.slice(0, 2), total: 400 });
  assert.deepEqual(gone.stats.errors, { 'keep-alive answered TTL 0: lease not found': 200 });
  assert.equal(gone.stats.count, 200);
  await lib.revokeLeases(server.endpoints, ids.slice(1));
  const list = rpc.LeaseLeasesResponse.decode(await unary(server, '/etcdserverpb.Lease/LeaseLeases', Buffer.alloc(0)));
  assert.ok(!list.leases.some((l) => ids.includes(l.ID)), 'every granted lease revoked');
  console.log(`ok   ${server.kind}: keep-alives on 4 streams × 3 in flight and 20 000 deep on one stream all answered for the right lease; a revoked lease is reported; grant and revoke helpers agree with LeaseLeases`);
}

async function unary(server, path, message) {
  const connection = await lib.FramedConnection.open(new URL(server.endpoints[0]));
  try {
    return await connection.unary(path, lib.grpcFrame(message));
  } finally {
    await connection.close();
  }
}

/** A stream's error status reaches onEnd; a cancelled stream delivers nothing more. */
async function checkStreamEnds(server) {
  const connection = await lib.FramedConnection.open(new URL(server.endpoints[0]));
  try {
    const ended = await new Promise((resolve) => {
      const s = connection.openStream('/etcdserverpb.Watch/NoSuchMethod', { onMessage: () => {}, onEnd: resolve });
      s.write(lib.encodeWatchCreateFrame(Buffer.from('k'), Buffer.alloc(0), false, 1));
    });
    assert.equal(ended?.code, 12, `unknown method ends with UNIMPLEMENTED, got ${ended?.message}`);
    const key = Buffer.from(`verify-cancel/${Math.random()}`);
    let messages = 0;
    let created;
    const isCreated = new Promise((resolve) => (created = resolve));
    const s = connection.openStream('/etcdserverpb.Watch/Watch', {
      onMessage: (buf, start, end) => {
        messages++;
        if (rpc.WatchResponse.decode(buf.subarray(start, end)).created) created();
      },
      onEnd: () => assert.fail('a cancelled stream must not end through onEnd'),
    });
    s.write(lib.encodeWatchCreateFrame(key, Buffer.alloc(0), false, 1));
    await isCreated;
    s.cancel();
    await connection.unary('/etcdserverpb.KV/Put', lib.encodePutFrame(key, Buffer.from('v')));
    await sleep(200);
    assert.equal(messages, 1, 'only the created response');
    // The connection is still good for other calls.
    const range = rpc.RangeResponse.decode(await connection.unary('/etcdserverpb.KV/Range', lib.encodeRangeFrame(key, Buffer.alloc(0), false)));
    assert.equal(range.kvs[0].value.toString(), 'v');
  } finally {
    await connection.close();
  }
  console.log(`ok   ${server.kind}: a stream's error status reaches its handler; after cancel() nothing more is delivered and the connection keeps serving`);
}

checkEncodings();
checkReassembly();
const servers = await startServers(opts.servers, lib);
try {
  for (const server of servers) {
    await checkWatch(server);
    await checkKeepAlive(server);
    await checkStreamEnds(server);
  }
} finally {
  for (const server of servers) await server.stop();
}
console.log('all checks passed');
