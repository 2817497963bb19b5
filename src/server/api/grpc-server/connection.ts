import type { Socket } from 'node:net';
import { HpackDecoder, HpackError, type HeaderField } from '../hpack.js';
import {
  ConnectionError, ErrorCode, Flag, FrameType, Setting, StreamError, frameHeaderBytes, peerMaxFrameBytesMax, peerMaxFrameBytesMin, preface,
} from './frames.js';
import {
  closeLingerMs, connectionSendQueuedBytesMax, connectionWindowBytes, continuationFramesPerBlockMax, defaultWindowBytes, goAwayDebugCharsMax,
  headerBlockBytesMax, headerListBytesMax, headerListDecodeBytesMax, headerTableBytes, maxFrameBytes, refusedStreamsInARowMax, settingsEntriesMax,
  socketBufferedBytesMax, streamsPerConnectionMax, windowBytesMax,
} from './limits.js';
import type { MemoryBudget } from './memory-budget.js';
import { FrameOutput } from './output.js';
import { ServerStream, type StreamConnection } from './stream.js';
import { ClientBudgets } from './client-budgets.js';
import { noPseudoHeaders } from './http-fields.js';

/** What the connection asks of the gRPC layer above it (server.ts). */
export interface RequestHandler {
  /**
   * A new stream's request header list. The handler attaches a listener to
   * the stream (or ends it) before returning. `listBytes` is the list's
   * size in the RFC 7541 sense.
   */
  onRequest(stream: ServerStream, fields: HeaderField[], listBytes: number, connection: Http2Connection): void;
  /** The connection is gone (closed, failed, or drained after GOAWAY). */
  onConnectionClosed(connection: Http2Connection): void;
}

export interface ConnectionOptions {
  /** SETTINGS_INITIAL_WINDOW_SIZE we announce. */
  streamWindowBytes: number;
  /** Largest request message (gRPC framing excluded). */
  maxReceiveMessageBytes: number;
  /** Received message bytes the connection may hold (limits.ts connectionBufferedBytesMax). */
  bufferedBytesMax: number;
  /** Server keepalive: a PING this often (0: never), and the connection closed if its ACK takes longer than keepaliveTimeoutMs. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Keepalive enforcement (limits.ts keepaliveMinTimeMsDefault): client PINGs sooner than this after the last one are strikes. */
  keepaliveMinTimeMs: number;
  /** Whether a client may ping that often with no stream open (grpc-go's PermitWithoutStream). */
  keepalivePermitWithoutStream: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce; we hold at most min(it, streamsPerConnectionMax). */
  maxConcurrentStreams: number;
  /** Time limits (limits.ts), checked by tick(); 0 turns one off. */
  handshakeTimeoutMs: number;
  incompleteFrameTimeoutMs: number;
  idleTimeoutMs: number;
  /** The memory budget of the server, shared by its connections. */
  budget: MemoryBudget;
}

/** The payload of our keepalive PINGs, told apart from the client's own by their ACKs. */
const keepalivePayload = Buffer.from('etcdtska', 'latin1');

const enum State {
  /** Waiting for the 24-octet client preface. */
  Preface,
  /** Preface seen; the next frame must be the client's SETTINGS (§3.4). */
  FirstSettings,
  Open,
  Closed,
}

/**
 * The server side of one HTTP/2 connection (RFC 9113, cleartext with prior
 * knowledge as gRPC uses it, or over any socket that already negotiated
 * "h2", e.g. a TLS socket after ALPN): frame parsing, SETTINGS, PING,
 * GOAWAY, HPACK decoding, stream ids and states, and connection-level flow
 * control. Streams (stream.ts) do the per-stream flow control and the gRPC
 * message framing; server.ts turns request headers into calls.
 *
 * Frames are parsed in place from each socket read: only a frame cut by a
 * read boundary is copied (into a buffer of its exact size), and a DATA
 * frame's messages are handed on as views of the read. Everything we send
 * gathers in one FrameOutput and goes out in one write per batch.
 *
 * Errors never escape: a connection error sends GOAWAY with its code and
 * closes the socket, a stream error sends RST_STREAM, and either way the
 * calls concerned hear 'cancelled'.
 */
export class Http2Connection implements StreamConnection {
  readonly output: FrameOutput;
  readonly streams = new Map<number, ServerStream>();
  readonly streamWindowBytes: number;
  readonly bufferedBytesMax: number;
  sendWindow = defaultWindowBytes;
  peerMaxFrameBytes = peerMaxFrameBytesMin;
  bufferedBytes = 0;
  sendQueuedBytes = 0;
  /** Set when we send HEADERS or DATA: the client's next PING starts its strikes over (grpc-go's resetPingStrikes). */
  wroteStreamFrames = false;
  readonly budget: MemoryBudget;

