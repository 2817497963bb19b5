import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Server } from '@grpc/grpc-js';

/**
 * HTTP/2 flow-control windows of the peer listener. Node's defaults (64 KiB
 * per stream and per connection) make every 64 KiB of a snapshot wait for a
 * WINDOW_UPDATE round trip between two busy event loops: measured here, a
 * snapshot crawled at ~55 MiB/s with both ends mostly idle, and ran at
 * 200-280 MiB/s with these windows (the receiver's windows are what bound
 * an upload). They also bound what a receiver buffers per stream and per
 * connection, so they stay moderate.
 */
export const streamWindowBytes = 4 * 1024 * 1024;
export const connectionWindowBytes = 16 * 1024 * 1024;

interface GrpcServerInternals {
  commonServerOptions?: { settings?: Record<string, unknown> };
  http2Servers?: Map<Http2Server, unknown>;
}

/**
 * grpc-js 1.14 has no server option for these windows, so this reaches into
 * two of its private fields (the pinned version is in package.json). Call
 * it before bindAsync() to set the stream window, and again after to set the
 * connection window of every accepted connection. Returns false if the
 * fields are gone (a grpc-js upgrade): the transport then still works, only
 * slower, and a unit test fails to say so.
 */
export function widenHttp2Windows(server: Server, phase: 'before-bind' | 'after-bind'): boolean {
  const internals = server as unknown as GrpcServerInternals;
  if (phase === 'before-bind') {
    const options = internals.commonServerOptions;
    if (options === undefined) return false;
    options.settings = { ...options.settings, initialWindowSize: streamWindowBytes };
    return true;
  }
  const servers = internals.http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const http2Server of servers.keys()) {
    // grpc-js sets TCP_NODELAY on sockets it dials, not on those it accepts:
    // without this, small peer messages (MsgAppResp) wait on Nagle for an ACK.
    http2Server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    http2Server.on('session', (session: ServerHttp2Session) => {
      session.setLocalWindowSize(connectionWindowBytes);
    });
  }
  return true;
}
