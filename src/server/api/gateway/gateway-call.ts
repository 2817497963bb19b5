import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CallMetadata } from '../grpc-server/metadata.js';
import { Status, serverErrorToStatus, socketAuthContext, type AuthContext, type MethodEntry } from '../grpc-server/call.js';
import type { MethodSchema } from './schema.js';
import { marshalMessage } from './jsonpb.js';
import { sendError, streamErrorChunk, type GatewayStatus } from './http-status.js';

/** Headers grpc-gateway forwards as "grpcgateway-<name>" metadata (runtime.isPermanentHTTPHeader). */
const permanentHeaders = new Set([
  'Accept', 'Accept-Charset', 'Accept-Language', 'Accept-Ranges', 'Authorization', 'Cache-Control', 'Content-Type', 'Cookie',
  'Date', 'Expect', 'From', 'Host', 'If-Match', 'If-Modified-Since', 'If-None-Match', 'If-Schedule-Tag-Match',
  'If-Unmodified-Since', 'Max-Forwards', 'Origin', 'Pragma', 'Referer', 'User-Agent', 'Via', 'Warning',
]);

/** Go's textproto.CanonicalMIMEHeaderKey for the header names Node gives in lower case. */
function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/**
 * The metadata a gateway request carries into the call, as grpc-gateway's
 * AnnotateContext builds it: Authorization as "authorization" (where etcd
 * takes the token from), Grpc-Metadata-<Key> headers as <key>, the standard
 * headers as grpcgateway-<Name>, and the forwarding headers.
 */
export function gatewayMetadata(req: IncomingMessage): CallMetadata {
  const md = new CallMetadata();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = canonical(raw[i]!.toLowerCase());
    const value = raw[i + 1]!;
    if (name === 'Authorization') md.add('authorization', value);
    if (permanentHeaders.has(name)) md.add(`grpcgateway-${name}`, value);
    else if (name.startsWith('Grpc-Metadata-')) {
      const key = name.slice('Grpc-Metadata-'.length);
      md.add(key, key.endsWith('-Bin') ? Buffer.from(value, 'base64') : value);
    }
  }
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  if (typeof host === 'string' && host !== '') md.add('x-forwarded-host', host);
  const remote = req.socket.remoteAddress;
  if (remote !== undefined) {
    const forwarded = req.headers['x-forwarded-for'];
    md.add('x-forwarded-for', typeof forwarded === 'string' && forwarded !== '' ? `${forwarded}, ${remote}` : remote);
  }
  return md;
}

/**
 * One gateway request, shaped like the gRPC server's call objects (call.ts)
 * so that the very handlers registered for gRPC serve it: request,
 * metadata, peer and TLS identity, cancellation and deadline; for streams,
 * write() with back-pressure ('drain'), end(), destroy(error), the 'data'
 * and 'end' of requests, pause() and resume(). What the handler writes
 * becomes grpc-gateway's JSON: a body for a unary call, one
 * {"result": ...} line per message for a stream, which flows only as fast
 * as the client reads it.
 */
