import assert from 'node:assert/strict';
import { buildGrpcConfig } from '../../../src/server/etcdserver/config.js';

describe('gRPC transport flags, as etcd reads them', () => {
  it('defaults to etcd\'s: 2^32-1 streams, pings no more often than every 5 s, a server ping every 2 h answered within 20 s', () => {
    assert.deepEqual(buildGrpcConfig({}), { maxConcurrentStreams: 2 ** 32 - 1, grpcKeepaliveMinTimeMs: 5000, grpcKeepaliveIntervalMs: 7_200_000, grpcKeepaliveTimeoutMs: 20_000 });
  });

  it('takes Go durations, and 0 to turn server pings off', () => {
    const c = buildGrpcConfig({ maxConcurrentStreams: '100', grpcKeepaliveMinTime: '1m30s', grpcKeepaliveInterval: '0', grpcKeepaliveTimeout: '500ms' });
    assert.deepEqual(c, { maxConcurrentStreams: 100, grpcKeepaliveMinTimeMs: 90_000, grpcKeepaliveIntervalMs: 0, grpcKeepaliveTimeoutMs: 500 });
  });

  it('refuses what Go\'s flag package refuses, with its words', () => {
    assert.throws(() => buildGrpcConfig({ maxConcurrentStreams: '-1' }), /invalid argument "-1" for "--max-concurrent-streams" flag/);
    assert.throws(() => buildGrpcConfig({ maxConcurrentStreams: String(2 ** 32) }), /--max-concurrent-streams/);
    assert.throws(() => buildGrpcConfig({ grpcKeepaliveMinTime: '5' }), /invalid argument "5" for "--grpc-keepalive-min-time" flag: time: invalid duration "5"/);
  });
});
