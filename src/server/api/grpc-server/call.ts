import { EventEmitter } from 'node:events';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { HeaderField } from '../hpack.js';
import {
  CallMetadata, headersBlockWith, metadataFields, responseHeadersBlock, trailersBlock, type OutgoingMetadata,
} from './metadata.js';
import type { ServerStream, StreamListener } from './stream.js';
import { ErrorCode } from './frames.js';
import { callIteratorHighWaterMessages } from './limits.js';

/** gRPC status codes (the numbers of @grpc/grpc-js's `status`, which handlers use). */
export const enum Status {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  DeadlineExceeded = 4,
  ResourceExhausted = 8,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
}


/** What deserialize() returns for a message that does not decode (the call is already ending). */
const undecodable = Symbol('undecodable');

export type CallKind = 'unary' | 'clientStream' | 'serverStream' | 'bidi';

/** A registered method: what grpc-js's Server.addService keeps of a definition and its handler. */
export interface MethodEntry {
  path: string;
  kind: CallKind;
  deserialize: (bytes: Buffer) => unknown;
  serialize: (value: unknown) => Buffer;
  /** The implementation as written for grpc-js: (call, callback) for unary and client streaming, (call) otherwise. */
  handler: (call: ServerCall, callback: UnaryCallback) => void;
  maxSendMessageBytes: number;
  /** Told about every call of this method, for metrics; undefined when nobody listens. */
  observer: MethodObserver | undefined;
}

/**
 * What a metrics layer learns of the calls of one method (go-grpc-prometheus's
 * server reporter): one object per method, made when the method is
 * registered, so that a call costs a few counter increments and allocates
 * nothing. Message sizes are the protobuf bytes (etcd's codec counts those).
 */
export interface MethodObserver {
  started(): void;
  received(bytes: number): void;
  sent(bytes: number): void;
  /** The call ended with status `code`; it started at `startedMs` (performance.now()). */
  handled(code: number, startedMs: number): void;
}

/**
 * grpc-js's AuthContext of a connection: TLS or not, and the client
 * certificate when the handshake verified one (the gateway's calls use this
 * too, so a certificate names the same user over HTTP as over gRPC).
 */
export function socketAuthContext(socket: unknown): AuthContext {
  if (!(socket instanceof TLSSocket)) return {};
  // Only a certificate the handshake verified: with requestCert but without rejectUnauthorized
  // an unverified one would show up here too.
  if (!socket.authorized) return { transportSecurityType: 'ssl' };
  const certificate = socket.getPeerCertificate();
  const present = certificate !== null && Object.keys(certificate).length > 0;
  return present ? { transportSecurityType: 'ssl', sslPeerCertificate: certificate } : { transportSecurityType: 'ssl' };
}

/** grpc-js's sendUnaryData: (error, value, trailer?, flags?). */
export type UnaryCallback = (error: unknown, value?: unknown, trailer?: OutgoingMetadata | null, flags?: number) => void;

/** What a call knows of its connection. */
export interface CallPeer {
  readonly socket: { remoteAddress?: string; remotePort?: number };
}

/**
 * grpc-js's AuthContext (call.getAuthContext()): whether the connection is
 * TLS and, when the client presented a certificate that the handshake
 * verified, that certificate (its subject.CN is the user name under
 * --client-cert-auth, as in etcd).
 */
export interface AuthContext {
  transportSecurityType?: 'ssl';
  sslPeerCertificate?: PeerCertificate;
}

export interface StatusObject {
  code: number;
  details: string;
  metadata: OutgoingMetadata | null;
}

/**
 * grpc-js's serverErrorToStatus: an error with an integer `code` keeps it
 * (and its `details`, if a string); anything else is UNKNOWN with its
 * message. Trailing metadata comes from the error or the override.
 */