  private state = State.Preface;
  private prefaceFill = 0;
  /** A frame cut by a read boundary: its header so far, then (header known) the whole frame at its exact size. */
  private cutHeader: Buffer | undefined;
  private cutFrame: Buffer | undefined;
  private cutFill = 0;
  private readonly decoder = new HpackDecoder(headerTableBytes, headerListDecodeBytesMax);
  /** A header block spread over HEADERS and CONTINUATION frames. */
  private blockStreamId = 0;
  private blockEndStream = false;
  private blockFragments: Buffer[] = [];
  private blockBytes = 0;
  private blockStreamError: StreamError | undefined;
  /** Bytes of a cut frame and of an unfinished header block: ours to hold, counted in the memory budget. */
  private transportBytes = 0;
  private blockHeldBytes = 0;
  /** Highest client stream id seen: a new stream's id must be above it (§5.1.1). */
  private lastStreamId = 0;
  /** Set once we sent GOAWAY: streams above it are refused. */
  private goAwayStreamId: number | undefined;
  private peerInitialWindow = defaultWindowBytes;
  private recvWindow = connectionWindowBytes;
  private recvUnacked = 0;
  private waiting: ServerStream[] = [];
  private socketBlocked = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepaliveAckTimer: NodeJS.Timeout | undefined;
  /** What the client may make us do without a request to show for it (client-budgets.ts). */
  private readonly budgets: ClientBudgets;
  /** True while a socket read is being parsed: budgets exhausted then end the connection by throwing. */
  private parsing = false;
  /** What tick() compares between sweeps (handshake, incomplete frames, idleness). */
  private readonly openedAt: number;
  private framesCompleted = 0;
  private blocksCompleted = 0;
  private streamsOpened = 0;
  private stallMark = -1;
  private stallSince = 0;
  private idleMark = 0;
  private idleSince: number;

  constructor(readonly socket: Socket, private readonly handler: RequestHandler, private readonly options: ConnectionOptions) {
    this.streamWindowBytes = options.streamWindowBytes;
    this.bufferedBytesMax = options.bufferedBytesMax;
    this.budget = options.budget;
    this.budget.connections++;
    const now = performance.now();
    this.openedAt = now;
    this.idleSince = now;
    this.budgets = new ClientBudgets({ minTimeMs: options.keepaliveMinTimeMs, permitWithoutStream: options.keepalivePermitWithoutStream }, now);
    this.output = new FrameOutput(socket, () => this.watchSocket());
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('end', () => this.onSocketEnd());
    socket.on('close', () => this.onSocketClose());
    this.sendServerPreface();
    if (options.keepaliveTimeMs > 0) {
      this.keepaliveTimer = setInterval(() => this.sendKeepalive(), options.keepaliveTimeMs);
      this.keepaliveTimer.unref();
    }
    socket.resume();
  }

  /** Open streams, for tests and shutdown. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Graceful shutdown (§6.8): GOAWAY naming the last stream we took, so the
   * client retries later ones elsewhere; calls in flight finish, then the
   * connection closes.
   */
  goAway(): void {
    if (this.state === State.Closed || this.goAwayStreamId !== undefined) return;
    this.goAwayStreamId = this.lastStreamId;
    this.writeGoAway(ErrorCode.NoError, '');
    this.output.flush();
    if (this.streams.size === 0) this.closeSocket();
  }

  /** Ends the connection now: GOAWAY, then the socket; every call in flight is cancelled. */
  destroy(code = ErrorCode.NoError, debug = ''): void {
    if (this.state === State.Closed) return;
    this.goAwayStreamId ??= this.lastStreamId;
    this.writeGoAway(code, debug);
    this.output.flush();
    this.closeSocket();
  }

  outputBlocked(): boolean {
    return this.socketBlocked || this.output.pendingBytes >= socketBufferedBytesMax;
  }

  waitToSend(stream: ServerStream): void {
    if (stream.waiting) return;
    stream.waiting = true;
    this.waiting.push(stream);
  }

  streamClosed(stream: ServerStream): void {
    this.streams.delete(stream.id);
    if (this.goAwayStreamId !== undefined && this.streams.size === 0 && this.state !== State.Closed) {
      this.output.flush();
      this.closeSocket();
    }
  }

  /** Bytes this connection holds (its share of the server's memory budget). */
  get memoryBytes(): number {
    return this.bufferedBytes + this.sendQueuedBytes + this.transportBytes;
  }

  /** Whether the server's budget lets this connection hold `bytes` more. */
  mayHold(bytes: number): boolean {
    return this.budget.allows(this.memoryBytes, bytes);
  }

