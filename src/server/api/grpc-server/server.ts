import type { Socket } from 'node:net';
import type { HeaderField } from '../hpack.js';
import { Http2Connection, type ConnectionOptions, type RequestHandler } from './connection.js';
import { ErrorCode } from './frames.js';
import {
  connectionBufferedBytesMax, handshakeTimeoutMsDefault, headerListBytesMax, idleTimeoutMsDefault, incompleteFrameTimeoutMsDefault,
  keepaliveMinTimeMsDefault, keepaliveTimeMsDefault, maxReceiveMessageBytesDefault, keepaliveTimeoutMsDefault, keepaliveWithoutStreamMinTimeMs, maxConcurrentStreamsDefault, serverMemoryBytesMax,
  shutdownGraceMsDefault, streamWindowBytesDefault, sweepIntervalMsMax, windowBytesMax,
} from './limits.js';
import { MemoryBudget } from './memory-budget.js';
import { parseTimeoutMs, trailersBlock } from './metadata.js';
import { ServerCall, Status, type CallKind, type MethodEntry, type MethodObserver } from './call.js';
import { messagePrefixBytes, type ServerStream } from './stream.js';

/** One method of a service definition, as ts-proto and grpc-js generate them. */
export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: never) => Buffer;
  originalName?: string;
}

export type ServiceDefinition = Record<string, MethodDefinition>;

/** Handlers by method name, as grpc-js's UntypedServiceImplementation. */
export type ServiceImplementation = Record<string, unknown>;

export interface GrpcServerOptions {
  /** Largest request message accepted (grpc.max_receive_message_length; gRPC's default is 4 MiB). */
  maxReceiveMessageBytes?: number;
  /** Largest response message sent (grpc.max_send_message_length). */
  maxSendMessageBytes?: number;
  /** Received message bytes one connection may hold (default limits.ts connectionBufferedBytesMax). */
  connectionBufferedBytesMax?: number;
  /** Server keepalive PING period (etcd --grpc-keepalive-interval, 2 h); 0 turns it off. */
  keepaliveTimeMs?: number;
  /** How long a keepalive PING may wait for its ACK before the connection is closed (etcd --grpc-keepalive-timeout, 20 s). */
  keepaliveTimeoutMs?: number;
  /**
   * Keepalive enforcement: the least time between two client PINGs (etcd
   * --grpc-keepalive-min-time, 5 s); PINGs that come sooner are strikes,
   * and the third strike closes the connection (GOAWAY ENHANCE_YOUR_CALM
   * "too_many_pings"). See limits.ts.
   */
  keepaliveMinTimeMs?: number;
  /**
   * Whether clients may ping that often with no stream open (grpc-go's
   * PermitWithoutStream; etcd: false). Both default to etcd's policy, unless
   * keepaliveTimeMs is shorter: then clients may ping as often as we do.
   */
  keepalivePermitWithoutStream?: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS announced (etcd --max-concurrent-streams, 2^32-1); a connection holds at most 10 000 whatever it says. */
  maxConcurrentStreams?: number;
  /** How long a connection may take to send the preface and its first SETTINGS (120 s, grpc-go's ConnectionTimeout); 0: no limit. */
  handshakeTimeoutMs?: number;
  /** How long a frame or header block may stay unfinished (30 s); 0: no limit. */
  incompleteFrameTimeoutMs?: number;
  /** A connection without streams this long gets GOAWAY NO_ERROR and is closed (5 min, grpc-go's MaxConnectionIdle); 0: never. */
  idleTimeoutMs?: number;
  /** Memory all connections of this server may hold together (512 MiB; memory-budget.ts). */
  memoryBytesMax?: number;
  /** Makes the metrics observer of each method as it is registered (see MethodObserver). */
  observe?: (path: string, kind: CallKind) => MethodObserver | undefined;
}


/**
 * A gRPC server on our own HTTP/2 framing (connection.ts, stream.ts) taking
 * what grpc-js's Server takes: addService(definition, implementation) with
 * the generated definitions and handlers written for grpc-js (call.ts has
 * the call objects). It never listens itself: the client listener hands it
 * each connection that starts with the HTTP/2 preface (handleConnection),
 * over TCP today, and the same way over a TLS socket that negotiated "h2".
 *
 * Status texts for requests no handler takes are grpc-go's (etcd's server),
 * which etcdctl prints: "unknown service X", "unknown method M for service
 * X", and "method M not implemented" for a method a service leaves out.
 */
