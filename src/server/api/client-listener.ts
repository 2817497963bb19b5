import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
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
import { HealthService } from '../../proto/gen/grpc/health/v1/health.js';
import { ServingMonitor, healthService } from './health-service.js';
import { memberMetrics } from './metrics/member-metrics.js';
import { Gateway } from './gateway/gateway.js';
import { GrpcServer, type ServiceDefinition, type ServiceImplementation } from './grpc-server/server.js';
import { MemberListener, clientConnectionsMax, groupListenUrls } from '../listen/listener.js';
import type { TlsCredentials } from '../tls/tls-credentials.js';

/** How long unary calls in flight may take to finish when the member stops (streaming calls end at once). */
const unaryShutdownGraceMs = 2000;

export interface ClientListeners {
  grpc: GrpcServer;
  /** The HTTP/JSON gateway, calling the gRPC server's handlers. */
  gateway: Gateway;
  /** The bound listeners, one per address of --listen-client-urls. */
  listeners: MemberListener[];
  /** Serves a connection that did not come through a listener (the in-process client's private socket). */
  serveInternal(socket: Socket): void;
  close(): Promise<void>;
}

/**
 * One listener per address of --listen-client-urls serving gRPC and plain
 * HTTP on the same port, as etcd does, in plaintext, TLS or both as the
 * URLs' schemes say (listen/listener.ts tells them apart by their first
 * bytes). gRPC runs on our own HTTP/2 server (grpc-server/), HTTP/1 on
 * node:http.
 */
export async function startClientListeners(server: EtcdServer, urls: URL[], tls?: TlsCredentials): Promise<ClientListeners> {
  const monitor = new ServingMonitor(server);
  const services: [ServiceDefinition, ServiceImplementation][] = [
    [KVService, kvService(server) as unknown as ServiceImplementation],
    [MaintenanceService, maintenanceService(server) as unknown as ServiceImplementation],
    [LeaseService, leaseService(server) as unknown as ServiceImplementation],
    [ClusterService, clusterService(server) as unknown as ServiceImplementation],
    [WatchService, watchService(server) as unknown as ServiceImplementation],
    [LockService, lockService(server) as unknown as ServiceImplementation],
    [ElectionService, electionService(server) as unknown as ServiceImplementation],
    [AuthService, authService(server) as unknown as ServiceImplementation],
    [HealthService, healthService(monitor) as unknown as ServiceImplementation],
  ];
  const config = server.config;
  const grpc = new GrpcServer({
    maxReceiveMessageBytes: config.maxRequestBytes + grpcOverheadBytes,
    maxSendMessageBytes: responseBytesMax,
    maxConcurrentStreams: config.maxConcurrentStreams,
    keepaliveMinTimeMs: config.grpcKeepaliveMinTimeMs,
    keepaliveTimeMs: config.grpcKeepaliveIntervalMs,
    keepaliveTimeoutMs: config.grpcKeepaliveTimeoutMs,
    observe: memberMetrics(server).grpc.observe,
  });
  for (const [definition, implementation] of services) grpc.addService(definition, implementation);
  const gateway = new Gateway(grpc, services.map(([definition]) => definition));
  const http: HttpServer = createHttpServer(httpHandler(server, { gateway }));
  const httpSockets = new Set<Socket>();
  const handlers = {
    http2: (socket: Socket) => void grpc.handleConnection(socket),
    http1: (socket: Socket) => {
      httpSockets.add(socket);
      socket.once('close', () => httpSockets.delete(socket));
      http.emit('connection', socket);
      socket.resume();
    },
  };
  const listeners: MemberListener[] = [];
  const connectionsMax = clientConnectionsMax();
  try {
    for (const group of groupListenUrls(urls)) {
      listeners.push(await MemberListener.open(group, { tls, handlers, log: server.log, connectionsMax, role: 'client' }));
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return {
    grpc,
    gateway,
    listeners,
    serveInternal: (socket) => void grpc.handleConnection(socket),
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      monitor.stop();
      gateway.shutdown('etcdserver: server stopped');
      // Like etcd's GracefulStop with a deadline: a put already proposed gets its answer instead of a reset.
      await grpc.shutdown(unaryShutdownGraceMs);
      http.close();
      for (const s of httpSockets) s.destroy();
      for (const l of listeners) l.destroyConnections();
    },
  };
}
