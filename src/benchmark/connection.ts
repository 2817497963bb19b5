import type { Workload } from './workload.js';

/**
 * One client connection of the load generator. Several closed-loop clients
 * share a connection, as in etcd's benchmark tool (--conns, --clients): each
 * call is one gRPC stream multiplexed on it.
 */
export interface Connection extends Caller<Workload> {
  close(): Promise<void>;
}

/** What the closed loop drives: a connection, or one stream of it (lease keep-alives). */
export interface Caller<W> {
  /**
   * Sends request `i` of `workload` and calls `done` once, with null on
   * success or with the error (a GrpcCallError for a non-zero grpc-status).
   * `done` is never called synchronously.
   */
  call(workload: W, i: number, done: CallDone): void;
}

export type CallDone = (err: Error | null) => void;

/**
 * The load generator's ways of speaking gRPC, cheapest first (client CPU per
 * call; bench/README.md has the figures):
 * - frames: our own HTTP/2 framing on a TCP socket (frames-connection.ts), the default;
 * - http2: a POST per call on node:http2 (h2-connection.ts);
 * - grpc-js-raw: @grpc/grpc-js with pre-encoded messages;
 * - grpc-js: @grpc/grpc-js with the generated KVClient stubs, as an application would.
 */
export const transportKinds = ['frames', 'http2', 'grpc-js-raw', 'grpc-js'] as const;
export type TransportKind = (typeof transportKinds)[number];

/** A call that ended with a non-zero grpc-status (or without one). */
export class GrpcCallError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'GrpcCallError';
  }
}

/**
 * etcd's --endpoints accept `host:port` or a URL; the load generator speaks
 * plaintext HTTP/2 only (TLS endpoints are refused rather than silently
 * measured over a different path).
 */
export function endpointUrl(endpoint: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
  const url = new URL(withScheme);
  if (url.protocol !== 'http:') throw new RangeError(`unsupported endpoint ${endpoint}: the benchmark speaks plaintext HTTP/2 only`);
  if (url.port === '') url.port = '2379';
  return url;
}

export async function openConnection(kind: TransportKind, endpoint: string): Promise<Connection> {
  const url = endpointUrl(endpoint);
  if (kind === 'frames') {
    const { FramedConnection } = await import('./frames-connection.js');
    return FramedConnection.open(url);
  }
  if (kind === 'http2') {
    const { H2Connection } = await import('./h2-connection.js');
    return H2Connection.open(url);
  }
  const { GrpcJsConnection } = await import('./grpcjs-connection.js');
  return GrpcJsConnection.open(url, kind === 'grpc-js-raw');
}

/** Opens `conns` connections, spread round-robin over the endpoints (as etcd's benchmark dials them). */
export async function openConnections(kind: TransportKind, endpoints: string[], conns: number): Promise<Connection[]> {
  if (endpoints.length === 0) throw new RangeError('no endpoints');
  const opened: Connection[] = [];
  try {
    for (let i = 0; i < conns; i++) opened.push(await openConnection(kind, endpoints[i % endpoints.length]));
  } catch (err) {
    await Promise.all(opened.map((c) => c.close()));
    throw err;
  }
  return opened;
}