  /**
   * A stream ended because of what the client sent ("MadeYouReset"), or
   * the client reset a running stream: one token of the reset budget.
   * Exhausted while parsing, the connection error is thrown; otherwise (a
   * handler's write found the client not reading) the connection ends on
   * the next tick, outside the handler.
   */
  chargeReset(): void {
    if (this.budgets.reset(performance.now())) return;
    const err = new ConnectionError(ErrorCode.EnhanceYourCalm, 'too many streams reset');
    if (this.parsing) throw err;
    process.nextTick(() => this.fail(err));
  }

  /** What tests and the property tests check against the limits. */
  limitsSnapshot(): {
    headerTableBytes: number; blockFragments: number; blockBytes: number; transportBytes: number; streams: number; streamsOpened: number; unsentAcks: number;
  } {
    return {
      streamsOpened: this.streamsOpened,
      headerTableBytes: this.decoder.dynamicTable().bytes,
      blockFragments: this.blockFragments.length,
      blockBytes: this.blockBytes,
      transportBytes: this.transportBytes,
      streams: this.streams.size,
      unsentAcks: this.budgets.unsentAcks,
    };
  }

  /**
   * The server's sweep (server.ts), every second or so: the handshake
   * timeout, a frame or header block left unfinished too long, and
   * idleness. Counters compared between sweeps keep these checks off the
   * path of every frame.
   */
  tick(now: number): void {
    if (this.isClosed) return;
    const o = this.options;
    if (this.state === State.Preface || this.state === State.FirstSettings) {
      if (o.handshakeTimeoutMs > 0 && now - this.openedAt >= o.handshakeTimeoutMs) {
        this.fail(new ConnectionError(ErrorCode.ProtocolError, 'no connection preface and SETTINGS in time'));
      }
      return;
    }
    this.checkStall(now, o.incompleteFrameTimeoutMs);
    if (!this.isClosed) this.checkIdle(now, o.idleTimeoutMs);
  }

  private checkStall(now: number, timeoutMs: number): void {
    const incomplete = this.blockStreamId !== 0 || this.cutHeader !== undefined || this.cutFrame !== undefined;
    if (!incomplete || timeoutMs <= 0) {
      this.stallMark = -1;
      return;
    }
    // The same unfinished block (or cut frame) as at the last sweep: no block (or frame) completed since.
    const progress = this.blockStreamId !== 0 ? this.blocksCompleted : this.framesCompleted;
    if (progress !== this.stallMark) {
      this.stallMark = progress;
      this.stallSince = now;
      return;
    }
    if (now - this.stallSince >= timeoutMs) this.fail(new ConnectionError(ErrorCode.EnhanceYourCalm, 'a frame or header block left unfinished'));
  }

  private checkIdle(now: number, timeoutMs: number): void {
    if (this.streams.size > 0 || this.streamsOpened !== this.idleMark) {
      this.idleMark = this.streamsOpened;
      this.idleSince = now;
      return;
    }
    if (timeoutMs > 0 && this.goAwayStreamId === undefined && now - this.idleSince >= timeoutMs) this.goAway();
  }

  // -------------------------------------------------------------------------
  // Reading.

  private get isClosed(): boolean {
    return this.state === State.Closed;
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    this.parsing = true;
    try {
      let pos = 0;
      if (this.state === State.Preface) pos = this.readPreface(chunk);
      if (this.cutHeader !== undefined || this.cutFrame !== undefined) pos = this.completeCutFrame(chunk, pos);
      pos = this.readFrames(chunk, pos);
      if (pos < chunk.length && !this.isClosed) this.keepCut(chunk, pos);
    } catch (err) {
      this.fail(err);
    }
    this.parsing = false;
    if (!this.isClosed) this.output.queueFlush();
  }

  private readPreface(chunk: Buffer): number {
    const n = Math.min(preface.length - this.prefaceFill, chunk.length);
    if (!chunk.subarray(0, n).equals(preface.subarray(this.prefaceFill, this.prefaceFill + n))) {
      throw new ConnectionError(ErrorCode.ProtocolError, 'invalid connection preface');
    }
    this.prefaceFill += n;
    if (this.prefaceFill === preface.length) this.state = State.FirstSettings;
    return n;
  }

  /** Parses every whole frame of chunk from pos; returns where the first incomplete one starts. */
  private readFrames(chunk: Buffer, pos: number): number {
    while (chunk.length - pos >= frameHeaderBytes && this.state !== State.Closed && this.state !== State.Preface) {
      const length = (chunk[pos] << 16) | (chunk[pos + 1] << 8) | chunk[pos + 2];
      if (length > maxFrameBytes) throw new ConnectionError(ErrorCode.FrameSizeError, `frame of ${length} octets`);
      const end = pos + frameHeaderBytes + length;
      if (end > chunk.length) break;
      this.onFrame(chunk[pos + 3], chunk[pos + 4], chunk.readUInt32BE(pos + 5) & 0x7fffffff, chunk, pos + frameHeaderBytes, end);
      pos = end;
    }
    return pos;
  }

