import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Status, type MethodEntry } from '../grpc-server/call.js';
import type { GrpcServer, ServiceDefinition } from '../grpc-server/server.js';
import { GatewayCall } from './gateway-call.js';
import { GoJsonError, JsonStreamDecoder, type RawValue } from './go-json.js';
import { defaultMessage, unmarshalMessage } from './jsonpb.js';
import { routeOf } from './routes.js';
import type { MethodSchema } from './schema.js';
import { sendError, sendPlainError, type GatewayStatus } from './http-status.js';
import { gatewayBodyBytesMax, gatewayBytesHeldMax, gatewayCallsPerConnectionMax, parseGatewayTimeoutMs } from './limits.js';

/** Why a request body cannot become a request message: the status the caller gets. */
class BadRequest extends Error {
  constructor(readonly status: GatewayStatus) {
    super(status.message);
  }
}

/** Request bytes shared by every call (gatewayBytesHeldMax). */
interface ByteBudget {
  take(bytes: number): boolean;
  give(bytes: number): void;
}

export interface GatewayOptions {
  /** Request bytes held at once over all calls (default gatewayBytesHeldMax). */
  bytesHeldMax?: number;
}

/** What one connection has in flight: HTTP/1 answers in order, so a stream blocks everything behind it. */
interface ConnectionCalls {
  calls: number;
  streaming: boolean;
}

/**
 * The HTTP/JSON gateway etcd serves beside gRPC (grpc-gateway), at /v3/...:
 * each POST is decoded from JSON as etcd's gateway decodes it, encoded to
 * protobuf and checked against the gRPC size limit, then handed to the very
 * handler the gRPC server registered for that method (same validation,
 * auth, errors and metrics); the answer is encoded back to JSON.
 *
 * Bounds: a body is read up to gatewayBodyBytesMax; a request message to
 * the gRPC limit; a connection runs at most gatewayCallsPerConnectionMax
 * calls, and one stream (an HTTP/1 connection answers in order, so nothing
 * queued behind a stream would ever be answered). A stream's responses are
 * written only while the client reads them (see GatewayCall).
 */
export class Gateway {
  private readonly requestSerializers = new Map<string, (value: never) => Buffer>();
  private readonly connections = new WeakMap<Socket, ConnectionCalls>();
  private readonly calls = new Set<GatewayCall>();
  private readonly bodyBytesMax: number;
  private readonly bytesHeldMax: number;
  private held = 0;
  private readonly budget: ByteBudget = {
    take: (bytes) => {
      if (this.held + bytes > this.bytesHeldMax) return false;
      this.held += bytes;
      return true;
    },
    give: (bytes) => {
      this.held -= bytes;
    },
  };

  constructor(private readonly grpc: GrpcServer, definitions: ServiceDefinition[], options: GatewayOptions = {}) {
    for (const definition of definitions) {
      for (const method of Object.values(definition)) {
        const serialize = (method as { requestSerialize?: (value: never) => Buffer }).requestSerialize;
        if (serialize !== undefined) this.requestSerializers.set(method.path, serialize);
      }
    }
    this.bodyBytesMax = gatewayBodyBytesMax(grpc.maxReceiveMessageBytes);
    this.bytesHeldMax = options.bytesHeldMax ?? gatewayBytesHeldMax;
  }

  /** Request bytes held now (bodies being read, stream requests not yet decoded). */
  get bytesHeld(): number {
    return this.held;
  }

  /** Serves /v3/<rest> (etcd's /v3beta/ already rewritten to /v3/). */
  serve(req: IncomingMessage, res: ServerResponse, rest: string): void {
    const route = routeOf(rest);
    if (route === undefined) {
      sendPlainError(res, 404, 'Not Found');
      return;
    }
    if (req.method !== 'POST') {
      sendPlainError(res, 405, 'Method Not Allowed');
      return;
    }
    const entry = this.grpc.lookup(route.path);
    const timeout = parseGatewayTimeoutMs(req.headers['grpc-timeout']);
    if (entry === undefined || timeout === 'invalid') {
      const status = entry === undefined
        ? { code: Status.Unimplemented, message: `unknown service ${route.path.split('/')[1]}` }
        : { code: 3, message: `invalid grpc-timeout: ${String(req.headers['grpc-timeout'])}` };
      sendError(res, status, false);
      return;
    }
    const streaming = route.requestStream || route.responseStream;
    const held = this.connectionCalls(req.socket);
    if (held.streaming || held.calls >= gatewayCallsPerConnectionMax) {
      const why = held.streaming ? 'a stream is open on this connection' : `${held.calls} calls are in flight on this connection`;
      sendError(res, { code: Status.ResourceExhausted, message: `gateway: too many requests: ${why}` }, false);
      return;
    }
    const call = new GatewayCall(req, res, route, entry, timeout);
    this.track(held, call, streaming);
    if (route.requestStream) this.serveRequestStream(req, route, entry, call);
    else this.serveSingleRequest(req, res, route, entry, call);
  }

