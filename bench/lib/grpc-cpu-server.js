// One gRPC server process for bench/grpc-server-cpu.js: serves a do-nothing
// unary method (/bench.Null/Call: empty request, empty response) on a
// loopback port with one of three transports, and answers the parent's "cpu"
// messages with its own process.cpuUsage(), so that the figure is the
// server's CPU and nothing else's.
//
//   node bench/lib/grpc-cpu-server.js <etcdts|grpc-js|http2> <port>
//
// ETCDTS_DIST picks the build output our server is loaded from (default
// dist/), so an older build can be measured against a newer one.

import { createServer as createNetServer } from 'node:net';
import { createServer as createHttp2Server, constants } from 'node:http2';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './common.js';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
const identity = (b) => b;
const nullService = {
  call: {
    path: '/bench.Null/Call', requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
};
const empty = Buffer.alloc(0);
const implementation = { call: (_call, callback) => callback(null, empty) };

async function listen() {
  if (kind === 'etcdts') {
    const dist = process.env.ETCDTS_DIST ?? join(repoRoot, 'dist');
    const { GrpcServer } = await import(pathToFileURL(join(dist, 'src', 'server', 'api', 'grpc-server', 'server.js')).href);
    const server = new GrpcServer();
    server.addService(nullService, implementation);
    const listener = createNetServer({ noDelay: true }, (socket) => server.handleConnection(socket));
    await new Promise((resolve) => listener.listen(port, '127.0.0.1', resolve));
    return;
  }
  if (kind === 'grpc-js') {
    const grpc = await import('@grpc/grpc-js');
    const server = new grpc.Server();
    server.addService(nullService, implementation);
    await new Promise((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    return;
  }
  if (kind === 'http2') {
    listenHttp2();
    return;
  }
  throw new Error(`unknown server kind ${kind}`);
}

/**
 * node:http2 (nghttp2) with the thinnest gRPC layer that still does the
 * job: read the length-prefixed request, answer HEADERS, one empty message
 * and trailers with grpc-status 0. No routing table, no metadata parsing:
 * a floor for what any gRPC server on node:http2 costs.
 */
function listenHttp2() {
  const server = createHttp2Server({ settings: { maxConcurrentStreams: 1000 } });
  const response = Buffer.from([0, 0, 0, 0, 0]);
  server.on('stream', (stream, headers) => {
    if (headers[constants.HTTP2_HEADER_PATH] !== '/bench.Null/Call') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      // The request's 5-octet prefix says how long it is; the benchmark's requests are empty.
      if (Buffer.concat(chunks).length < 5) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
      stream.end(response);
    });
  });
  server.listen(port, '127.0.0.1');
}

process.on('message', (message) => {
  if (message === 'cpu') process.send(process.cpuUsage());
});

await listen();
process.send('listening');
