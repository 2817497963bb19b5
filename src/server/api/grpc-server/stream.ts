import assert from 'node:assert';
import { ErrorCode, Flag, FrameType, StreamError } from './frames.js';
import type { FrameOutput } from './output.js';
import type { MemoryBudget } from './memory-budget.js';
import {
  connectionSendQueuedBytesMax, streamSendHighWaterBytes, streamSendQueuedBytesMax, windowBytesMax,
} from './limits.js';

/** Bytes of the gRPC message prefix: a compressed flag and a 4-octet length. */
export const messagePrefixBytes = 5;

/**
 * What a stream needs from its connection (connection.ts implements it):
 * the shared output, the connection-level windows and budgets, and the
 * list of streams waiting to send.
 */
export interface StreamConnection {
  readonly output: FrameOutput;
  /** Connection-level send window (what the client lets us send on all streams). */
  sendWindow: number;
  readonly peerMaxFrameBytes: number;
  /** Received message bytes held by all streams (partial messages, messages not taken yet). */
  bufferedBytes: number;
  /** The budget for bufferedBytes: a stream that would pass it fails with RESOURCE_EXHAUSTED. */
  readonly bufferedBytesMax: number;
  /** Response bytes queued by all streams and not framed yet. */
  sendQueuedBytes: number;
  /** True while the socket holds too much unsent output: nothing more is framed. */
  outputBlocked(): boolean;
  /** The stream has output that waits for the connection window or the socket. */
  waitToSend(stream: ServerStream): void;
  /** The stream is over on both sides: forget it. */
  streamClosed(stream: ServerStream): void;
  /** Announces more receive credit on the stream (WINDOW_UPDATE); the connection decides when. */
  readonly streamWindowBytes: number;
  /** The server's memory budget, shared by all its connections (memory-budget.ts). */
  readonly budget: MemoryBudget;
  /** Whether the server's budget lets this connection hold `bytes` more. */
  mayHold(bytes: number): boolean;
  /** One stream ended because of the client: a token of its reset budget (connection.ts). */
  chargeReset(): void;
  /** Set on every HEADERS or DATA we write: keepalive enforcement starts the client's strikes over. */
  wroteStreamFrames: boolean;
}

/** What the gRPC call on a stream is told. */
export interface StreamListener {
  /** One complete request message (its bytes may be a view of a larger buffer: copy to keep past the call). */
  onMessage(message: Buffer): void;
  /** The client ended its side, after every message it sent was delivered. */
  onHalfClose(): void;
  /** The stream ended without our trailers: client reset, connection lost, or reset by us. */
  onCancel(): void;
  /** Queued output fell below the high-water mark after sendMessage() reported back-pressure. */
  onWritable(): void;
  /** A request message was refused by the transport (too large, compressed): the call must end with this status. */
  onMessageError(code: number, message: string): void;
}

/** One unit of queued output. */
interface Pending {
  bytes: Buffer;
  offset: number;
  /** Called once the last byte has been framed. */
  sent: (() => void) | undefined;
  /** A header block that ends the stream (trailers), written once everything before it is. */
  trailers: boolean;
}

/** gRPC status codes used by the transport itself. */
const statusInternal = 13;
const statusResourceExhausted = 8;
const statusUnimplemented = 12;

/**
 * One HTTP/2 stream carrying one gRPC call: receive-side flow control and
 * message framing, send-side queueing within the client's windows.
 *
 * Receive credit: a DATA frame's bytes are returned to the client
 * (WINDOW_UPDATE) once consumed, i.e. once its messages have been taken by
 * the call, or copied into a partial message (bounded by the largest
 * message allowed). While the call is paused and messages wait, credit is
 * withheld, so a stream never holds more than its window of unread
 * requests. Updates go out in batches of a quarter window: a unary call
 * never needs one.
 */