export class GrpcServer implements RequestHandler {
  private readonly methods = new Map<string, MethodEntry>();
  private readonly services = new Set<string>();
  private readonly connections = new Set<Http2Connection>();
  private readonly connectionOptions: ConnectionOptions;
  private readonly maxSendMessageBytes: number;
  private readonly observe: GrpcServerOptions['observe'];
  private shuttingDown = false;
  private onLastConnectionClosed: (() => void) | undefined;
  /** The budget every connection of this server shares (memory-budget.ts); a server per listener kind, a budget each. */
  readonly memoryBudget: MemoryBudget;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepIntervalMs: number;

  constructor(options: GrpcServerOptions = {}) {
    const maxReceive = options.maxReceiveMessageBytes ?? maxReceiveMessageBytesDefault;
    this.maxSendMessageBytes = options.maxSendMessageBytes ?? windowBytesMax;
    this.observe = options.observe;
    const maxConcurrentStreams = options.maxConcurrentStreams ?? maxConcurrentStreamsDefault;
    if (!Number.isInteger(maxConcurrentStreams) || maxConcurrentStreams < 0 || maxConcurrentStreams > maxConcurrentStreamsDefault) {
      throw new RangeError(`maxConcurrentStreams must be an integer from 0 to ${maxConcurrentStreamsDefault}, not ${maxConcurrentStreams}`);
    }
    this.memoryBudget = new MemoryBudget(options.memoryBytesMax ?? serverMemoryBytesMax);
    const keepaliveTimeMs = options.keepaliveTimeMs ?? keepaliveTimeMsDefault;
    // Unless told otherwise, we never hold clients to fewer PINGs than we send them: a server that
    // pings every few seconds itself (the peer listener) lets its clients do the same, with or
    // without streams, half the period allowed for timer slack. With etcd's 2 h this is etcd's policy.
    const ownPingMs = keepaliveTimeMs > 0 ? keepaliveTimeMs : Infinity;
    this.connectionOptions = {
      maxReceiveMessageBytes: maxReceive,
      bufferedBytesMax: options.connectionBufferedBytesMax ?? connectionBufferedBytesMax,
      keepaliveTimeMs,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? keepaliveTimeoutMsDefault,
      keepaliveMinTimeMs: options.keepaliveMinTimeMs ?? Math.min(keepaliveMinTimeMsDefault, ownPingMs / 2),
      keepalivePermitWithoutStream: options.keepalivePermitWithoutStream ?? ownPingMs < keepaliveWithoutStreamMinTimeMs,
      maxConcurrentStreams,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? handshakeTimeoutMsDefault,
      incompleteFrameTimeoutMs: options.incompleteFrameTimeoutMs ?? incompleteFrameTimeoutMsDefault,
      idleTimeoutMs: options.idleTimeoutMs ?? idleTimeoutMsDefault,
      budget: this.memoryBudget,
      // The largest request fits in one window, so it never waits for a WINDOW_UPDATE.
      streamWindowBytes: Math.min(windowBytesMax, Math.max(streamWindowBytesDefault, maxReceive + messagePrefixBytes)),
    };
    // A timeout is checked at a quarter of its length at least, so it fires within 25% of it.
    const timeouts = [this.connectionOptions.handshakeTimeoutMs, this.connectionOptions.incompleteFrameTimeoutMs, this.connectionOptions.idleTimeoutMs];
    this.sweepIntervalMs = Math.max(10, Math.min(sweepIntervalMsMax, ...timeouts.filter((t) => t > 0).map((t) => t / 4)));
  }

  addService(service: ServiceDefinition, implementation: ServiceImplementation): void {
    const names = Object.keys(service);
    if (names.length === 0) throw new Error('Cannot add an empty service to a server');
    for (const name of names) {
      const definition = service[name];
      if (this.methods.has(definition.path)) throw new Error(`Method handler for ${definition.path} already provided.`);
      const handler = implementation[name] ?? (definition.originalName !== undefined ? implementation[definition.originalName] : undefined);
      const kind = kindOf(definition);
      this.methods.set(definition.path, {
        path: definition.path,
        kind,
        deserialize: definition.requestDeserialize,
        serialize: definition.responseSerialize as (value: unknown) => Buffer,
        handler: typeof handler === 'function' ? (handler as MethodEntry['handler']).bind(implementation) : notImplemented(definition.path, kind),
        maxSendMessageBytes: this.maxSendMessageBytes,
        observer: this.observe?.(definition.path, kind),
      });
      this.services.add(serviceOf(definition.path));
    }
  }

