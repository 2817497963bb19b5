import assert from 'node:assert';

/**
 * Just enough ASN.1 DER (ITU-T X.690) to write X.509 certificates and CRLs
 * (RFC 5280) and to read the serial numbers out of a CRL. Encoding builds
 * nested Buffers bottom-up; decoding walks tag-length-value triples with every
 * length checked against what is left, so a hostile file can only be refused.
 */

export const enum Tag {
  Boolean = 0x01,
  Integer = 0x02,
  BitString = 0x03,
  OctetString = 0x04,
  Null = 0x05,
  Oid = 0x06,
  Utf8String = 0x0c,
  PrintableString = 0x13,
  Ia5String = 0x16,
  UtcTime = 0x17,
  GeneralizedTime = 0x18,
  Sequence = 0x30,
  Set = 0x31,
}

/** A malformed DER structure. */
export class DerError extends Error {
  constructor(message: string) {
    super(`malformed DER: ${message}`);
    this.name = 'DerError';
  }
}

// ---------------------------------------------------------------------------
// Encoding.

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(Tag.Sequence, Buffer.concat(items));

/** A SET OF: DER sorts the encodings of its elements. */
export const set = (...items: Buffer[]): Buffer => tlv(Tag.Set, Buffer.concat([...items].sort(Buffer.compare)));

/** Context-specific tag [n], constructed (explicit tagging) unless `primitive`. */
export const contextTag = (n: number, content: Buffer, primitive = false): Buffer => tlv((primitive ? 0x80 : 0xa0) | n, content);

export const nullValue = (): Buffer => tlv(Tag.Null, Buffer.alloc(0));

export const booleanValue = (value: boolean): Buffer => tlv(Tag.Boolean, Buffer.from([value ? 0xff : 0x00]));

export const octetString = (bytes: Buffer): Buffer => tlv(Tag.OctetString, bytes);

export const utf8String = (text: string): Buffer => tlv(Tag.Utf8String, Buffer.from(text, 'utf8'));


/** A BIT STRING with no unused bits. */
export const bitString = (bytes: Buffer): Buffer => tlv(Tag.BitString, Buffer.concat([Buffer.from([0]), bytes]));

/** An INTEGER from a non-negative bigint (two's complement: a high first bit gets a 0x00 octet before it). */
export function integer(value: bigint): Buffer {
  assert(value >= 0n, 'only non-negative integers are written');
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(Tag.Integer, bytes);
}

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  assert(arcs.length >= 2 && arcs[0]! <= 2n, `bad OID ${dotted}`);
  const octets: number[] = [];
  const push = (arc: bigint): void => {
    const group: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    octets.push(...group);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(Tag.Oid, Buffer.from(octets));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-06T01:02:03.456Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261206010203
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.UtcTime, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  return tlv(Tag.GeneralizedTime, Buffer.from(`${digits}Z`, 'latin1'));
}

// ---------------------------------------------------------------------------
// Decoding.

export interface Element {
  tag: number;
  /** The content octets (a view of the input). */
  content: Buffer;
  /** The whole encoding, tag and length included. */
  encoded: Buffer;
}

/** Nesting we follow at most: X.509 structures are a handful of levels deep. */
const depthMax = 32;

/** Reads one element at `offset`; its end is offset + encoded.length. */
export function readElement(input: Buffer, offset = 0): Element {
  if (offset + 2 > input.length) throw new DerError('truncated header');
  const tag = input[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-octet tags are not used here');
  let length = input[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // Four octets describe any length a Buffer can hold; 0x80 (indefinite) is BER, not DER.
    if (octets === 0 || octets > 4) throw new DerError(`unsupported length form 0x${length.toString(16)}`);
    if (pos + octets > input.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + input[pos + i]!;
    pos += octets;
  }
  if (length > input.length - pos) throw new DerError(`length ${length} beyond the input`);
  return { tag, content: input.subarray(pos, pos + length), encoded: input.subarray(offset, pos + length) };
}

/** The elements inside a constructed element, in order. */
export function children(parent: Element, depth = 0): Element[] {
  if (depth > depthMax) throw new DerError('nested too deeply');
  const out: Element[] = [];
  for (let pos = 0; pos < parent.content.length;) {
    const element = readElement(parent.content, pos);
    out.push(element);
    pos += element.encoded.length;
  }
  return out;
}

export function expectTag(element: Element | undefined, tag: number, what: string): Element {
  if (element === undefined) throw new DerError(`${what} missing`);
  if (element.tag !== tag) throw new DerError(`${what}: tag 0x${element.tag.toString(16)}, want 0x${tag.toString(16)}`);
  return element;
}

/** An INTEGER's value as lower-case hex without leading zeros (the form x509.ts compares serial numbers in). */
export function integerHex(element: Element): string {
  expectTag(element, Tag.Integer, 'INTEGER');
  if (element.content.length === 0) throw new DerError('empty INTEGER');
  return element.content.toString('hex').replace(/^0+(?=.)/, '');
}