export function serverErrorToStatus(error: unknown, overrideTrailers?: OutgoingMetadata | null): StatusObject {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as {
    code?: unknown; details?: unknown; message?: unknown; metadata?: OutgoingMetadata | null;
  };
  const status: StatusObject = {
    code: Status.Unknown,
    details: 'message' in e ? String(e.message) : 'Unknown Error',
    metadata: overrideTrailers ?? e.metadata ?? null,
  };
  if (typeof e.code === 'number' && Number.isInteger(e.code)) {
    status.code = e.code;
    if (typeof e.details === 'string') status.details = e.details;
  }
  return status;
}

/**
 * One gRPC call, shaped like grpc-js's server call objects so that handlers
 * written for grpc-js run unchanged: ServerUnaryCall (request, metadata,
 * cancelled, getPeer, getDeadline, getPath, getHost, sendMetadata,
 * 'cancelled'), plus, for streaming calls, the Writable side (write()
 * returning false under back-pressure and 'drain' after, end(trailers),
 * destroy(error), emit('error', status)) and the Readable side ('data',
 * 'end', pause(), resume(), isPaused()). One class serves the four kinds:
 * handlers only use what their kind has.
 *
 * Differences from grpc-js, all deliberate:
 * - destroy(error) sends that error's status (grpc-js leaves the client
 *   waiting); destroy() without one resets the stream (CANCELLED).
 * - write() after the call ended drops the message and returns true, so a
 *   writer waiting for 'drain' is never stranded.
 * - A deadline (grpc-timeout) that passes ends the call with
 *   DEADLINE_EXCEEDED and emits 'cancelled', as grpc-go cancels the
 *   handler's context.
 */
export class ServerCall extends EventEmitter implements StreamListener {
  cancelled = false;
  request: unknown = undefined;
  /** Status sent or queued, or the call cancelled: nothing the handler does counts any more. */
  private done = false;
  private requestMessage: Buffer | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly deadline: number;
  private metadataCache: CallMetadata | undefined;
  private userPaused = false;
  private readonly startedMs: number;

  constructor(
    private readonly stream: ServerStream,
    private readonly method: MethodEntry,
    private readonly fields: HeaderField[],
    private readonly peer: CallPeer,
    private readonly authority: string,
    timeoutMs: number | undefined,
  ) {
    super();
    this.startedMs = method.observer === undefined ? 0 : performance.now();
    if (timeoutMs === undefined) {
      this.deadline = Infinity;
    } else {
      this.deadline = Date.now() + timeoutMs;
      this.deadlineTimer = setTimeout(() => this.abortWithStatus(Status.DeadlineExceeded, 'Deadline exceeded'), timeoutMs);
    }
    // grpc-js's streaming calls end with the status of an 'error' their handler emits.
    if (method.kind !== 'unary') this.on('error', (err: unknown) => this.endWithError(err));
  }

  /** Runs the handler now for calls that stream requests; unary and server-streaming calls wait for their request. */
  start(): void {
    this.method.observer?.started();
    const kind = this.method.kind;
    if (kind === 'clientStream' || kind === 'bidi') {
      this.invoke();
      // Messages wait until someone listens, as with a Readable that is not flowing yet.
      if (this.listenerCount('data') === 0 && !this.done) {
        this.stream.pauseReading();
        this.on('newListener', (event: string) => {
          if (event === 'data' && !this.userPaused) this.stream.resumeReading();
        });
      }
    }
    // END_STREAM on the request HEADERS: the half-close goes through the stream, which orders it after any message.
    if (this.stream.remoteClosed && !this.done) this.stream.endOfRequest();
  }

  get metadata(): CallMetadata {
    return (this.metadataCache ??= new CallMetadata(this.fields));
  }

  getPeer(): string {
    const { remoteAddress, remotePort } = this.peer.socket;
    return remoteAddress === undefined ? 'unknown' : `${remoteAddress}:${remotePort}`;
  }

  getAuthContext(): AuthContext {
    return socketAuthContext(this.peer.socket);
  }

  /** The deadline in ms since the epoch, or Infinity (grpc-js's Deadline). */
  getDeadline(): number {
    return this.deadline;
  }