export class ServerStream {
  listener: StreamListener | undefined;
  /** The client sent END_STREAM. */
  remoteClosed: boolean;
  /** We are done with the stream (trailers sent or queued, or reset): nothing more is accepted. */
  localClosed = false;
  /** Gone from the connection: both sides over, or reset. */
  closed = false;
  headersSent = false;
  sendWindow: number;
  /** Listed in the connection's waiting-to-send list. */
  waiting = false;
  /** The request's grpc-encoding, if any: only named in the error for a compressed message. */
  requestEncoding: string | undefined;
  /** The request's content-length, if it sent one: the DATA must add up to it (RFC 9113 §8.1.1). */
  contentLength: number | undefined;
  private dataBytes = 0;

  private recvWindow: number;
  private recvUnacked = 0;
  private heldCredit = 0;
  /** This stream's share of the connection's bufferedBytes. */
  private buffered = 0;
  /** A message cut by a frame boundary: its prefix so far, then its body. */
  private prefix: Buffer | undefined;
  private prefixFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  /** Messages received while the call is paused, oldest first. */
  private inbox: Buffer[] | undefined;
  private readPaused = false;
  private halfCloseDelivered = false;
  private deliverQueued = false;
  private queue: Pending[] | undefined;
  /** Output queued and not framed yet (prefixes and trailers included). */
  queuedBytes = 0;
  private needDrain = false;

  constructor(
    private readonly connection: StreamConnection,
    readonly id: number,
    endStream: boolean,
    peerInitialWindow: number,
    private readonly maxMessageBytes: number,
  ) {
    this.remoteClosed = endStream;
    this.sendWindow = peerInitialWindow;
    this.recvWindow = connection.streamWindowBytes;
  }

  // -------------------------------------------------------------------------
  // Receiving.

  /** A DATA frame: `frameBytes` counts against the window (padding included), [from, to) is its data. */
  receiveData(buf: Buffer, from: number, to: number, frameBytes: number, endStream: boolean): void {
    if (this.remoteClosed) throw new StreamError(this.id, ErrorCode.StreamClosed, 'DATA after END_STREAM');
    if (frameBytes > this.recvWindow) throw new StreamError(this.id, ErrorCode.FlowControlError, 'DATA beyond the stream window');
    this.recvWindow -= frameBytes;
    this.heldCredit += frameBytes;
    if (this.contentLength !== undefined) {
      this.dataBytes += to - from;
      if (this.dataBytes > this.contentLength || (endStream && this.dataBytes !== this.contentLength)) this.malformedLength();
    }
    if (!this.localClosed && to > from) this.readMessages(buf, from, to);
    if (this.closed) return;
    if (endStream) this.endOfRequest();
    this.maybeReturnCredit();
  }

  /** The DATA do not add up to the content-length: a malformed request (§8.1.1). */
  malformedLength(): never {
    throw new StreamError(this.id, ErrorCode.ProtocolError, 'DATA do not add up to the content-length');
  }

  /** For trailers: whether the request's DATA added up to its content-length. */
  get lengthMatches(): boolean {
    return this.contentLength === undefined || this.dataBytes === this.contentLength;
  }

  /** END_STREAM (on DATA, on the request HEADERS, or on trailers). */
  endOfRequest(): void {
    this.remoteClosed = true;
    if (this.localClosed) {
      // Our trailers are queued: once they are out, nothing remains of the stream.
      if (this.queue === undefined || this.queue.length === 0) this.close();
      return;
    }
    if (this.prefix !== undefined) {
      this.failMessage(statusInternal, 'grpc: the request ended inside a message');
      return;
    }
    this.deliverHalfClose();
  }

  /** Stops handing messages to the call; they wait here (and credit with them). */
  pauseReading(): void {
    this.readPaused = true;
  }

  /** Hands waiting messages over again, from a fresh tick (never inside the caller's own handler). */
  resumeReading(): void {
    if (!this.readPaused) return;
    this.readPaused = false;
    if (this.deliverQueued) return;
    this.deliverQueued = true;
    process.nextTick(() => {
      this.deliverQueued = false;
      this.deliverInbox();
    });
  }

