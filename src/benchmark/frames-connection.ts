import { connect, type Socket } from 'node:net';
import { GrpcCallError, type CallDone, type Connection } from './connection.js';
import { GrpcMessageReader, type MessageHandler } from './grpc-messages.js';
import { HpackDecoder, HpackEncoder } from './hpack.js';
import { unaryMethods, type Workload } from './workload.js';

/**
 * Unary gRPC over our own HTTP/2 framing on a plain TCP socket (RFC 9113,
 * cleartext with prior knowledge, as gRPC's h2c is).
 *
 * Why not node:http2: on this machine it costs the client ~110-150 µs of CPU
 * per call (a Http2Stream, a Duplex, header objects, several events and
 * nextTicks per call), more than the server under test spends; with two
 * cores the generator then measures itself. Here a call costs one small
 * state object, its bytes copied into a shared output buffer (HEADERS + DATA
 * written back to back, flushed once per batch), and a few frame headers
 * parsed on the way back.
 *
 * Bidirectional streams (Watch, LeaseKeepAlive) use the same machinery:
 * `openStream` sends HEADERS, every `write` one DATA frame holding one or
 * more gRPC messages, and the response's DATA frames are cut into messages
 * in place (grpc-messages.ts) and handed to the stream's handler without a
 * copy; `receivedAtMs`, taken once per socket read, timestamps them.
 *
 * Scope, deliberately narrow: client side, no server push, no priorities,
 * no TLS. Flow control is honoured in both directions: we announce the
 * largest windows so the server never waits on us (and return credit to
 * long-lived streams as they use it), and we never send more DATA than the
 * server's connection and stream windows allow (data that does not fit
 * waits in a FIFO until WINDOW_UPDATEs arrive).
 */

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const frameHeaderBytes = 9;
const enum FrameType { Data = 0, Headers = 1, Priority = 2, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9 }
const enum Flag { EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20 }
const enum Setting { HeaderTableSize = 1, EnablePush = 2, MaxConcurrentStreams = 3, InitialWindowSize = 4, MaxFrameSize = 5 }

const windowMax = 2 ** 31 - 1;
const defaultWindow = 65_535;
/** Return received DATA credit to the server once this much has been consumed (connection and each stream). */
const windowRefillBytes = 2 ** 30;
const outputChunkBytes = 64 * 1024;
const smallBatchBytes = 4 * 1024;
const connectTimeoutMs = 10_000;
const lastStreamId = windowMax;
const cancelCode = 0x8;
const noData = Buffer.alloc(0);

/** State of one call (unary or stream) in flight. */
interface CallState {
  done: CallDone;
  status: string | undefined;
  message: string | undefined;
  /** Kept only for unary() calls, whose response body is wanted. */
  body: Buffer[] | undefined;
  /** Streams only: cuts the response DATA into messages. */
  reader: GrpcMessageReader | undefined;
  sendWindow: number;
  /** DATA bytes received on this stream since credit was last returned. */
  received: number;
}

/** DATA that cannot be sent whole yet (concurrency limit or flow control), or a unary call not yet opened (id 0). */
interface Blocked {
  state: CallState;
  path: string;
  data: Buffer;
  id: number;
  /** Whether the last frame of `data` ends our side of the stream. */
  endStream: boolean;
}

/** What a bidirectional stream's owner is told. */
export interface StreamHandler {
  /** One response message: protobuf bytes buf[start, end), valid only during the call (copy to keep). */
  onMessage: MessageHandler;
  /** The stream is over: null after grpc-status 0, else the error. Not called after cancel(). */
  onEnd(err: Error | null): void;
}

/** Our side of a bidirectional gRPC stream on a FramedConnection. */
export interface GrpcStream {
  readonly id: number;
  /** Sends one or more complete gRPC frames (5-byte header + message) as one DATA frame. */
  write(frames: Buffer): void;
  /** Half-closes: the server sees the end of our messages. */
  end(): void;
  /** RST_STREAM CANCEL: the call is abandoned, nothing more is delivered. */
  cancel(): void;
}

