import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { KVService, MaintenanceService, ClusterService, LeaseService } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { grpcOverheadBytes, responseBytesMax } from '../constants.js';
import { kvService } from './kv-service.js';
import { maintenanceService } from './maintenance-service.js';
import { clusterService } from './cluster-service.js';
import { WatchService, watchService } from './watch-service.js';
import { leaseService } from './lease-service.js';
import { LockService, lockService } from './lock-service.js';
import { ElectionService, electionService } from './election-service.js';
import { httpHandler } from './http-handler.js';
import { acceptHttp2 } from './h2-authority-fix.js';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';

/** The HTTP/2 connection preface every gRPC client sends first. */
const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface ClientListeners {
  grpc: GrpcServer;
  close(): Promise<void>;
}

/**
 * One TCP listener per --listen-client-urls entry serving gRPC and plain
 * HTTP on the same port, as etcd does: the first bytes of a connection tell
 * them apart (an HTTP/2 preface goes to the gRPC server through grpc-js's
 * connection injector; anything else to the HTTP/1 handler).
 */
export async function startClientListeners(server: EtcdServer, urls: URL[]): Promise<ClientListeners> {
  const grpc = new GrpcServer({
    'grpc.max_receive_message_length': server.config.maxRequestBytes + grpcOverheadBytes,
    'grpc.max_send_message_length': responseBytesMax,
    'grpc.keepalive_time_ms': 2 * 60 * 60 * 1000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc-node.max_session_memory': 256,
  });
  grpc.addService(KVService, kvService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(MaintenanceService, maintenanceService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(LeaseService, leaseService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(ClusterService, clusterService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(WatchService, watchService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(LockService, lockService(server) as unknown as UntypedServiceImplementation);
  grpc.addService(ElectionService, electionService(server) as unknown as UntypedServiceImplementation);
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const http: HttpServer = createHttpServer(httpHandler(server));
  const listeners: NetServer[] = [];
  const sockets = new Set<Socket>();
  for (const url of urls) {
    const listener = createNetServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      route(socket, (isHttp2) => {
        if (isHttp2) {
          acceptHttp2(socket, (connection) => injector.injectConnection(connection));
        } else {
          http.emit('connection', socket);
          socket.resume();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(Number(url.port), url.hostname.replace(/^\[|\]$/g, ''), () => {
        listener.off('error', reject);
        resolve();
      });
    });
    listeners.push(listener);
  }
  return {
    grpc,
    close: async () => {
      for (const l of listeners) l.close();
      grpc.forceShutdown();
      http.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** Reads until the connection's first bytes decide its protocol, then puts them back. */
function route(socket: Socket, dispatch: (isHttp2: boolean) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const n = Math.min(head.length, http2Preface.length);
    const matches = head.subarray(0, n).equals(http2Preface.subarray(0, n));
    if (matches && head.length < http2Preface.length) return;
    socket.off('data', onData);
    socket.pause();
    socket.unshift(head);
    dispatch(matches);
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}