  /**
   * Serves HTTP/2 on a connected socket (bytes already read may have been
   * put back with unshift). Returns the connection, for tests.
   */
  handleConnection(socket: Socket): Http2Connection {
    const connection = new Http2Connection(socket, this, this.connectionOptions);
    this.connections.add(connection);
    if (this.shuttingDown) connection.goAway();
    this.sweepTimer ??= setInterval(() => this.sweep(), this.sweepIntervalMs).unref();
    return connection;
  }

  /** One timer for all connections' time limits (connection.ts tick()), running while there are connections. */
  private sweep(): void {
    const now = performance.now();
    for (const connection of this.connections) connection.tick(now);
  }

  /** The method registered at `path`, for the HTTP/JSON gateway, which calls the same handlers. */
  lookup(path: string): MethodEntry | undefined {
    return this.methods.get(path);
  }

  /** The largest request message accepted, which the gateway applies to the requests it encodes. */
  get maxReceiveMessageBytes(): number {
    return this.connectionOptions.maxReceiveMessageBytes;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful shutdown: every connection gets GOAWAY (clients retry new calls
   * elsewhere), streaming calls end with UNAVAILABLE, unary calls in flight
   * finish; whatever is left after graceMs is closed.
   */
  async shutdown(graceMs = shutdownGraceMsDefault): Promise<void> {
    this.shuttingDown = true;
    for (const connection of this.connections) {
      connection.goAway();
      for (const stream of [...connection.streams.values()]) {
        if (stream.listener instanceof ServerCall) stream.listener.endIfStreaming('etcdserver: server stopped');
      }
    }
    if (this.connections.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.onLastConnectionClosed = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Closes every connection now; calls in flight are cancelled. */
  forceShutdown(): void {
    this.shuttingDown = true;
    for (const connection of this.connections) connection.destroy();
    for (const connection of this.connections) connection.socket.destroy();
  }

  onConnectionClosed(connection: Http2Connection): void {
    this.connections.delete(connection);
    if (this.connections.size > 0) return;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.onLastConnectionClosed?.();
  }

  onRequest(stream: ServerStream, fields: HeaderField[], listBytes: number, connection: Http2Connection): void {
    if (listBytes > headerListBytesMax) {
      // grpc-go's answer to a header list over its limit.
      stream.reset(ErrorCode.FrameSizeError);
      return;
    }
    const request = parseRequest(fields);
    // Malformed (§8.1.1), or a content-length that END_STREAM on the HEADERS already contradicts.
    if (request === undefined || (stream.remoteClosed && request.contentLength !== undefined && request.contentLength !== 0)) {
      stream.reset(ErrorCode.ProtocolError);
      return;
    }
    stream.contentLength = request.contentLength;
    const method = this.methods.get(request.path);
    if (method === undefined) {
      const [code, message] = this.unknownMethod(request.path);
      stream.sendTrailers(trailersBlock(code, message, [], true));
      return;
    }
    stream.requestEncoding = request.encoding;
    const call = new ServerCall(stream, method, fields, connection, request.authority, request.timeoutMs);
    stream.listener = call;
    call.start();
  }

  /** grpc-go's status for a path no handler takes (server.go handleStream). */
  private unknownMethod(path: string): [Status, string] {
    const name = path.startsWith('/') ? path.slice(1) : path;
    const slash = name.lastIndexOf('/');
    if (slash === -1) return [Status.ResourceExhausted, `malformed method name: ${JSON.stringify(path)}`];
    const service = name.slice(0, slash);
    if (!this.services.has(service)) return [Status.Unimplemented, `unknown service ${service}`];
    return [Status.Unimplemented, `unknown method ${name.slice(slash + 1)} for service ${service}`];
  }
}

function kindOf(definition: MethodDefinition): CallKind {
  if (definition.requestStream) return definition.responseStream ? 'bidi' : 'clientStream';
  return definition.responseStream ? 'serverStream' : 'unary';
}

function serviceOf(path: string): string {
  const name = path.startsWith('/') ? path.slice(1) : path;
  return name.slice(0, name.lastIndexOf('/'));
}

/** The handler of a method the implementation leaves out: grpc-go's generated Unimplemented*Server. */
function notImplemented(path: string, kind: CallKind): MethodEntry['handler'] {
  const status = { code: Status.Unimplemented, details: `method ${path.slice(path.lastIndexOf('/') + 1)} not implemented` };
  return (call, callback) => {
    if (kind === 'unary' || kind === 'clientStream') callback(status);
    else call.destroy(status);
  };
}

interface ParsedRequest {
  path: string;
  authority: string;
  timeoutMs: number | undefined;
  encoding: string | undefined;
  contentLength: number | undefined;
}

/**
 * The request header list, checked as RFC 9113 §8.2-8.3 requires (the
 * octets of names and values were checked by the HPACK decoder, see
 * connection.ts; here: lower-case names, pseudo-headers first, once each, none unknown, no
 * connection-specific fields, a content-length that is a number) plus what
 * gRPC needs (an application/grpc content-type, a valid grpc-timeout). undefined means malformed: grpc-go answers those with
 * RST_STREAM PROTOCOL_ERROR, and so do we. The authority is taken as it
 * comes: etcdctl sends "http://host:port" for some calls, which Go accepts.
 */
export function parseRequest(fields: readonly HeaderField[]): ParsedRequest | undefined {
  const head = readFields(fields);
  if (head === undefined) return undefined;
  const { pseudo, contentType, timeout, encoding, contentLength } = head;
  const path = pseudo.get(':path');
  if (!pseudo.has(':method') || !pseudo.has(':scheme') || path === undefined || path === '') return undefined;
  if (contentType === undefined || !grpcContentType(contentType)) return undefined;
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    timeoutMs = parseTimeoutMs(timeout);
    if (timeoutMs === undefined) return undefined;
  }
  let length: number | undefined;
  if (contentLength !== undefined) {
    if (!/^[0-9]{1,15}$/.test(contentLength)) return undefined;
    length = Number(contentLength);
  }
  return { path, authority: pseudo.get(':authority') ?? '', timeoutMs, encoding, contentLength: length };
}

const requestPseudoHeaders = new Set([':method', ':scheme', ':path', ':authority']);

/** One pass over the fields: the pseudo-headers and the few fields gRPC reads; undefined if the list is malformed. */
function readFields(fields: readonly HeaderField[]): {
  pseudo: Map<string, string>; contentType?: string; timeout?: string; encoding?: string; contentLength?: string;
} | undefined {
  const pseudo = new Map<string, string>();
  let contentType: string | undefined;
  let timeout: string | undefined;
  let encoding: string | undefined;
  let contentLength: string | undefined;
  let regularSeen = false;
  for (const { name, value } of fields) {
    if (name.charCodeAt(0) === 58) {
      if (regularSeen || !requestPseudoHeaders.has(name) || pseudo.has(name)) return undefined;
      pseudo.set(name, value);
      continue;
    }
    regularSeen = true;
    switch (name) {
      case 'content-length':
        if (contentLength !== undefined && contentLength !== value) return undefined;
        contentLength = value;
        break;
      case 'content-type':
        contentType = value;
        break;
      case 'grpc-timeout':
        timeout = value;
        break;
      case 'grpc-encoding':
        encoding = value;
        break;
      case 'te':
        if (value !== 'trailers') return undefined;
        break;
      case 'connection':
      case 'keep-alive':
      case 'proxy-connection':
      case 'transfer-encoding':
      case 'upgrade':
        return undefined;
    }
  }
  return { pseudo, contentType, timeout, encoding, contentLength };
}

/** "application/grpc", optionally followed by "+subtype" or ";parameters" (grpc-go's ContentSubtype). */
function grpcContentType(value: string): boolean {
  if (!value.startsWith('application/grpc')) return false;
  if (value.length === 16) return true;
  const next = value.charCodeAt(16);
  return next === 43 /* + */ || next === 59 /* ; */;
}