  get isReadPaused(): boolean {
    return this.readPaused;
  }

  /** Counts bytes the call keeps (a unary request until its handler runs) against the connection's and the server's budgets. */
  hold(bytes: number): boolean {
    const connection = this.connection;
    const max = connection.bufferedBytesMax;
    if (connection.bufferedBytes + bytes > max) {
      this.failMessage(statusResourceExhausted, `grpc: the connection holds more than ${max} bytes of unread requests`);
      return false;
    }
    if (!connection.mayHold(bytes)) {
      this.failMessage(statusResourceExhausted, 'grpc: the server holds too many unread requests to take more from this connection');
      return false;
    }
    this.buffered += bytes;
    connection.bufferedBytes += bytes;
    connection.budget.add(bytes);
    return true;
  }

  release(bytes: number): void {
    assert(bytes <= this.buffered);
    this.buffered -= bytes;
    this.connection.bufferedBytes -= bytes;
    this.connection.budget.add(-bytes);
  }

  private readMessages(buf: Buffer, from: number, to: number): void {
    let pos = from;
    while (pos < to && !this.localClosed) {
      if (this.prefix === undefined && to - pos >= messagePrefixBytes) {
        const length = this.checkPrefix(buf, pos);
        if (length < 0) return;
        const start = pos + messagePrefixBytes;
        if (to - start >= length) {
          pos = start + length;
          this.deliver(buf.subarray(start, pos), false);
          continue;
        }
      }
      pos = this.accumulate(buf, pos, to);
    }
  }

  /** The length in a message prefix at buf[pos], or -1 after failing the stream for a prefix we refuse. */
  private checkPrefix(buf: Buffer, pos: number): number {
    const flag = buf[pos];
    const length = buf.readUInt32BE(pos + 1);
    if (flag === 1) {
      // We decompress nothing and announce no grpc-accept-encoding, so a client must not compress (grpc-go's words).
      const encoding = this.requestEncoding;
      if (encoding === undefined || encoding === 'identity') {
        this.failMessage(statusInternal, 'grpc: compressed flag set with identity or empty encoding');
      } else {
        this.failMessage(statusUnimplemented, `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(encoding)}`);
      }
      return -1;
    }
    if (flag !== 0) {
      this.failMessage(statusInternal, `grpc: received unexpected payload format ${flag}`);
      return -1;
    }
    if (length > this.maxMessageBytes) {
      this.failMessage(statusResourceExhausted, `grpc: received message larger than max (${length} vs. ${this.maxMessageBytes})`);
      return -1;
    }
    return length;
  }

  /** Copies what [pos, to) holds of a message cut by a frame boundary; returns the new position. */
  private accumulate(buf: Buffer, pos: number, to: number): number {
    if (this.body === undefined) {
      this.prefix ??= Buffer.allocUnsafe(messagePrefixBytes);
      const n = Math.min(messagePrefixBytes - this.prefixFill, to - pos);
      buf.copy(this.prefix, this.prefixFill, pos, pos + n);
      this.prefixFill += n;
      pos += n;
      if (this.prefixFill < messagePrefixBytes) return pos;
      const length = this.checkPrefix(this.prefix, 0);
      if (length < 0) return to;
      if (!this.hold(length)) return to;
      this.body = Buffer.allocUnsafe(length);
      this.bodyFill = 0;
    }
    const body = this.body;
    const n = Math.min(body.length - this.bodyFill, to - pos);
    buf.copy(body, this.bodyFill, pos, pos + n);
    this.bodyFill += n;
    pos += n;
    if (this.bodyFill === body.length) {
      this.prefix = undefined;
      this.prefixFill = 0;
      this.body = undefined;
      this.release(body.length);
      this.deliver(body, true);
    }
    return pos;
  }