  /** Ends every open stream with UNAVAILABLE, as the gRPC server does on shutdown; unary calls finish. */
  shutdown(message: string): void {
    for (const call of [...this.calls]) call.endIfStreaming(message);
  }

  private connectionCalls(socket: Socket): ConnectionCalls {
    let held = this.connections.get(socket);
    if (held === undefined) {
      held = { calls: 0, streaming: false };
      this.connections.set(socket, held);
    }
    return held;
  }

  private track(held: ConnectionCalls, call: GatewayCall, streaming: boolean): void {
    held.calls++;
    if (streaming) held.streaming = true;
    this.calls.add(call);
    call.once('finished', () => {
      held.calls--;
      if (streaming) held.streaming = false;
      this.calls.delete(call);
    });
  }

  /** Unary and server-streaming calls: the whole body is one request (empty: the default message). */
  private serveSingleRequest(req: IncomingMessage, res: ServerResponse, route: MethodSchema, entry: MethodEntry, call: GatewayCall): void {
    readBody(req, this.bodyBytesMax, this.budget).then((read) => {
      try {
        if (call.isDone) return;
        if (read.body === undefined) {
          // The rest of the body is not read: the connection closes after the answer.
          res.setHeader('Connection', 'close');
          throw read.refused === 'busy' ? this.busy() : this.bodyTooLarge();
        }
        const decoder = new JsonStreamDecoder();
        decoder.push(read.body);
        const next = decodeOrReject(decoder, 3);
        if (next === 'more') throw new Error('a complete body cannot need more bytes');
        const message = next === undefined ? defaultMessage(route.input) : this.unmarshal(route, next, 3);
        const { request, bytes } = this.toRequest(route, entry, message);
        call.request = request;
        call.invoke();
        call.received(bytes);
      } finally {
        this.budget.give(read.held);
      }
    }).catch((err: unknown) => this.reject(call, err));
  }

  /**
   * Streaming requests: a sequence of JSON values in the body, each a
   * request. The first must decode (else the whole answer is an error, as
   * etcd's gateway gives); a later one that does not ends the requests,
   * which the handler sees as the client's half-close.
   */
  private serveRequestStream(req: IncomingMessage, route: MethodSchema, entry: MethodEntry, call: GatewayCall): void {
    const decoder = new JsonStreamDecoder();
    let ended = false;
    let started = false;
    let stopped = false;
    // Bytes of this body taken from the shared budget: what the decoder still buffers.
    let held = 0;
    const settle = (): void => {
      const kept = stopped ? 0 : decoder.buffered;
      if (held > kept) this.budget.give(held - kept);
      held = Math.min(held, kept);
    };
    const stop = (): void => {
      stopped = true;
      req.pause();
      settle();
      if (started && !call.isDone) call.emit('end');
    };
    call.once('finished', stop);
    const pump = (): void => {
      while (!stopped && !call.isDone && !(started && call.isPaused())) {
        let message: Record<string, unknown> | undefined;
        try {
          const next = decodeOrReject(decoder, 2, ended);
          if (next === 'more') {
            // A request still arriving may not grow past the body limit; the client's sending then just stops.
            if (decoder.buffered > this.bodyBytesMax) throw this.bodyTooLarge();
            return;
          }
          message = next === undefined ? undefined : this.unmarshal(route, next, 2);
        } catch (err) {
          if (!started) this.reject(call, err);
          stop();
          return;
        }
        if (message === undefined) {
          // The body ended: the handler still runs, with no requests (etcd's gateway then waits, as its stream does).
          if (!started) call.invoke();
          started = true;
          stop();
          return;
        }
        let request: { request: unknown; bytes: number };
        try {
          request = this.toRequest(route, entry, message);
        } catch (err) {
          if (!started) this.reject(call, err);
          else call.destroy(asStatusError(err));
          stop();
          return;
        }
        if (!started) call.invoke();
        started = true;
        call.received(request.bytes);
        call.emit('data', request.request);
      }
    };
    call.onPauseChange = (paused) => {
      if (paused) req.pause();
      else if (!stopped) {
        req.resume();
        pump();
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (stopped) return;
      if (!this.budget.take(chunk.length)) {
        if (!started) this.reject(call, this.busy());
        else call.destroy(asStatusError(this.busy()));
        stop();
        return;
      }
      held += chunk.length;
      decoder.push(chunk);
      pump();
      settle();
    });
    req.on('end', () => {
      ended = true;
      pump();
    });
  }

