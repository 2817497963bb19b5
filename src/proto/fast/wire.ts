/**
 * Exact-size protobuf writing for the few messages on the hot path (every
 * put encodes a request, a stored KeyValue and a WAL entry). The generated
 * encoders grow a buffer by doubling and copy it three times per message;
 * these compute the size first and write once into a Buffer of that size.
 * They must produce exactly the bytes of the generated encoders (proto3:
 * fields in number order, zero values omitted); tests compare the two.
 */

export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 0x800000000) return 5;
  // Up to 2^53: each further 7 bits.
  let size = 5;
  let rest = Math.floor(v / 0x800000000);
  while (rest > 0) {
    size++;
    rest = Math.floor(rest / 0x80);
  }
  return size;
}

/** Varint size of an int64/uint64 field value (negative int64 takes 10 bytes, as two's complement). */
export function varint64Size(v: bigint): number {
  if (v >= 0n && v <= 0x1fffffffffffffn) return varintSize(Number(v));
  // Past 2^53 (member and cluster ids, negative values): the high word has bits set.
  const hi = Number(BigInt.asUintN(32, BigInt.asUintN(64, v) >> 32n));
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

export function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

export function writeVarint64(buf: Buffer, pos: number, v: bigint): number {
  if (v >= 0n && v <= 0x1fffffffffffffn) return writeVarint(buf, pos, Number(v));
  // Two 32-bit words instead of a BigInt per 7 bits: ids are random 64-bit values.
  const u = BigInt.asUintN(64, v);
  let lo = Number(u & 0xffffffffn);
  let hi = Number(u >> 32n);
  while (hi !== 0) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** Size of a length-delimited field (tag + length + payload) with a 1-byte tag. */
export function bytesFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

export function writeBytesField(buf: Buffer, pos: number, tag: number, bytes: Uint8Array): number {
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** Size of a varint field with a 1-byte tag, 0 when the value is zero (omitted). */
export function varint64FieldSize(v: bigint): number {
  return v === 0n ? 0 : 1 + varint64Size(v);
}

export function writeVarint64Field(buf: Buffer, pos: number, tag: number, v: bigint): number {
  if (v === 0n) return pos;
  buf[pos++] = tag;
  return writeVarint64(buf, pos, v);
}
