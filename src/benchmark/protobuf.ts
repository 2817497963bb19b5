/**
 * The few protobuf wire-format pieces the load generator writes and reads by
 * hand. The generated ts-proto code is never on the hot path: it allocates
 * an object per message and field, and with two cores every µs the client
 * spends is taken from the server under test (bench/README.md). Everything
 * here is checked against the generated code by bench/verify-client.js.
 */

/** Bytes before each gRPC message: a compression flag and a 32-bit length. */
export const grpcHeaderBytes = 5;

export const enum WireType { Varint = 0, Fixed64 = 1, Delimited = 2, Fixed32 = 5 }

// The writers are the server's own exact-size ones (same bytes, same tests).
export { varintSize as varintBytes, writeVarint, writeBytesField, bytesFieldSize as bytesFieldLength } from '../proto/fast/wire.js';

/** An int64 as protobuf encodes it: two's complement, so negative values take ten bytes. */
export function encodeVarint64(value: bigint): Buffer {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** Fills in the 5-byte gRPC header of a buffer holding one whole message. */
export function writeFrameHeader(buf: Buffer): void {
  buf[0] = 0; // not compressed
  buf.writeUInt32BE(buf.length - grpcHeaderBytes, 1);
}

/** A gRPC frame (header + message) holding `message`. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(grpcHeaderBytes + message.length);
  message.copy(frame, grpcHeaderBytes);
  writeFrameHeader(frame);
  return frame;
}

const twoTo63 = 2 ** 63;
const twoTo64 = 2 ** 64;

/**
 * A cursor over one encoded message, allocation-free: decoding a watch
 * event or a keep-alive response costs a few varint reads. Numbers come
 * back as JS numbers (exact below 2^53, which revisions and TTLs are);
 * `varint64` gives a bigint where exactness matters (lease ids).
 */
export class ProtoReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  /** The bounds of the last length-delimited field read by `delimited()`. */
  fieldStart = 0;
  fieldEnd = 0;

  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  /** The next field's tag (field number << 3 | wire type), or -1 at the end of the message. */
  tag(): number {
    return this.pos < this.end ? this.varint() : -1;
  }

  varint(): number {
    const buf = this.buf;
    let b = buf[this.pos++];
    if (b < 0x80) return b;
    let result = b & 0x7f;
    let scale = 128;
    for (let i = 1; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('protobuf: truncated varint');
      b = buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new RangeError('protobuf: varint longer than ten bytes');
  }

  /** A signed int64 as a number (negative values come back negative, approximately when huge). */
  int64(): number {
    const n = this.varint();
    return n >= twoTo63 ? n - twoTo64 : n;
  }

  varint64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('protobuf: truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new RangeError('protobuf: varint longer than ten bytes');
  }

  /** Reads a length-delimited field's bounds into fieldStart/fieldEnd and moves past it. */
  delimited(): void {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new RangeError('protobuf: field runs past the end of the message');
    this.fieldStart = start;
    this.fieldEnd = start + length;
    this.pos = start + length;
  }

  skip(tag: number): void {
    switch (tag & 7) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.pos += 8;
        return;
      case WireType.Delimited:
        this.delimited();
        return;
      case WireType.Fixed32:
        this.pos += 4;
        return;
      default:
        throw new RangeError(`protobuf: unsupported wire type ${tag & 7}`);
    }
  }
}