  private unmarshal(route: MethodSchema, value: RawValue, code: number): Record<string, unknown> {
    try {
      return unmarshalMessage(route.input, value);
    } catch (err) {
      if (err instanceof GoJsonError) throw new BadRequest({ code, message: err.message });
      throw err;
    }
  }

  /**
   * The message as the server would receive it over gRPC: encoded, held to
   * the gRPC size limit with grpc-go's error, and decoded by the method's
   * own decoder.
   */
  private toRequest(route: MethodSchema, entry: MethodEntry, message: Record<string, unknown>): { request: unknown; bytes: number } {
    const serialize = this.requestSerializers.get(route.path);
    if (serialize === undefined) throw new Error(`no request encoder for ${route.path}`);
    const bytes = serialize(message as never);
    const max = this.grpc.maxReceiveMessageBytes;
    if (bytes.length > max) {
      throw new BadRequest({ code: Status.ResourceExhausted, message: `grpc: received message larger than max (${bytes.length} vs. ${max})` });
    }
    try {
      return { request: entry.deserialize(bytes), bytes: bytes.length };
    } catch (err) {
      throw new BadRequest({ code: Status.Internal, message: `grpc: error unmarshalling request: ${(err as Error).message}` });
    }
  }

  private busy(): BadRequest {
    return new BadRequest({ code: Status.ResourceExhausted, message: `gateway: too many request bytes in flight (${this.bytesHeldMax} bytes max)` });
  }

  private bodyTooLarge(): BadRequest {
    return new BadRequest({ code: Status.ResourceExhausted, message: `gateway: request body larger than max (${this.bodyBytesMax} bytes)` });
  }

  /** Ends a call that never reached its handler. */
  private reject(call: GatewayCall, err: unknown): void {
    if (call.isDone) return;
    call.destroy(asStatusError(err));
  }
}

/** A BadRequest as the status error handlers use; anything else is a bug, reported as INTERNAL. */
function asStatusError(err: unknown): { code: number; details: string } {
  if (err instanceof BadRequest) return { code: err.status.code, details: err.status.message };
  return { code: Status.Internal, details: (err as Error).message };
}

/**
 * The next request value, undefined at the end of the body, 'more' when it
 * is still arriving; a body that is not JSON is refused with `code`
 * (INVALID_ARGUMENT for a single request, UNKNOWN for the first of a
 * stream, as etcd's gateway reports them).
 */
function decodeOrReject(decoder: JsonStreamDecoder, code: number, final = true): RawValue | undefined | 'more' {
  try {
    const next = decoder.next(final);
    if (next.kind === 'more') return 'more';
    return next.kind === 'eof' ? undefined : next.value;
  } catch (err) {
    if (err instanceof GoJsonError) throw new BadRequest({ code, message: err.message });
    throw err;
  }
}

/** A body read whole, or why not; `held` bytes were taken from the budget and must be given back. */
interface BodyRead {
  body?: Buffer;
  refused?: 'too-large' | 'busy';
  held: number;
}

/** The request body, unless it passes `limit` bytes or the shared budget runs out (the rest is then not read). */
function readBody(req: IncomingMessage, limit: number, budget: ByteBudget): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (read: BodyRead): void => {
      settled = true;
      req.off('data', onData);
      resolve(read);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit || !budget.take(chunk.length)) {
        req.pause();
        settle({ refused: size + chunk.length > limit ? 'too-large' : 'busy', held: size });
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!settled) settle({ body: Buffer.concat(chunks, size), held: size });
    });
    // A client that goes before its body ends: what it sent is given back, once.
    const gone = (err?: Error): void => {
      if (settled) return;
      settled = true;
      budget.give(size);
      reject(err ?? new Error('the client closed the request before its body ended'));
    };
    req.once('error', gone);
    req.once('close', () => gone());
  });
}