  /** Hands a message to the call, or queues it while the call is paused (owned: already a buffer of its own). */
  private deliver(message: Buffer, owned: boolean): void {
    if (!this.readPaused && this.inbox === undefined) {
      this.listener!.onMessage(message);
      return;
    }
    // A queued message must not pin the socket read it came in.
    const copy = owned ? message : Buffer.from(message);
    if (!this.hold(copy.length)) return;
    (this.inbox ??= []).push(copy);
  }

  private deliverInbox(): void {
    while (this.inbox !== undefined && !this.readPaused && !this.localClosed) {
      const message = this.inbox.shift()!;
      if (this.inbox.length === 0) this.inbox = undefined;
      this.release(message.length);
      this.listener!.onMessage(message);
    }
    if (this.localClosed || this.inbox !== undefined) return;
    if (this.remoteClosed && this.prefix === undefined) this.deliverHalfClose();
    this.maybeReturnCredit();
  }

  private deliverHalfClose(): void {
    if (this.halfCloseDelivered || this.inbox !== undefined || this.readPaused) return;
    this.halfCloseDelivered = true;
    this.listener!.onHalfClose();
  }

  /** Returns received credit once the call has caught up, a quarter window at a time. */
  private maybeReturnCredit(): void {
    if (this.inbox !== undefined || this.closed) return;
    this.recvUnacked += this.heldCredit;
    this.heldCredit = 0;
    if (this.remoteClosed || this.recvUnacked < this.connection.streamWindowBytes / 4) return;
    const output = this.connection.output;
    output.header(4, FrameType.WindowUpdate, 0, this.id);
    output.uint32(this.recvUnacked);
    output.queueFlush();
    this.recvWindow += this.recvUnacked;
    this.recvUnacked = 0;
  }

  /** The transport refuses a request message: the call ends with this status, charged to the client like a reset. */
  private failMessage(code: number, message: string): void {
    this.prefix = undefined;
    this.body = undefined;
    this.listener!.onMessageError(code, message);
    this.connection.chargeReset();
  }

  // -------------------------------------------------------------------------
  // Sending.

  /** Writes the response HEADERS (a complete header block). Not flow-controlled, so it goes out at once. */
  sendHeaders(block: Buffer): void {
    assert(!this.headersSent && !this.localClosed);
    this.headersSent = true;
    this.connection.wroteStreamFrames = true;
    this.connection.output.frame(FrameType.Headers, Flag.EndHeaders, this.id, block);
    this.connection.output.queueFlush();
  }

  /**
   * Queues one message (its prefix written here). Returns false once the
   * stream holds streamSendHighWaterBytes or more of unsent output;
   * onWritable follows when it drops below. A stream that keeps writing far
   * past that is reset (ENHANCE_YOUR_CALM): its call ignores back-pressure.
   */
  sendMessage(message: Buffer, sent?: () => void): boolean {
    assert(this.headersSent);
    if (this.localClosed) return true;
    const size = messagePrefixBytes + message.length;
    const connection = this.connection;
    if (this.queue === undefined || this.queue.length === 0) {
      if (size <= this.sendWindow && size <= connection.sendWindow && size <= connection.peerMaxFrameBytes && !connection.outputBlocked()) {
        const output = connection.output;
        output.header(size, FrameType.Data, 0, this.id);
        output.uint8(0);
        output.uint32(message.length);
        output.bytes(message, 0, message.length);
        output.queueFlush();
        this.sendWindow -= size;
        connection.sendWindow -= size;
        connection.wroteStreamFrames = true;
        if (sent !== undefined) process.nextTick(sent);
        return true;
      }
    }
    if (this.refusesQueue(size)) {
      this.reset(ErrorCode.EnhanceYourCalm);
      return false;
    }
    const prefix = Buffer.allocUnsafe(messagePrefixBytes);
    prefix[0] = 0;
    prefix.writeUInt32BE(message.length, 1);
    this.enqueue({ bytes: prefix, offset: 0, sent: undefined, trailers: false });
    this.enqueue({ bytes: message, offset: 0, sent, trailers: false });
    this.pump(Infinity);
    if (this.queuedBytes < streamSendHighWaterBytes) return true;
    this.needDrain = true;
    return false;
  }