  getPath(): string {
    return this.method.path;
  }

  getHost(): string {
    return this.authority;
  }

  sendMetadata(metadata: OutgoingMetadata): void {
    if (this.done || this.stream.headersSent) return;
    this.stream.sendHeaders(headersBlockWith(metadataFields(metadata)));
  }

  // -------------------------------------------------------------------------
  // Writable side.

  write(value: unknown, encoding?: unknown, callback?: () => void): boolean {
    const sent = typeof encoding === 'function' ? (encoding as () => void) : callback;
    if (this.done) {
      if (sent !== undefined) process.nextTick(sent);
      return true;
    }
    const bytes = this.serialize(value);
    if (bytes === undefined) return true;
    this.method.observer?.sent(bytes.length);
    if (!this.stream.headersSent) this.stream.sendHeaders(responseHeadersBlock);
    return this.stream.sendMessage(bytes, sent);
  }

  /** Ends the call with OK after the messages written so far (grpc-js: end(trailingMetadata?)). */
  end(metadata?: OutgoingMetadata): this {
    this.sendStatus(Status.Ok, '', metadata ?? null);
    return this;
  }

  /**
   * Server shutdown: a streaming call (watch, keep-alive, observe) never ends
   * by itself, so it ends now with UNAVAILABLE and its client moves to
   * another member; a unary call is left to finish.
   */
  endIfStreaming(details: string): void {
    if (this.method.kind !== 'unary') this.abortWithStatus(Status.Unavailable, details);
  }