  /** Keeps the start of a frame cut by the read boundary. */
  private keepCut(chunk: Buffer, pos: number): void {
    if (this.state === State.Preface) return;
    this.cutHeader = Buffer.allocUnsafe(frameHeaderBytes);
    this.cutFill = 0;
    this.cutFrame = undefined;
    this.completeCutFrame(chunk, pos);
  }

  /** Adds chunk[pos..] to the cut frame; parses it once whole. Returns the position after what was used. */
  private completeCutFrame(chunk: Buffer, pos: number): number {
    if (this.cutFrame === undefined) {
      const header = this.cutHeader!;
      const n = Math.min(frameHeaderBytes - this.cutFill, chunk.length - pos);
      chunk.copy(header, this.cutFill, pos, pos + n);
      this.cutFill += n;
      pos += n;
      if (this.cutFill < frameHeaderBytes) return pos;
      const length = (header[0] << 16) | (header[1] << 8) | header[2];
      if (length > maxFrameBytes) throw new ConnectionError(ErrorCode.FrameSizeError, `frame of ${length} octets`);
      this.holdTransport(frameHeaderBytes + length);
      this.cutFrame = Buffer.allocUnsafe(frameHeaderBytes + length);
      header.copy(this.cutFrame, 0);
      this.cutHeader = undefined;
    }
    const frame = this.cutFrame;
    const n = Math.min(frame.length - this.cutFill, chunk.length - pos);
    chunk.copy(frame, this.cutFill, pos, pos + n);
    this.cutFill += n;
    pos += n;
    if (this.cutFill < frame.length) return pos;
    this.cutFrame = undefined;
    this.cutFill = 0;
    this.releaseTransport(frame.length);
    this.onFrame(frame[3], frame[4], frame.readUInt32BE(5) & 0x7fffffff, frame, frameHeaderBytes, frame.length);
    return pos;
  }

  /** Bytes the transport itself holds (a cut frame, an unfinished header block): past the server's budget, the connection goes. */
  private holdTransport(bytes: number): void {
    if (!this.mayHold(bytes)) throw new ConnectionError(ErrorCode.EnhanceYourCalm, 'the server is out of memory for this connection');
    this.transportBytes += bytes;
    this.budget.add(bytes);
  }

  private releaseTransport(bytes: number): void {
    this.transportBytes -= bytes;
    this.budget.add(-bytes);
  }