  /**
   * Whether a message that must wait for the client's windows may not:
   * a stream that ignores back-pressure (past streamSendQueuedBytesMax, or
   * past its high-water mark while the connection holds
   * connectionSendQueuedBytesMax), a first message on a connection that
   * already holds that much (a client that reads nothing while asking for
   * more), or one the server's budget refuses this connection.
   */
  private refusesQueue(size: number): boolean {
    const connection = this.connection;
    if (this.queue === undefined || this.queue.length === 0) {
      if (connection.sendQueuedBytes >= connectionSendQueuedBytesMax) return true;
    } else if (this.queuedBytes >= streamSendQueuedBytesMax
      || (connection.sendQueuedBytes >= connectionSendQueuedBytesMax && this.queuedBytes >= streamSendHighWaterBytes)) {
      return true;
    }
    return !connection.mayHold(size);
  }

  /**
   * Ends our side with a header block (trailers, or a trailers-only
   * response when no HEADERS went out): at once if nothing is queued,
   * otherwise after the queued messages.
   */
  sendTrailers(block: Buffer): void {
    if (this.localClosed) return;
    this.localClosed = true;
    this.headersSent = true;
    if (this.queue !== undefined && this.queue.length > 0) {
      this.enqueue({ bytes: block, offset: 0, sent: undefined, trailers: true });
      this.pump(Infinity);
      return;
    }
    this.writeTrailers(block);
  }

  /**
   * The unary fast path: HEADERS, one message and trailers in one go when
   * the windows allow (the common case); otherwise the same through the
   * queue.
   */
  sendUnary(headers: Buffer, message: Buffer, trailers: Buffer): void {
    if (this.localClosed) return;
    if (!this.headersSent) this.sendHeaders(headers);
    this.sendMessage(message);
    this.sendTrailers(trailers);
  }

  /**
   * Ends the stream with RST_STREAM; the call hears onCancel (unless it
   * already sent its trailers). A reset for anything but the handler's own
   * cancel is the client's doing, and charged to it.
   */
  reset(code: ErrorCode): void {
    if (this.closed) return;
    const output = this.connection.output;
    output.header(4, FrameType.RstStream, 0, this.id);
    output.uint32(code);
    output.queueFlush();
    this.abort();
    if (code !== ErrorCode.Cancel && code !== ErrorCode.NoError) this.connection.chargeReset();
  }

  /** The client reset the stream, or the connection is gone: drop everything, tell the call. */
  abort(): void {
    if (this.closed) return;
    const wasLocalClosed = this.localClosed;
    this.localClosed = true;
    this.dropQueue();
    this.close();
    if (!wasLocalClosed) this.listener?.onCancel();
  }

  /** A WINDOW_UPDATE for this stream. */
  addSendWindow(increment: number): void {
    if (increment === 0) throw new StreamError(this.id, ErrorCode.ProtocolError, 'WINDOW_UPDATE with a zero increment');
    this.sendWindow += increment;
    if (this.sendWindow > windowBytesMax) throw new StreamError(this.id, ErrorCode.FlowControlError, 'stream window above 2^31-1');
    if (this.queuedBytes > 0) this.pump(Infinity);
  }

  /** A SETTINGS_INITIAL_WINDOW_SIZE change moves every stream's window by the same amount (§6.9.2); it may go negative. */
  adjustSendWindow(delta: number): void {
    this.sendWindow += delta;
  }

  get hasQueuedOutput(): boolean {
    return this.queuedBytes > 0;
  }

