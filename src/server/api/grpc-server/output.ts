import assert from 'node:assert';
import type { Socket } from 'node:net';
import { FrameType, frameHeaderBytes } from './frames.js';
import { outputChunkBytes, outputCopyBytesMax, outputInitialBytes } from './limits.js';

/**
 * Where a connection's frames gather before they reach the socket.
 *
 * Frames are written back to back into one buffer and the socket sees one
 * write per batch (the frames produced while handling a socket read, or by
 * the responses of one turn of the event loop), not one per frame: on a
 * busy connection that is the difference between a few and a hundred
 * syscalls. Large payloads (big messages, snapshot chunks) are not copied:
 * the buffer so far and the payload go out as separate chunks of one
 * corked write.
 */
export class FrameOutput {
  /** Starts small (an idle connection holds little) and grows to outputChunkBytes at its first busy batch. */
  private buffer = Buffer.allocUnsafe(outputInitialBytes);
  private length = 0;
  /** Chunks sealed before the current buffer, in order, when a batch holds uncopied payloads. */
  private sealed: Buffer[] = [];
  private sealedBytes = 0;
  private flushQueued = false;
  private readonly flushBound = (): void => this.flush();

  /** @param flushed called after each write to the socket (the connection watches the socket's backlog there). */
  constructor(private readonly socket: Socket, private readonly flushed: () => void) {}

  /** Bytes gathered and not yet handed to the socket. */
  get pendingBytes(): number {
    return this.length + this.sealedBytes;
  }

  /** A frame whose payload is `payload[start, end)`. */
  frame(type: FrameType, flags: number, streamId: number, payload: Buffer, start = 0, end = payload.length): void {
    this.header(end - start, type, flags, streamId);
    this.bytes(payload, start, end);
  }

  /** A frame header; its payload follows through bytes() (exactly `length` of them). */
  header(length: number, type: FrameType, flags: number, streamId: number): void {
    this.reserve(frameHeaderBytes);
    const out = this.buffer;
    let o = this.length;
    out[o++] = length >>> 16;
    out[o++] = (length >>> 8) & 0xff;
    out[o++] = length & 0xff;
    out[o++] = type;
    out[o++] = flags;
    out.writeUInt32BE(streamId, o);
    this.length = o + 4;
  }

  /** Payload bytes: copied when small, handed over as they are when large (they must not change afterwards). */
  bytes(source: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    if (n >= outputCopyBytesMax) {
      this.seal();
      this.sealed.push(start === 0 && end === source.length ? source : source.subarray(start, end));
      this.sealedBytes += n;
      return;
    }
    this.reserve(n);
    source.copy(this.buffer, this.length, start, end);
    this.length += n;
  }

  uint8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** A 4-octet payload field (RST_STREAM and WINDOW_UPDATE payloads, GOAWAY fields). */
  uint32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32BE(value, this.length);
    this.length += 4;
  }

  /**
   * Writes the batch once this turn of the event loop is over: after every
   * socket read of this poll phase and the promise reactions they caused
   * (setImmediate, not nextTick, which would run before those reactions and
   * split a batch of responses into several writes).
   */
  queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(this.flushBound);
  }

  /** Hands everything gathered to the socket now. */
  flush(): void {
    this.flushQueued = false;
    if (this.length === 0 && this.sealed.length === 0) return;
    if (this.socket.destroyed) {
      this.discard();
      return;
    }
    if (this.sealed.length === 0) {
      this.socket.write(this.take());
    } else {
      this.seal();
      const chunks = this.sealed;
      this.sealed = [];
      this.sealedBytes = 0;
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    }
    this.flushed();
  }

  /** Drops everything gathered (the connection is being torn down). */
  discard(): void {
    this.sealed = [];
    this.sealedBytes = 0;
    this.length = 0;
  }

  /**
   * The buffer's content as a chunk the socket may keep: a small batch is
   * copied (from Node's pool), a large one handed over with a fresh buffer
   * taking its place.
   */
  private take(): Buffer {
    let chunk: Buffer;
    if (this.length < outputCopyBytesMax) {
      chunk = Buffer.from(this.buffer.subarray(0, this.length));
    } else {
      chunk = this.buffer.subarray(0, this.length);
      this.buffer = Buffer.allocUnsafe(outputChunkBytes);
    }
    this.length = 0;
    return chunk;
  }

  private seal(): void {
    if (this.length === 0) return;
    const chunk = this.take();
    this.sealed.push(chunk);
    this.sealedBytes += chunk.length;
  }

  private reserve(bytes: number): void {
    assert(bytes <= outputChunkBytes);
    if (this.length + bytes <= this.buffer.length) return;
    if (this.buffer.length < outputChunkBytes) {
      const grown = Buffer.allocUnsafe(outputChunkBytes);
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
      return;
    }
    this.seal();
  }
}
