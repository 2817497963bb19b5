import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import { KVService, MaintenanceService, ClusterService, LeaseService, AuthService } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { grpcOverheadBytes, responseBytesMax } from '../constants.js';
import { kvService } from './kv-service.js';
import { authService } from './auth-service.js';
import { maintenanceService } from './maintenance-service.js';
import { clusterService } from './cluster-service.js';
import { WatchService, watchService } from './watch-service.js';
import { leaseService } from './lease-service.js';
import { LockService, lockService } from './lock-service.js';
import { ElectionService, electionService } from './election-service.js';
import { httpHandler } from './http-handler.js';
import { acceptHttp2 } from './h2-authority-fix.js';
import { GrpcServer as EtcdtsGrpcServer, type ServiceDefinition } from './grpc-server/server.js';
import type { UntypedServiceImplementation, ServiceDefinition as GrpcJsServiceDefinition } from '@grpc/grpc-js';

/** How long unary calls in flight may take to finish when the member stops (streaming calls end at once). */
const unaryShutdownGraceMs = 2000;

/** The HTTP/2 connection preface every gRPC client sends first. */
const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface ClientListeners {
  /** The gRPC server behind the listeners: ours, or grpc-js's with ETCDTS_GRPC_SERVER=grpc-js. */
  grpc: EtcdtsGrpcServer | GrpcServer;
  close(): Promise<void>;
}

/** The gRPC transports the client port can run on (env ETCDTS_GRPC_SERVER), ours by default. */
export type GrpcTransport = 'etcdts' | 'grpc-js';

export function grpcTransportFromEnv(env: NodeJS.ProcessEnv = process.env): GrpcTransport {
  const value = env['ETCDTS_GRPC_SERVER'];
  if (value === undefined || value === '' || value === 'etcdts') return 'etcdts';
  if (value === 'grpc-js') return 'grpc-js';
  throw new Error(`ETCDTS_GRPC_SERVER must be "etcdts" or "grpc-js", not ${JSON.stringify(value)}`);
}

/**
 * One TCP listener per --listen-client-urls entry serving gRPC and plain
 * HTTP on the same port, as etcd does: the first bytes of a connection tell
 * them apart (an HTTP/2 preface goes to the gRPC server, anything else to
 * the HTTP/1 handler). The gRPC server is our own (grpc-server/), or
 * grpc-js's through its connection injector when ETCDTS_GRPC_SERVER=grpc-js.
 */
export async function startClientListeners(server: EtcdServer, urls: URL[]): Promise<ClientListeners> {
  const services: [ServiceDefinition, UntypedServiceImplementation][] = [
    [KVService, kvService(server) as unknown as UntypedServiceImplementation],
    [MaintenanceService, maintenanceService(server) as unknown as UntypedServiceImplementation],
    [LeaseService, leaseService(server) as unknown as UntypedServiceImplementation],
    [ClusterService, clusterService(server) as unknown as UntypedServiceImplementation],
    [WatchService, watchService(server) as unknown as UntypedServiceImplementation],
    [LockService, lockService(server) as unknown as UntypedServiceImplementation],
    [ElectionService, electionService(server) as unknown as UntypedServiceImplementation],
    [AuthService, authService(server) as unknown as UntypedServiceImplementation],
  ];
  const maxReceive = server.config.maxRequestBytes + grpcOverheadBytes;
  let grpc: EtcdtsGrpcServer | GrpcServer;
  let acceptGrpc: (socket: Socket) => void;
  if (grpcTransportFromEnv() === 'etcdts') {
    const own = new EtcdtsGrpcServer({ maxReceiveMessageBytes: maxReceive, maxSendMessageBytes: responseBytesMax });
    for (const [definition, implementation] of services) own.addService(definition, implementation);
    // Our HPACK decoding takes any :authority, etcdctl's "http://host:port" included: no rewriting needed.
    acceptGrpc = (socket) => void own.handleConnection(socket);
    grpc = own;
  } else {
    const grpcJs = new GrpcServer({
      'grpc.max_receive_message_length': maxReceive,
      'grpc.max_send_message_length': responseBytesMax,
      'grpc.keepalive_time_ms': 2 * 60 * 60 * 1000,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc-node.max_session_memory': 256,
    });
    for (const [definition, implementation] of services) grpcJs.addService(definition as unknown as GrpcJsServiceDefinition, implementation);
    const injector = grpcJs.createConnectionInjector(ServerCredentials.createInsecure());
    acceptGrpc = (socket) => acceptHttp2(socket, (connection) => injector.injectConnection(connection));
    grpc = grpcJs;
  }
  const http: HttpServer = createHttpServer(httpHandler(server));
  const listeners: NetServer[] = [];
  const sockets = new Set<Socket>();
  for (const url of urls) {
    const listener = createNetServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      route(socket, (isHttp2) => {
        if (isHttp2) {
          acceptGrpc(socket);
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
        // A failed accept (EMFILE: out of file descriptors) is emitted here; unhandled, it would end the process.
        listener.on('error', (err) => server.log.warn({ err, url: url.href }, 'client listener failed to accept a connection'));
        resolve();
      });
    });
    listeners.push(listener);
  }
  return {
    grpc,
    close: async () => {
      for (const l of listeners) l.close();
      // Like etcd's GracefulStop with a deadline: a put already proposed gets its answer instead of a reset.
      if (grpc instanceof EtcdtsGrpcServer) await grpc.shutdown(unaryShutdownGraceMs);
      else grpc.forceShutdown();
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
