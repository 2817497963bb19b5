import { grpcHeaderBytes } from './protobuf.js';

/**
 * Splits the DATA payloads of one gRPC stream into messages (each a 5-byte
 * header: compression flag and length, then the protobuf bytes).
 *
 * Messages that lie whole inside one payload are handed over in place, as
 * a range of the socket's buffer: no copy, no allocation. That is the common
 * case for watch events and keep-alive responses, which are small and which
 * servers write back to back. A message cut by a frame or socket-read
 * boundary is copied once into a buffer of its exact size.
 */

/** Receives one message: its protobuf bytes are buf[start, end), valid only during the call. */
export type MessageHandler = (buf: Buffer, start: number, end: number) => void;

export class GrpcMessageReader {
  private readonly header = Buffer.alloc(grpcHeaderBytes);
  private headerFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;

  constructor(private readonly onMessage: MessageHandler) {}

  /** True while a message has been started and not finished (a stream ending now was cut short). */
  get partial(): boolean {
    return this.headerFill > 0;
  }

  push(buf: Buffer, start: number, end: number): void {
    let pos = start;
    while (pos < end) {
      if (this.headerFill === 0 && end - pos >= grpcHeaderBytes) {
        const length = messageLength(buf, pos);
        const bodyStart = pos + grpcHeaderBytes;
        if (end - bodyStart >= length) {
          pos = bodyStart + length;
          this.onMessage(buf, bodyStart, pos);
          continue;
        }
      }
      pos = this.accumulate(buf, pos, end);
    }
  }

  /** Copies as much of a cut message as [pos, end) holds; returns the new position. */
  private accumulate(buf: Buffer, pos: number, end: number): number {
    if (this.headerFill < grpcHeaderBytes) {
      const n = Math.min(grpcHeaderBytes - this.headerFill, end - pos);
      buf.copy(this.header, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill < grpcHeaderBytes) return pos;
      this.body = Buffer.allocUnsafe(messageLength(this.header, 0));
      this.bodyFill = 0;
    }
    const body = this.body!;
    const n = Math.min(body.length - this.bodyFill, end - pos);
    buf.copy(body, this.bodyFill, pos, pos + n);
    this.bodyFill += n;
    pos += n;
    if (this.bodyFill === body.length) {
      this.headerFill = 0;
      this.body = undefined;
      this.onMessage(body, 0, body.length);
    }
    return pos;
  }
}

function messageLength(buf: Buffer, offset: number): number {
  // We never ask for compression (no grpc-accept-encoding), so a server must not use it.
  if (buf[offset] !== 0) throw new Error('gRPC: compressed message received although none was accepted');
  return buf.readUInt32BE(offset + 1);
}