  private onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    this.framesCompleted++;
    if (this.state === State.FirstSettings && (type !== FrameType.Settings || (flags & Flag.Ack) !== 0)) {
      throw new ConnectionError(ErrorCode.ProtocolError, 'the client preface must end with SETTINGS');
    }
    if (this.blockStreamId !== 0 && type !== FrameType.Continuation) {
      throw new ConnectionError(ErrorCode.ProtocolError, 'a header block was interrupted by another frame');
    }
    try {
      this.dispatchFrame(type, flags, streamId, buf, start, end);
    } catch (err) {
      if (!(err instanceof StreamError)) throw err;
      this.resetStream(err.streamId, err.code);
    }
  }

  /** One frame that carried no request (limits.ts glitchesBurst): past the budget, ENHANCE_YOUR_CALM. */
  private glitch(what: string): void {
    if (!this.budgets.glitch(performance.now())) throw glitchesExhausted(what);
  }

  private dispatchFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case FrameType.Data:
        return this.onDataFrame(flags, streamId, buf, start, end);
      case FrameType.Headers:
        return this.onHeadersFrame(flags, streamId, buf, start, end);
      case FrameType.Continuation:
        return this.onContinuation(flags, streamId, buf, start, end);
      case FrameType.Priority:
        return this.onPriority(streamId, buf, start, end);
      case FrameType.RstStream:
        return this.onRstStream(streamId, buf, start, end);
      case FrameType.Settings:
        return this.onSettings(flags, streamId, buf, start, end);
      case FrameType.PushPromise:
        throw new ConnectionError(ErrorCode.ProtocolError, 'PUSH_PROMISE from a client');
      case FrameType.Ping:
        return this.onPing(flags, streamId, buf, start, end);
      case FrameType.GoAway:
        return this.onGoAway(streamId, start, end);
      case FrameType.WindowUpdate:
        return this.onWindowUpdate(streamId, buf, start, end);
      default:
        // Unknown frame types are ignored (§5.5), but they are not free.
        return this.glitch('a frame of an unknown type');
    }
  }

  private onDataFrame(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'DATA on stream 0');
    const frameBytes = end - start;
    // Connection flow control counts every DATA frame, whatever its stream's state (§6.9).
    if (frameBytes > this.recvWindow) throw new ConnectionError(ErrorCode.FlowControlError, 'DATA beyond the connection window');
    this.recvWindow -= frameBytes;
    this.returnConnectionCredit(frameBytes);
    let from = start;
    let to = end;
    if (flags & Flag.Padded) {
      if (frameBytes === 0) throw new ConnectionError(ErrorCode.FrameSizeError, 'PADDED DATA without a pad length');
      const pad = buf[from++];
      if (pad > to - from) throw new ConnectionError(ErrorCode.ProtocolError, 'DATA padding longer than the frame');
      to -= pad;
    }
    // CVE-2019-9518: DATA without data that does not end the stream only costs us.
    if (to === from && (flags & Flag.EndStream) === 0) this.glitch('empty DATA');
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, `DATA on idle stream ${streamId}`);
      return; // A stream we closed or reset: its late frames are ignored (§5.1).
    }
    stream.receiveData(buf, from, to, frameBytes, (flags & Flag.EndStream) !== 0);
  }

  /**
   * The connection window is replenished as DATA arrives: memory is bounded
   * by the per-stream windows and the connection's buffered-bytes budget
   * (stream.ts), never by stalling the whole connection, which could
   * deadlock streams each waiting for the rest of a message.
   */
  private returnConnectionCredit(bytes: number): void {
    this.recvUnacked += bytes;
    if (this.recvUnacked < connectionWindowBytes / 4) return;
    this.writeWindowUpdate(0, this.recvUnacked);
    this.recvWindow += this.recvUnacked;
    this.recvUnacked = 0;
  }

  private onHeadersFrame(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'HEADERS on stream 0');
    let from = start;
    let to = end;
    if (flags & Flag.Padded) {
      if (to - from < 1) throw new ConnectionError(ErrorCode.FrameSizeError, 'PADDED HEADERS without a pad length');
      const pad = buf[from++];
      if (pad > to - from) throw new ConnectionError(ErrorCode.ProtocolError, 'HEADERS padding longer than the frame');
      to -= pad;
    }
    this.blockStreamError = undefined;
    if (flags & Flag.Priority) {
      if (to - from < 5) throw new ConnectionError(ErrorCode.FrameSizeError, 'HEADERS too short for its priority');
      // Priorities are deprecated (RFC 9113 §5.3.2) and ignored, but a stream depending on itself is still an error.
      if ((buf.readUInt32BE(from) & 0x7fffffff) === streamId) {
        this.blockStreamError = new StreamError(streamId, ErrorCode.ProtocolError, 'stream depends on itself');
      }
      from += 5;
    }
    this.blockStreamId = streamId;
    this.blockEndStream = (flags & Flag.EndStream) !== 0;
    this.blockFragments = [buf.subarray(from, to)];
    this.blockBytes = to - from;
    if (flags & Flag.EndHeaders) {
      this.endHeaderBlock();
      return;
    }
    if (to === from) this.glitch('an empty header block fragment');
    this.holdTransport(this.blockBytes);
    this.blockHeldBytes = this.blockBytes;
  }

  private onContinuation(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (this.blockStreamId === 0 || streamId !== this.blockStreamId) {
      throw new ConnectionError(ErrorCode.ProtocolError, 'CONTINUATION without a header block in progress on its stream');
    }
    // CVE-2024-28182: a block of endless (or empty) CONTINUATIONs must end somewhere.
    if (this.blockFragments.length > continuationFramesPerBlockMax) {
      throw new ConnectionError(ErrorCode.EnhanceYourCalm, `more than ${continuationFramesPerBlockMax} CONTINUATION frames in a header block`);
    }
    if (end === start) this.glitch('an empty CONTINUATION');
    this.blockBytes += end - start;
    if (this.blockBytes > headerBlockBytesMax) {
      throw new ConnectionError(ErrorCode.EnhanceYourCalm, `header block larger than ${headerBlockBytesMax} octets`);
    }
    this.holdTransport(end - start);
    this.blockHeldBytes += end - start;
    this.blockFragments.push(buf.subarray(start, end));
    if (flags & Flag.EndHeaders) this.endHeaderBlock();
  }

  private endHeaderBlock(): void {
    const streamId = this.blockStreamId;
    const fragments = this.blockFragments;
    this.blockStreamId = 0;
    this.blockFragments = [];
    this.blocksCompleted++;
    if (this.blockHeldBytes > 0) {
      this.releaseTransport(this.blockHeldBytes);
      this.blockHeldBytes = 0;
    }
    const block = fragments.length === 1 ? fragments[0] : Buffer.concat(fragments);
    let fields: HeaderField[];
    try {
      // Every block is decoded, even one we refuse: the dynamic table must follow the client's encoder.
      fields = this.decoder.decode(block);
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(ErrorCode.CompressionError, err.message);
      throw err;
    }
    // A field with octets HTTP/2 forbids makes the request (or trailers) malformed: a stream error (§8.1.1).
    const malformed = this.blockStreamError ?? (this.decoder.malformed ? new StreamError(streamId, ErrorCode.ProtocolError, 'malformed field') : undefined);
    this.onHeaderList(streamId, fields, this.blockEndStream, malformed);
  }

  /** A complete header list: trailers of an open stream, or a new stream (`malformed`: the stream error it must get instead). */
  private onHeaderList(streamId: number, fields: HeaderField[], endStream: boolean, malformed: StreamError | undefined): void {
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client: allowed by HTTP/2 (gRPC clients send none); END_STREAM and their validity matter (§8.1).
      if (existing.remoteClosed) throw new StreamError(streamId, ErrorCode.StreamClosed, 'HEADERS after END_STREAM');
      if (!endStream) throw new StreamError(streamId, ErrorCode.ProtocolError, 'trailers without END_STREAM');
      if (malformed !== undefined) throw malformed;
      if (!noPseudoHeaders(fields)) throw new StreamError(streamId, ErrorCode.ProtocolError, 'a pseudo-header in trailers');
      if (!existing.lengthMatches) existing.malformedLength();
      existing.endOfRequest();
      return;
    }
    if (streamId % 2 === 0) throw new ConnectionError(ErrorCode.ProtocolError, `client stream with even id ${streamId}`);
    if (streamId <= this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, `HEADERS on closed stream ${streamId}`);
    // The id is used even when the request is malformed: it can never open a stream again (§5.1.1).
    this.lastStreamId = streamId;
    if (malformed !== undefined) throw malformed;
    // After GOAWAY, past the stream limit, or while the client leaves a full queue of responses unread:
    // a client that reads nothing gets no new work done.
    if (this.goAwayStreamId !== undefined || this.streams.size >= Math.min(this.options.maxConcurrentStreams, streamsPerConnectionMax)
      || this.sendQueuedBytes >= connectionSendQueuedBytesMax) {
      this.refuseStream(streamId);
      return;
    }
    this.budgets.request();
    this.streamsOpened++;
    let listBytes = 0;
    for (const field of fields) listBytes += field.name.length + field.value.length + 32;
    const stream = new ServerStream(this, streamId, endStream, this.peerInitialWindow, this.options.maxReceiveMessageBytes);
    this.streams.set(streamId, stream);
    this.handler.onRequest(stream, fields, listBytes, this);
  }

  /**
   * Refused streams were not processed, so clients retry them (§8.7). Refusing costs the client
   * nothing, so a run of refusals is bounded (Node's maxSessionRejectedStreams).
   */
  private refuseStream(streamId: number): void {
    if (!this.budgets.refused()) {
      throw new ConnectionError(ErrorCode.EnhanceYourCalm, `more than ${refusedStreamsInARowMax} streams refused in a row`);
    }
    this.output.header(4, FrameType.RstStream, 0, streamId);
    this.output.uint32(ErrorCode.RefusedStream);
  }

  private onPriority(streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'PRIORITY on stream 0');
    // Priorities are deprecated (RFC 9113 §5.3.2) and ignored: each frame is only work for us.
    this.glitch('PRIORITY');
    if (end - start !== 5) throw new StreamError(streamId, ErrorCode.FrameSizeError, 'PRIORITY frame of the wrong size');
    if ((buf.readUInt32BE(start) & 0x7fffffff) === streamId) throw new StreamError(streamId, ErrorCode.ProtocolError, 'stream depends on itself');
  }

  private onRstStream(streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'RST_STREAM on stream 0');
    if (end - start !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, 'RST_STREAM frame of the wrong size');
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, `RST_STREAM on idle stream ${streamId}`);
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.glitch('RST_STREAM on a closed stream');
      return;
    }
    stream.abort();
    // Rapid reset (CVE-2023-44487): the stream's slot is free, its work goes on.
    this.chargeReset();
  }

  private onSettings(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS on a stream');
    if (flags & Flag.Ack) {
      if (end !== start) throw new ConnectionError(ErrorCode.FrameSizeError, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError(ErrorCode.FrameSizeError, 'SETTINGS payload not a multiple of 6');
    if ((end - start) / 6 > settingsEntriesMax) throw new ConnectionError(ErrorCode.EnhanceYourCalm, `SETTINGS with more than ${settingsEntriesMax} entries`);
    // CVE-2019-9515: every SETTINGS asks for an ACK; clients send a few (grpc-go's BDP estimator), never a stream of them.
    if (!this.budgets.settings(performance.now())) throw glitchesExhausted('SETTINGS');
    for (let p = start; p < end; p += 6) this.applySetting(buf.readUInt16BE(p), buf.readUInt32BE(p + 2));
    if (this.state === State.FirstSettings) this.state = State.Open;
    this.writeAck();
    this.output.header(0, FrameType.Settings, Flag.Ack, 0);
  }

  /** Counts an ACK we owe (CVE-2019-9512, -9515: limits.ts unsentAcksMax); watchSocket() starts the count over. */
  private writeAck(): void {
    if (!this.budgets.ack()) throw new ConnectionError(ErrorCode.EnhanceYourCalm, 'the client reads none of our PING and SETTINGS acknowledgements');
  }

  private applySetting(id: number, value: number): void {
    switch (id) {
      case Setting.EnablePush:
        if (value > 1) throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS_ENABLE_PUSH not 0 or 1');
        return;
      case Setting.InitialWindowSize: {
        if (value > windowBytesMax) throw new ConnectionError(ErrorCode.FlowControlError, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.adjustSendWindow(delta);
          if (stream.sendWindow > windowBytesMax) throw new ConnectionError(ErrorCode.FlowControlError, 'a stream window passed 2^31-1');
        }
        if (delta > 0) for (const stream of this.streams.values()) if (stream.hasQueuedOutput) this.waitToSend(stream);
        this.pumpWaiting();
        return;
      }
      case Setting.MaxFrameSize:
        if (value < peerMaxFrameBytesMin || value > peerMaxFrameBytesMax) {
          throw new ConnectionError(ErrorCode.ProtocolError, 'SETTINGS_MAX_FRAME_SIZE out of range');
        }
        this.peerMaxFrameBytes = value;
        return;
      default:
        // HEADER_TABLE_SIZE: our encoder never uses the dynamic table, so any size suits it.
        // MAX_CONCURRENT_STREAMS: we open no streams. MAX_HEADER_LIST_SIZE: ours are tiny. Unknown ids are ignored (§6.5.2).
        return;
    }
  }

  private onPing(flags: number, streamId: number, buf: Buffer, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'PING on a stream');
    if (end - start !== 8) throw new ConnectionError(ErrorCode.FrameSizeError, 'PING frame of the wrong size');
    if ((flags & Flag.Ack) === 0) {
      this.enforceKeepalivePolicy();
      this.writeAck();
      this.output.frame(FrameType.Ping, Flag.Ack, 0, buf, start, end);
    } else if (this.keepaliveAckTimer !== undefined && buf.subarray(start, end).equals(keepalivePayload)) {
      clearTimeout(this.keepaliveAckTimer);
      this.keepaliveAckTimer = undefined;
    } else {
      this.glitch('a PING ACK we did not ask for');
    }
  }

  /**
   * Keepalive enforcement, grpc-go's handlePing as etcd configures it
   * (client-budgets.ts): too many strikes end the connection with GOAWAY
   * ENHANCE_YOUR_CALM "too_many_pings", the words Go and grpc-js clients
   * look for to slow their keepalive down.
   */
  private enforceKeepalivePolicy(): void {
    const withinPolicy = this.budgets.ping(performance.now(), this.streams.size > 0, this.wroteStreamFrames);
    this.wroteStreamFrames = false;
    if (!withinPolicy) throw new ConnectionError(ErrorCode.EnhanceYourCalm, 'too_many_pings');
  }

  /**
   * Server keepalive (etcd's --grpc-keepalive-interval and -timeout): a
   * client that stopped answering, e.g. a host gone without closing its
   * connections, loses the connection and its calls (watches, keep-alives).
   */
  private sendKeepalive(): void {
    if (this.isClosed || this.keepaliveAckTimer !== undefined) return;
    this.output.frame(FrameType.Ping, 0, 0, keepalivePayload);
    this.output.queueFlush();
    this.keepaliveAckTimer = setTimeout(() => this.socket.destroy(), this.options.keepaliveTimeoutMs);
    this.keepaliveAckTimer.unref();
  }

  private onGoAway(streamId: number, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.ProtocolError, 'GOAWAY on a stream');
    if (end - start < 8) throw new ConnectionError(ErrorCode.FrameSizeError, 'GOAWAY frame too short');
    if (!this.budgets.goAway(performance.now())) throw glitchesExhausted('another GOAWAY');
    // The client opens no more streams; those in flight finish, then the connection closes.
    this.goAway();
  }

  private onWindowUpdate(streamId: number, buf: Buffer, start: number, end: number): void {
    if (end - start !== 4) throw new ConnectionError(ErrorCode.FrameSizeError, 'WINDOW_UPDATE frame of the wrong size');
    const increment = buf.readUInt32BE(start) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.ProtocolError, 'WINDOW_UPDATE with a zero increment');
      this.sendWindow += increment;
      if (this.sendWindow > windowBytesMax) throw new ConnectionError(ErrorCode.FlowControlError, 'connection window above 2^31-1');
      this.pumpWaiting();
      return;
    }
    if (streamId > this.lastStreamId) throw new ConnectionError(ErrorCode.ProtocolError, `WINDOW_UPDATE on idle stream ${streamId}`);
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.glitch('WINDOW_UPDATE on a closed stream');
      return;
    }
    stream.addSendWindow(increment);
  }

  // -------------------------------------------------------------------------
  // Writing.

  private sendServerPreface(): void {
    const settings: [Setting, number][] = [
      [Setting.MaxConcurrentStreams, this.options.maxConcurrentStreams],
      [Setting.InitialWindowSize, this.streamWindowBytes],
      [Setting.MaxHeaderListSize, headerListBytesMax],
      [Setting.EnablePush, 0],
    ];
    this.output.header(settings.length * 6, FrameType.Settings, 0, 0);
    for (const [id, value] of settings) {
      this.output.uint8(id >> 8);
      this.output.uint8(id & 0xff);
      this.output.uint32(value);
    }
    this.writeWindowUpdate(0, connectionWindowBytes - defaultWindowBytes);
    this.output.queueFlush();
  }

  private writeWindowUpdate(streamId: number, increment: number): void {
    this.output.header(4, FrameType.WindowUpdate, 0, streamId);
    this.output.uint32(increment);
  }

  private writeGoAway(code: ErrorCode, debug: string): void {
    const text = Buffer.from(debug.slice(0, goAwayDebugCharsMax), 'utf8');
    this.output.header(8 + text.length, FrameType.GoAway, 0, 0);
    this.output.uint32(this.goAwayStreamId ?? this.lastStreamId);
    this.output.uint32(code);
    this.output.bytes(text, 0, text.length);
  }

  /** A stream error (§5.4.2): RST_STREAM, charged to the client that caused it (ServerStream.reset charges its own). */
  private resetStream(streamId: number, code: ErrorCode): void {
    const stream = this.streams.get(streamId);
    if (stream !== undefined) {
      stream.reset(code);
      return;
    }
    this.output.header(4, FrameType.RstStream, 0, streamId);
    this.output.uint32(code);
    this.chargeReset();
  }

  /** Streams waiting for the connection window or the socket send, one frame each per round, while they can. */
  private pumpWaiting(): void {
    while (this.waiting.length > 0 && this.sendWindow > 0 && !this.outputBlocked()) {
      const round = this.waiting;
      this.waiting = [];
      let frames = 0;
      for (const stream of round) {
        stream.waiting = false;
        if (!stream.closed) frames += stream.pump(1);
      }
      if (frames === 0) break;
    }
  }

  /**
   * After each socket write: past socketBufferedBytesMax, stop framing and
   * reading until the socket drains; below it, streams that stopped because
   * our own output buffer was full go on.
   */
  private watchSocket(): void {
    if (this.socketBlocked || this.isClosed) return;
    // The client took every ACK we owed it.
    if (this.socket.writableLength === 0) this.budgets.acksTaken();
    if (this.socket.writableLength < socketBufferedBytesMax) {
      if (this.waiting.length > 0) this.pumpWaiting();
      return;
    }
    this.socketBlocked = true;
    this.socket.pause();
    this.socket.once('drain', () => {
      this.socketBlocked = false;
      if (this.state === State.Closed) return;
      this.socket.resume();
      this.pumpWaiting();
      this.output.queueFlush();
    });
  }

  // -------------------------------------------------------------------------
  // Ending.

  private fail(err: unknown): void {
    if (err instanceof ConnectionError) {
      this.destroy(err.code, err.debug);
      return;
    }
    // Not a protocol error: a bug on our side. The connection goes, the server stays.
    this.destroy(ErrorCode.InternalError, err instanceof Error ? err.message : String(err));
  }

  /** The client half-closed its socket: nothing more will come, so the calls in flight cannot complete normally. */
  private onSocketEnd(): void {
    this.closeSocket();
  }

  private closeSocket(): void {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    this.cancelStreams();
    this.output.flush();
    this.socket.end();
    // A client that never closes its side does not keep the socket.
    this.closeTimer = setTimeout(() => this.socket.destroy(), closeLingerMs);
    this.closeTimer.unref();
  }

  private onSocketClose(): void {
    clearTimeout(this.closeTimer);
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.keepaliveAckTimer);
    this.state = State.Closed;
    this.output.discard();
    this.cancelStreams();
    this.cutFrame = undefined;
    this.cutHeader = undefined;
    this.blockFragments = [];
    this.blockHeldBytes = 0;
    if (this.transportBytes > 0) this.releaseTransport(this.transportBytes);
    this.budget.connections--;
    this.handler.onConnectionClosed(this);
  }

  private cancelStreams(): void {
    if (this.streams.size === 0) return;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const stream of streams) stream.abort();
  }
}

function glitchesExhausted(what: string): ConnectionError {
  return new ConnectionError(ErrorCode.EnhanceYourCalm, `too many frames without a request (${what})`);
}