export class FramedConnection implements Connection {
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private readonly calls = new Map<number, CallState>();
  private readonly blocked: Blocked[] = [];
  /** Encoded request headers per path, valid while the encoder's table has not grown since. */
  private readonly headerBlocks = new Map<string, { block: Buffer; version: number }>();
  private nextStreamId = 1;
  private out = Buffer.allocUnsafe(outputChunkBytes);
  private outLength = 0;
  private flushQueued = false;
  private pending: Buffer | undefined;
  private headerFragments: Buffer[] = [];
  private headerStreamId = 0;
  private headerEndStream = false;
  private receivedSinceRefill = 0;
  private sendWindow = defaultWindow;
  private peerInitialWindow = defaultWindow;
  private peerMaxFrame = 16_384;
  private peerMaxStreams = Infinity;
  private failure: Error | undefined;
  private settled: ((err?: Error) => void) | undefined;
  private readonly authority: string;
  /** performance.now() at the start of the current (or last) socket read: when its messages arrived. */
  receivedAtMs = 0;

  private constructor(private readonly socket: Socket, url: URL) {
    this.authority = url.host;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
    this.flush = this.flush.bind(this);
  }

  /** Connects, exchanges SETTINGS, and resolves once the server's SETTINGS have been applied. */
  static open(url: URL): Promise<FramedConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
      const connection = new FramedConnection(socket, url);
      const timer = setTimeout(() => connection.fail(new Error(`could not connect to ${url.host} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      connection.settled = (err) => {
        clearTimeout(timer);
        connection.settled = undefined;
        if (err === undefined) resolve(connection);
        else reject(err);
      };
      socket.once('connect', () => connection.sendPreface());
    });
  }

  private sendPreface(): void {
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(Setting.EnablePush, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(Setting.InitialWindowSize, 6);
    settings.writeUInt32BE(windowMax, 8);
    this.writeRaw(preface);
    this.writeFrame(FrameType.Settings, 0, 0, settings);
    this.writeWindowUpdate(0, windowMax - defaultWindow);
    this.flush();
  }

  call(workload: Workload, i: number, done: CallDone): void {
    const path = unaryMethods[workload.methodOf(i)].path;
    this.start(path, workload.frameOf(i), newCallState(done, undefined, undefined));
  }

  /** One unary call of `path` with a pre-built gRPC frame; `done` as for call(). */
  send(path: string, frame: Buffer, done: CallDone): void {
    this.start(path, frame, newCallState(done, undefined, undefined));
  }

  /**
   * Opens a bidirectional stream on `path` (HEADERS now; nothing waits for
   * the server). Throws if the connection has failed or the server's stream
   * limit is reached.
   */
  openStream(path: string, handler: StreamHandler): GrpcStream {
    if (this.failure !== undefined) throw this.failure;
    if (this.calls.size >= this.peerMaxStreams) throw new RangeError(`the server allows ${this.peerMaxStreams} streams per connection`);
    const state = newCallState((err) => handler.onEnd(err), undefined, new GrpcMessageReader(handler.onMessage));
    const id = this.startHttpStream(state, this.headerBlock(path));
    this.queueFlush();
    return {
      id,
      write: (frames) => this.sendData(state, id, frames, false),
      end: () => this.sendData(state, id, noData, true),
      cancel: () => this.resetStream(id, cancelCode),
    };
  }

  /** Sends DATA on an open stream, or queues it behind earlier blocked data; dropped if the stream is over. */
  private sendData(state: CallState, id: number, data: Buffer, endStream: boolean): void {
    if (this.calls.get(id) !== state) return;
    if (this.blocked.length === 0 && data.length <= this.peerMaxFrame && data.length <= this.sendWindow && data.length <= state.sendWindow) {
      this.sendWindow -= data.length;
      state.sendWindow -= data.length;
      this.writeFrame(FrameType.Data, endStream ? Flag.EndStream : 0, id, data);
      this.queueFlush();
      return;
    }
    this.blocked.push({ state, path: '', data, id, endStream });
    this.pumpBlocked();
  }

  private resetStream(id: number, code: number): void {
    if (!this.calls.delete(id)) return;
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(code, 0);
    this.writeFrame(FrameType.RstStream, 0, id, payload);
    this.queueFlush();
    if (this.blocked.length > 0) this.pumpBlocked();
  }

  /** One call whose response message is returned: for setup and for checking the client, not for load. */
  unary(path: string, frame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const state = newCallState(() => {}, [], undefined);
      state.done = (err) => {
        if (err !== null) return reject(err);
        const body = Buffer.concat(state.body ?? []);
        if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) return reject(new Error('malformed gRPC response frame'));
        resolve(body.subarray(5));
      };
      this.start(path, frame, state);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      const goAway = Buffer.alloc(8); // last stream 0, NO_ERROR
      this.writeFrame(FrameType.GoAway, 0, 0, goAway);
      this.flush();
      this.socket.end(() => resolve());
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000).unref();
    });
  }

  private requestHeaders(path: string): [string, string][] {
    return [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', path],
      [':authority', this.authority],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
    ];
  }

  /**
   * The encoded request headers for `path`. The first call inserts them into
   * the server's table; from then on the block is a few index bytes, the same
   * for every call until some other call's headers insert more entries.
   */
  private headerBlock(path: string): Buffer {
    const cached = this.headerBlocks.get(path);
    if (cached !== undefined && cached.version === this.encoder.version) return cached.block;
    const version = this.encoder.version;
    const block = this.encoder.encode(this.requestHeaders(path));
    if (this.encoder.version === version) this.headerBlocks.set(path, { block, version });
    return block;
  }

  private start(path: string, data: Buffer, state: CallState): void {
    if (this.failure !== undefined) {
      process.nextTick(state.done, this.failure);
      return;
    }
    if (this.blocked.length > 0 || this.calls.size >= this.peerMaxStreams || !this.fitsWindows(data.length)) {
      this.blocked.push({ state, path, data, id: 0, endStream: true });
      this.pumpBlocked();
      return;
    }
    const id = this.startHttpStream(state, this.headerBlock(path));
    this.sendWindow -= data.length;
    state.sendWindow -= data.length;
    this.writeFrame(FrameType.Data, Flag.EndStream, id, data);
    this.queueFlush();
  }

  private fitsWindows(length: number): boolean {
    return length <= this.peerMaxFrame && length <= this.sendWindow && length <= this.peerInitialWindow;
  }

  /** Allocates the next stream id and writes its HEADERS. */
  private startHttpStream(state: CallState, headerBlock: Buffer): number {
    const id = this.nextStreamId;
    if (id > lastStreamId) throw new Error('stream ids exhausted on this connection');
    if (headerBlock.length > this.peerMaxFrame) throw new Error('request header block larger than a frame');
    this.nextStreamId += 2;
    state.sendWindow = this.peerInitialWindow;
    this.calls.set(id, state);
    this.writeFrame(FrameType.Headers, Flag.EndHeaders, id, headerBlock);
    return id;
  }

  /** Sends what the windows and the stream limit allow of the blocked requests, in order. */
  private pumpBlocked(): void {
    while (this.blocked.length > 0) {
      const head = this.blocked[0];
      if (head.id === 0) {
        if (this.calls.size >= this.peerMaxStreams) break;
        head.id = this.startHttpStream(head.state, this.headerBlock(head.path));
      } else if (this.calls.get(head.id) !== head.state) {
        this.blocked.shift(); // the stream ended or was cancelled meanwhile
        continue;
      }
      const n = Math.min(head.data.length, this.sendWindow, head.state.sendWindow, this.peerMaxFrame);
      if (n <= 0 && head.data.length > 0) break;
      const last = n === head.data.length;
      this.writeFrame(FrameType.Data, last && head.endStream ? Flag.EndStream : 0, head.id, head.data.subarray(0, n));
      this.sendWindow -= n;
      head.state.sendWindow -= n;
      head.data = head.data.subarray(n);
      if (last) this.blocked.shift();
    }
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(this.flush);
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outLength === 0) return;
    // socket.write keeps the buffer until sent: small batches are copied
    // (from Node's buffer pool), large ones handed over whole.
    let chunk: Buffer;
    if (this.outLength < smallBatchBytes) {
      chunk = Buffer.from(this.out.subarray(0, this.outLength));
    } else {
      chunk = this.out.subarray(0, this.outLength);
      this.out = Buffer.allocUnsafe(outputChunkBytes);
    }
    this.outLength = 0;
    if (!this.socket.destroyed) this.socket.write(chunk);
  }

  private reserve(bytes: number): void {
    if (this.outLength + bytes <= this.out.length) return;
    this.flush();
    if (bytes > this.out.length) this.out = Buffer.allocUnsafe(bytes);
  }

  private writeRaw(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.out, this.outLength);
    this.outLength += bytes.length;
  }

  private writeFrame(type: FrameType, flags: number, streamId: number, payload: Buffer): void {
    this.reserve(frameHeaderBytes + payload.length);
    const out = this.out;
    let o = this.outLength;
    out[o++] = payload.length >>> 16;
    out[o++] = (payload.length >>> 8) & 0xff;
    out[o++] = payload.length & 0xff;
    out[o++] = type;
    out[o++] = flags;
    out.writeUInt32BE(streamId, o);
    o += 4;
    payload.copy(out, o);
    this.outLength = o + payload.length;
  }

  private writeWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.writeFrame(FrameType.WindowUpdate, 0, streamId, payload);
  }

  private onData(chunk: Buffer): void {
    this.receivedAtMs = performance.now();
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    try {
      while (buf.length - pos >= frameHeaderBytes) {
        const length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
        const end = pos + frameHeaderBytes + length;
        if (end > buf.length) break;
        const type = buf[pos + 3];
        const flags = buf[pos + 4];
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        this.onFrame(type, flags, streamId, buf, pos + frameHeaderBytes, end);
        pos = end;
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (pos < buf.length) this.pending = buf.subarray(pos);
    this.flush();
  }

  private onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.headerStreamId !== 0 && type !== FrameType.Continuation) throw new Error('HTTP/2: expected CONTINUATION');
    switch (type) {
      case FrameType.Data:
        return this.onDataFrame(flags, streamId, buf, start, end);
      case FrameType.Headers:
        return this.onHeadersFrame(flags, streamId, buf, start, end);
      case FrameType.Continuation:
        return this.onContinuation(flags, streamId, buf, start, end);
      case FrameType.RstStream:
        return this.finish(streamId, `stream reset by the server (HTTP/2 error code ${buf.readUInt32BE(start)})`);
      case FrameType.Settings:
        if ((flags & Flag.Ack) === 0) this.onSettings(buf, start, end);
        return;
      case FrameType.Ping:
        if ((flags & Flag.Ack) === 0) this.writeFrame(FrameType.Ping, Flag.Ack, 0, buf.subarray(start, end));
        return;
      case FrameType.GoAway:
        return this.onGoAway(buf, start, end);
      case FrameType.WindowUpdate:
        return this.onWindowUpdate(streamId, buf.readUInt32BE(start) & 0x7fffffff);
      case FrameType.PushPromise:
        throw new Error('HTTP/2: PUSH_PROMISE although push is disabled');
      default:
        return; // PRIORITY and unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onDataFrame(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    this.receivedSinceRefill += end - start;
    if (this.receivedSinceRefill >= windowRefillBytes) {
      this.writeWindowUpdate(0, this.receivedSinceRefill);
      this.receivedSinceRefill = 0;
    }
    const state = this.calls.get(streamId);
    if (state === undefined) return;
    state.received += end - start;
    if (state.received >= windowRefillBytes) {
      this.writeWindowUpdate(streamId, state.received);
      state.received = 0;
    }
    if (state.reader !== undefined || state.body !== undefined) {
      const pad = flags & Flag.Padded ? buf[start] : 0;
      const from = flags & Flag.Padded ? start + 1 : start;
      if (state.reader !== undefined) state.reader.push(buf, from, end - pad);
      else state.body!.push(Buffer.from(buf.subarray(from, end - pad)));
    }
    if (flags & Flag.EndStream) this.finish(streamId, 'response ended without grpc-status');
  }

  private onHeadersFrame(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    let from = start;
    let to = end;
    if (flags & Flag.Padded) to -= buf[from++];
    if (flags & Flag.Priority) from += 5;
    this.headerStreamId = streamId;
    this.headerEndStream = (flags & Flag.EndStream) !== 0;
    this.headerFragments.push(buf.subarray(from, to));
    if (flags & Flag.EndHeaders) this.onHeaderBlock();
  }

  private onContinuation(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== this.headerStreamId) throw new Error('HTTP/2: CONTINUATION on another stream');
    this.headerFragments.push(buf.subarray(start, end));
    if (flags & Flag.EndHeaders) this.onHeaderBlock();
  }

  private onHeaderBlock(): void {
    const streamId = this.headerStreamId;
    const block = this.headerFragments.length === 1 ? this.headerFragments[0] : Buffer.concat(this.headerFragments);
    this.headerFragments = [];
    this.headerStreamId = 0;
    const state = this.calls.get(streamId);
    // Every block is decoded, even for an unknown stream, to keep the HPACK table in step.
    this.decoder.decode(block, (name, value) => {
      if (state === undefined) return;
      if (name === 'grpc-status') state.status = value;
      else if (name === 'grpc-message') state.message = value;
    });
    if (this.headerEndStream) this.finish(streamId, 'response ended without grpc-status');
  }

  /** The stream is over: answer its call from the grpc-status seen (or `otherwise`). */
  private finish(streamId: number, otherwise: string): void {
    const state = this.calls.get(streamId);
    if (state === undefined) return;
    this.calls.delete(streamId);
    if (state.status === '0' && state.reader?.partial === true) state.done(new GrpcCallError(13, 'stream ended inside a gRPC message'));
    else if (state.status === '0') state.done(null);
    else if (state.status === undefined) state.done(new GrpcCallError(14, otherwise));
    else state.done(new GrpcCallError(Number(state.status), decodeGrpcMessage(state.message ?? '')));
    if (this.blocked.length > 0) this.pumpBlocked();
  }

  private onSettings(buf: Buffer, start: number, end: number): void {
    for (let p = start; p + 6 <= end; p += 6) {
      const id = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      if (id === Setting.HeaderTableSize) this.encoder.limitTableSize(value);
      else if (id === Setting.MaxConcurrentStreams) this.peerMaxStreams = value;
      else if (id === Setting.MaxFrameSize) this.peerMaxFrame = value;
      else if (id === Setting.InitialWindowSize) this.changeInitialWindow(value);
    }
    this.writeFrame(FrameType.Settings, Flag.Ack, 0, Buffer.alloc(0));
    this.flush();
    this.settled?.();
  }

  private changeInitialWindow(value: number): void {
    const delta = value - this.peerInitialWindow;
    this.peerInitialWindow = value;
    for (const state of this.calls.values()) state.sendWindow += delta;
    if (delta > 0) this.pumpBlocked();
  }

  private onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) this.sendWindow += increment;
    else {
      const state = this.calls.get(streamId);
      if (state !== undefined) state.sendWindow += increment;
    }
    if (this.blocked.length > 0) this.pumpBlocked();
  }

  private onGoAway(buf: Buffer, start: number, end: number): void {
    const last = buf.readUInt32BE(start) & 0x7fffffff;
    const code = buf.readUInt32BE(start + 4);
    const debug = buf.toString('latin1', start + 8, end);
    const err = new Error(`server sent GOAWAY (HTTP/2 error code ${code}${debug ? `: ${debug}` : ''})`);
    this.failure = err;
    for (const id of [...this.calls.keys()]) if (id > last) this.finish(id, err.message);
    for (const b of this.blocked.splice(0)) if (b.id === 0) process.nextTick(b.state.done, err);
  }

  /** The connection is unusable: every call in flight and every later call fails. */
  private fail(err: Error): void {
    if (this.settled !== undefined) {
      this.settled(err);
      this.socket.destroy();
      return;
    }
    if (this.failure === undefined) this.failure = err;
    for (const b of this.blocked.splice(0)) if (b.id === 0) process.nextTick(b.state.done, this.failure);
    for (const id of [...this.calls.keys()]) this.finish(id, err.message);
    this.socket.destroy();
  }
}

function newCallState(done: CallDone, body: Buffer[] | undefined, reader: GrpcMessageReader | undefined): CallState {
  return { done, status: undefined, message: undefined, body, reader, sendWindow: 0, received: 0 };
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeGrpcMessage(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}