export class GatewayCall extends EventEmitter {
  cancelled = false;
  request: unknown = undefined;
  readonly metadata: CallMetadata;
  /** Status sent or the client gone: nothing the handler does counts any more. */
  private done = false;
  private messagesWritten = 0;
  private paused = false;
  /** The handler ran: only such a call counts in the metrics (etcd's gateway never calls gRPC for a body it cannot read). */
  private invoked = false;
  private readonly startedMs: number;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly deadline: number;
  /** Set by the request reader while the handler may take requests. */
  onPauseChange: ((paused: boolean) => void) | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly method: MethodSchema,
    private readonly entry: MethodEntry,
    timeoutMs: number | undefined,
  ) {
    super();
    this.metadata = gatewayMetadata(req);
    this.startedMs = entry.observer === undefined ? 0 : performance.now();
    this.deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    if (timeoutMs !== undefined) {
      // What etcd's gateway sees when its own client call runs out of time.
      this.deadlineTimer = setTimeout(() => this.abort({ code: Status.DeadlineExceeded, message: 'context deadline exceeded' }), timeoutMs);
    }
    res.on('close', () => {
      if (!res.writableFinished) this.clientGone();
    });
    res.on('drain', () => {
      if (!this.done) this.emit('drain');
    });
    if (entry.kind !== 'unary') this.on('error', (err: unknown) => this.fail(statusOf(err)));
  }

  /** Runs the handler: unary calls answer through the callback, streams through write/end. */
  invoke(): void {
    this.invoked = true;
    this.entry.observer?.started();
    try {
      this.entry.handler(this as never, (error, value) => this.respond(error, value));
    } catch (err) {
      this.fail(statusOf(err));
    }
  }

  received(bytes: number): void {
    this.entry.observer?.received(bytes);
  }

  get isDone(): boolean {
    return this.done;
  }

  getPeer(): string {
    const { remoteAddress, remotePort } = this.req.socket;
    return remoteAddress === undefined ? 'unknown' : `${remoteAddress}:${remotePort}`;
  }

  getAuthContext(): AuthContext {
    return socketAuthContext(this.req.socket);
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPath(): string {
    return this.method.path;
  }

  getHost(): string {
    return this.req.headers.host ?? '';
  }

  sendMetadata(): void {
    // Header metadata has nowhere to go: grpc-gateway's headers are fixed.
  }

  // ---- the unary answer ----

  private respond(error: unknown, value: unknown): void {
    if (this.done) return;
    if (error !== null && error !== undefined) {
      const status = statusOf(error);
      this.finish(status.code);
      sendError(this.res, status, true);
      return;
    }
    const body = marshalMessage(this.method.output, value as Record<string, unknown>);
    this.countSent(value);
    this.finish(Status.Ok);
    this.res.writeHead(200, {
      'Content-Type': 'application/json',
      'Grpc-Metadata-Content-Type': 'application/grpc',
      'Content-Length': Buffer.byteLength(body),
    });
    this.res.end(body);
  }

  // ---- the stream side (Writable) ----

  write(value: unknown, encoding?: unknown, callback?: () => void): boolean {
    const sent = typeof encoding === 'function' ? (encoding as () => void) : callback;
    if (this.done) {
      if (sent !== undefined) process.nextTick(sent);
      return true;
    }
    const chunk = `{"result":${marshalMessage(this.method.output, value as Record<string, unknown>)}}\n`;
    this.countSent(value);
    if (this.messagesWritten++ === 0) {
      this.res.writeHead(200, { 'Content-Type': 'application/json', 'Grpc-Metadata-Content-Type': 'application/grpc' });
    }
    return this.res.write(chunk, sent);
  }

  end(): this {
    if (this.done) return this;
    this.finish(Status.Ok);
    if (!this.res.headersSent) this.res.writeHead(200, { 'Content-Type': 'application/json' });
    this.res.end();
    return this;
  }

  destroy(error?: unknown): this {
    if (this.done) return this;
    this.fail(error !== undefined && error !== null ? statusOf(error) : { code: Status.Cancelled, message: 'context canceled' });
    return this;
  }

  /** Server shutdown ends streams at once, as the gRPC server does. */
  endIfStreaming(message: string): void {
    if (this.entry.kind !== 'unary') this.abort({ code: Status.Unavailable, message });
  }

  // ---- the stream side (Readable) ----

  pause(): this {
    this.paused = true;
    this.onPauseChange?.(true);
    return this;
  }

  resume(): this {
    this.paused = false;
    this.onPauseChange?.(false);
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  // ---------------------------------------------------------------------------

  /**
   * Ends the call with an error: before any message, as a whole error
   * response (grpc-gateway's HTTPError); after, as the error chunk that
   * closes the stream.
   */
  private fail(status: GatewayStatus): void {
    if (this.done) return;
    this.finish(status.code);
    if (this.messagesWritten === 0) sendError(this.res, status, false);
    else this.res.end(streamErrorChunk(status));
  }

  /** The deadline or the server ends the call: the handler is told it was cancelled. */
  private abort(status: GatewayStatus): void {
    if (this.done) return;
    this.fail(status);
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }

  private clientGone(): void {
    if (this.done) return;
    this.finish(Status.Cancelled);
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }

  private finish(code: number): void {
    this.done = true;
    clearTimeout(this.deadlineTimer);
    if (this.invoked) this.entry.observer?.handled(code, this.startedMs);
    this.emit('finished');
    process.nextTick(() => this.emit('close'));
  }

  /** etcd counts the protobuf bytes of what it sends (its gateway's calls go through its codec too). */
  private countSent(value: unknown): void {
    const observer = this.entry.observer;
    if (observer !== undefined) observer.sent(this.entry.serialize(value).length);
  }
}

function statusOf(err: unknown): GatewayStatus {
  const s = serverErrorToStatus(err);
  return { code: s.code, message: s.details };
}