  destroy(error?: unknown): this {
    if (this.done) return this;
    if (error !== undefined && error !== null) {
      this.endWithError(error);
      return this;
    }
    this.finish(Status.Cancelled);
    this.stream.reset(ErrorCode.Cancel);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  // -------------------------------------------------------------------------
  // Readable side.

  pause(): this {
    this.userPaused = true;
    this.stream.pauseReading();
    return this;
  }

  resume(): this {
    this.userPaused = false;
    this.stream.resumeReading();
    return this;
  }

  isPaused(): boolean {
    return this.stream.isReadPaused;
  }

  /**
   * The request messages of a client- or bidi-streaming call, as a grpc-js
   * call's Readable gives them to `for await`: reading pauses while
   * callIteratorHighWaterMessages messages wait unread, the iterator ends at the
   * client's half-close and throws if the call is cancelled.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    const waiting: unknown[] = [];
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onData = (request: unknown): void => {
      waiting.push(request);
      if (waiting.length >= callIteratorHighWaterMessages) this.pause();
      notify();
    };
    const onEnd = (): void => {
      ended = true;
      notify();
    };
    const onCancel = (): void => {
      failure = new Error('the call was cancelled');
      notify();
    };
    const detach = (): void => {
      this.off('data', onData);
      this.off('end', onEnd);
      this.off('cancelled', onCancel);
    };
    this.on('data', onData);
    this.on('end', onEnd);
    this.on('cancelled', onCancel);
    return {
      next: async (): Promise<IteratorResult<unknown>> => {
        for (;;) {
          if (waiting.length > 0) {
            const value = waiting.shift();
            if (waiting.length === 0 && this.userPaused) this.resume();
            return { value, done: false };
          }
          if (failure !== undefined) {
            detach();
            throw failure;
          }
          if (ended || this.done) {
            detach();
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<unknown>> => {
        detach();
        return { value: undefined, done: true };
      },
    };
  }

  // -------------------------------------------------------------------------
  // From the stream.

  onMessage(message: Buffer): void {
    if (this.done) return;
    const kind = this.method.kind;
    if (kind === 'unary' || kind === 'serverStream') {
      if (this.requestMessage !== undefined) {
        this.abortWithStatus(Status.Unimplemented, `Received a second request message for server streaming method ${this.method.path}`);
        return;
      }
      if (!this.stream.hold(message.length)) return;
      this.requestMessage = message;
      return;
    }
    const request = this.deserialize(message);
    if (request === undecodable) return;
    this.method.observer?.received(message.length);
    this.guard(() => this.emit('data', request));
  }

  onHalfClose(): void {
    if (this.done) return;
    const kind = this.method.kind;
    if (kind === 'clientStream' || kind === 'bidi') {
      this.guard(() => this.emit('end'));
      return;
    }
    const message = this.requestMessage;
    if (message === undefined) {
      this.abortWithStatus(Status.Unimplemented, `Received no request message for server streaming method ${this.method.path}`);
      return;
    }
    this.requestMessage = undefined;
    this.stream.release(message.length);
    const request = this.deserialize(message);
    if (request === undecodable) return;
    this.method.observer?.received(message.length);
    this.request = request;
    this.invoke();
  }

  onCancel(): void {
    if (this.done) return;
    this.finish(Status.Cancelled);
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
    this.emit('close');
  }

  onWritable(): void {
    if (!this.done) this.emit('drain');
  }

  onMessageError(code: number, message: string): void {
    this.abortWithStatus(code, message);
  }

  // -------------------------------------------------------------------------

  private invoke(): void {
    const callback: UnaryCallback = (error, value, trailer) => this.respond(error, value, trailer);
    this.guard(() => this.method.handler(this, callback));
  }

  /**
   * Runs handler code. What it throws ends the call as a passed error would
   * (grpc-js does so for a throwing handler), never the connection.
   */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.endWithError(err);
    }
  }

  /** The unary and client-streaming callback. */
  private respond(error: unknown, value: unknown, trailer: OutgoingMetadata | null | undefined): void {
    if (this.done) return;
    if (error !== null && error !== undefined) {
      const status = serverErrorToStatus(error, trailer);
      this.sendStatus(status.code, status.details, status.metadata);
      return;
    }
    const bytes = this.serialize(value);
    if (bytes === undefined) return;
    this.method.observer?.sent(bytes.length);
    this.finish(Status.Ok);
    const trailers = trailer === null || trailer === undefined ? trailersBlock(Status.Ok, '', [], false) : trailersBlock(Status.Ok, '', metadataFields(trailer), false);
    this.stream.sendUnary(responseHeadersBlock, bytes, trailers);
  }

  private endWithError(error: unknown): void {
    const status = serverErrorToStatus(error);
    this.sendStatus(status.code, status.details, status.metadata);
  }

  private sendStatus(code: number, details: string, metadata: OutgoingMetadata | null): void {
    if (this.done) return;
    this.finish(code);
    this.stream.sendTrailers(trailersBlock(code, details, metadataFields(metadata), !this.stream.headersSent));
    process.nextTick(() => this.emit('close'));
  }

  /** The transport or the deadline ends the call: the client gets the status, the handler 'cancelled'. */
  private abortWithStatus(code: number, details: string): void {
    if (this.done) return;
    this.sendStatus(code, details, null);
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }

  private finish(code: number): void {
    this.done = true;
    clearTimeout(this.deadlineTimer);
    this.method.observer?.handled(code, this.startedMs);
  }

  private serialize(value: unknown): Buffer | undefined {
    let bytes: Buffer;
    try {
      bytes = this.method.serialize(value);
    } catch (err) {
      this.abortWithStatus(Status.Internal, `grpc: error while marshaling: ${(err as Error).message}`);
      return undefined;
    }
    if (bytes.length > this.method.maxSendMessageBytes) {
      this.abortWithStatus(Status.ResourceExhausted, `grpc: trying to send message larger than max (${bytes.length} vs. ${this.method.maxSendMessageBytes})`);
      return undefined;
    }
    return bytes;
  }

  private deserialize(message: Buffer): unknown {
    try {
      return this.method.deserialize(message);
    } catch (err) {
      this.abortWithStatus(Status.Internal, `grpc: error unmarshalling request: ${(err as Error).message}`);
      return undecodable;
    }
  }
}
