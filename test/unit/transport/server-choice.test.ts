import assert from 'node:assert/strict';
import { peerGrpcServerFromEnv } from '../../../src/server/transport/transport.js';
import { TransportConfigError } from '../../../src/server/transport/errors.js';

describe('peer listener: which gRPC server runs it', () => {
  it('is our own unless ETCDTS_PEER_GRPC_SERVER says grpc-js', () => {
    assert.equal(peerGrpcServerFromEnv({}), 'etcdts');
    assert.equal(peerGrpcServerFromEnv({ ETCDTS_PEER_GRPC_SERVER: '' }), 'etcdts');
    assert.equal(peerGrpcServerFromEnv({ ETCDTS_PEER_GRPC_SERVER: 'etcdts' }), 'etcdts');
    assert.equal(peerGrpcServerFromEnv({ ETCDTS_PEER_GRPC_SERVER: 'grpc-js' }), 'grpc-js');
  });

  it('refuses any other value instead of guessing', () => {
    assert.throws(() => peerGrpcServerFromEnv({ ETCDTS_PEER_GRPC_SERVER: 'grpcjs' }), TransportConfigError);
  });
});