  /**
   * Frames queued output while the windows and the socket allow, at most
   * `frames` DATA frames (the connection's round-robin passes 1). Returns
   * the number of frames written.
   */
  pump(frames: number): number {
    const queue = this.queue;
    const connection = this.connection;
    let written = 0;
    while (queue !== undefined && queue.length > 0) {
      if (queue[0].trailers) {
        const item = queue.shift()!;
        this.queuedBytes -= item.bytes.length;
        connection.sendQueuedBytes -= item.bytes.length;
        connection.budget.add(-item.bytes.length);
        this.writeTrailers(item.bytes);
        return written;
      }
      if (connection.outputBlocked() || connection.sendWindow <= 0 || written >= frames) {
        connection.waitToSend(this);
        break;
      }
      if (this.sendWindow <= 0) break; // a WINDOW_UPDATE on this stream resumes it
      const n = Math.min(this.sendWindow, connection.sendWindow, connection.peerMaxFrameBytes, this.dataBytesAhead());
      this.writeData(n);
      written++;
    }
    this.maybeDrain();
    return written;
  }

  /** Queued message bytes before the next trailers item (what DATA frames may carry now). */
  private dataBytesAhead(): number {
    let n = 0;
    for (const item of this.queue!) {
      if (item.trailers) break;
      n += item.bytes.length - item.offset;
      if (n >= 2 ** 24) break;
    }
    return n;
  }

  /** One DATA frame of n bytes taken from the head of the queue. */
  private writeData(n: number): void {
    const output = this.connection.output;
    output.header(n, FrameType.Data, 0, this.id);
    let left = n;
    const queue = this.queue!;
    // Empty items (the body of an empty message) are taken too, so the queue never stalls on one.
    while (left > 0 || (queue.length > 0 && !queue[0].trailers && queue[0].offset === queue[0].bytes.length)) {
      const item = queue[0];
      const take = Math.min(left, item.bytes.length - item.offset);
      output.bytes(item.bytes, item.offset, item.offset + take);
      item.offset += take;
      left -= take;
      if (item.offset === item.bytes.length) {
        queue.shift();
        if (item.sent !== undefined) process.nextTick(item.sent);
      }
    }
    output.queueFlush();
    this.sendWindow -= n;
    this.connection.sendWindow -= n;
    this.queuedBytes -= n;
    this.connection.sendQueuedBytes -= n;
    this.connection.budget.add(-n);
    this.connection.wroteStreamFrames = true;
  }

  private writeTrailers(block: Buffer): void {
    const output = this.connection.output;
    this.connection.wroteStreamFrames = true;
    output.frame(FrameType.Headers, Flag.EndHeaders | Flag.EndStream, this.id, block);
    // gRPC: a server that finishes before the client does tells it to stop sending (RST_STREAM NO_ERROR).
    if (!this.remoteClosed) {
      output.header(4, FrameType.RstStream, 0, this.id);
      output.uint32(ErrorCode.NoError);
    }
    output.queueFlush();
    this.close();
  }

  private enqueue(item: Pending): void {
    (this.queue ??= []).push(item);
    this.queuedBytes += item.bytes.length;
    this.connection.sendQueuedBytes += item.bytes.length;
    this.connection.budget.add(item.bytes.length);
  }

  private dropQueue(): void {
    this.connection.sendQueuedBytes -= this.queuedBytes;
    this.connection.budget.add(-this.queuedBytes);
    this.queuedBytes = 0;
    this.queue = undefined;
  }

  private maybeDrain(): void {
    if (!this.needDrain || this.queuedBytes >= streamSendHighWaterBytes || this.localClosed) return;
    this.needDrain = false;
    process.nextTick(() => {
      if (!this.localClosed) this.listener?.onWritable();
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.localClosed = true;
    if (this.buffered > 0) this.release(this.buffered);
    this.inbox = undefined;
    this.body = undefined;
    this.prefix = undefined;
    this.dropQueue();
    this.connection.streamClosed(this);
  }
}

export { statusInternal, statusResourceExhausted, statusUnimplemented };
