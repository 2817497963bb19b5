import assert from 'node:assert';
import { hpackIntegerContinuationOctetsMax, hpackIntegerMax, hpackSizeUpdatesPerBlockMax } from './grpc-server/limits.js';
import { validFieldValue, validNameOrPseudo } from './grpc-server/http-fields.js';

/**
 * HPACK (RFC 7541), as our HTTP/2 server needs it: a full decoder
 * (integers, Huffman strings, static and dynamic tables, size updates)
 * that stays within its limits whatever a client sends (bounded integers,
 * table and list sizes; grpc-server/limits.ts), and an encoder that never
 * touches the peer's dynamic table.
 *
 * Header names and values are latin1 strings: HPACK strings are octets, and
 * latin1 maps each octet to one UTF-16 unit and back, so a decode/encode
 * round trip is byte-exact whatever the client sent.
 */

/** A malformed header block (RFC 7541 section 6, COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(`hpack: ${message}`);
    this.name = 'HpackError';
  }
}

export interface HeaderField {
  name: string;
  value: string;
  /** Sent as "never indexed" (section 6.2.3); an intermediary must keep it so. */
  sensitive: boolean;
}

/** A table entry, with the validity of its name and value worked out once. */
interface Entry {
  readonly name: string;
  readonly value: string;
  readonly badName: boolean;
  readonly badValue: boolean;
}

/** Section 4.1: every table entry costs its octets plus this overhead. */
export const entryOverheadBytes = 32;

/** RFC 7541 Appendix A, index 1 first. */
const staticPairs: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'],
  [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'], [':status', '200'],
  [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'],
  [':status', '404'], [':status', '500'], ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''], ['accept-ranges', ''], ['accept', ''], ['access-control-allow-origin', ''],
  ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''],
  ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''],
  ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
  ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
assert.equal(staticPairs.length, 61);
const staticTable: readonly Entry[] = staticPairs.map(([name, value]) => ({ name, value, badName: false, badValue: false }));

/** First static index of each name, and the index of each exact (name, value) pair. */
const staticNameIndex = new Map<string, number>();
const staticPairIndex = new Map<string, Map<string, number>>();
staticPairs.forEach(([name, value], i) => {
  if (!staticNameIndex.has(name)) staticNameIndex.set(name, i + 1);
  let byValue = staticPairIndex.get(name);
  if (byValue === undefined) staticPairIndex.set(name, (byValue = new Map()));
  byValue.set(value, i + 1);
});

// ---------------------------------------------------------------------------
// Huffman code (Appendix B).
//
// The code is canonical: within one length, codes are consecutive in symbol
// order, and each length's first code follows the previous length's last
// code shifted left. So the bit lengths alone define it; the codes are
// derived below and checked against the one fact that pins them all: EOS
// (symbol 256) is the last code, thirty one-bits.

/** Code length in bits of symbols 0..255, sixteen per row; EOS (256) is 30. */
const huffmanLengths: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // ' ' .. '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // '0' .. '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // '@' .. 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 'P' .. '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // '`' .. 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 'p' .. 0x7f
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // EOS
];
const eosSymbol = 256;
const huffmanLengthMax = 30;

interface HuffmanCode {
  /** codes[s] is the code of symbol s, in its low huffmanLengths[s] bits. */
  codes: Uint32Array;
  /** Per bit length: the first code, how many codes, and where they start in bySymbolOrder. */
  firstCode: Int32Array;
  count: Int32Array;
  start: Int32Array;
  /** Symbols sorted by (length, symbol): the canonical order. */
  canonicalOrder: Uint16Array;
}

const huffman = buildCanonicalCode(huffmanLengths);

function buildCanonicalCode(lengths: readonly number[]): HuffmanCode {
  assert.equal(lengths.length, 257);
  const canonicalOrder = Uint16Array.from(lengths.keys()).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const codes = new Uint32Array(lengths.length);
  const firstCode = new Int32Array(huffmanLengthMax + 1);
  const count = new Int32Array(huffmanLengthMax + 1);
  const start = new Int32Array(huffmanLengthMax + 1);
  let code = 0;
  let length = lengths[canonicalOrder[0]];
  canonicalOrder.forEach((symbol, i) => {
    const l = lengths[symbol];
    if (i > 0) code = (code + 1) * 2 ** (l - length);
    if (count[l] === 0) {
      firstCode[l] = code;
      start[l] = i;
    }
    count[l]++;
    codes[symbol] = code;
    length = l;
  });
  // The derivation is right only if the code is complete and ends in EOS = 0x3fffffff.
  assert.equal(canonicalOrder[canonicalOrder.length - 1], eosSymbol);
  assert.equal(codes[eosSymbol], 2 ** huffmanLengthMax - 1);
  return { codes, firstCode, count, start, canonicalOrder };
}

/** Decodes a Huffman string (section 5.2), rejecting EOS and any padding that is not a short run of ones. */
export function huffmanDecode(input: Buffer): Buffer {
  // The shortest code has 5 bits, so n octets hold at most 8n/5 symbols.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let o = 0;
  // The code is complete (its last code is all ones, checked at load), so
  // every 30 bits hold a symbol's end and `length` never passes 30.
  let code = 0;
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const octet = input[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((octet >> bit) & 1);
      length++;
      const offset = code - huffman.firstCode[length];
      if (huffman.count[length] > 0 && offset >= 0 && offset < huffman.count[length]) {
        const symbol = huffman.canonicalOrder[huffman.start[length] + offset];
        if (symbol === eosSymbol) throw new HpackError('EOS in Huffman string');
        out[o++] = symbol;
        code = 0;
        length = 0;
      }
    }
  }
  if (length > 7 || code !== 2 ** length - 1) throw new HpackError('invalid Huffman padding');
  return out.subarray(0, o);
}

export function huffmanEncodedBytes(input: Buffer): number {
  let bits = 0;
  for (let i = 0; i < input.length; i++) bits += huffmanLengths[input[i]];
  return Math.ceil(bits / 8);
}

/** Huffman-encodes input into out at offset; returns the offset after the last octet written. */
function huffmanEncodeInto(input: Buffer, out: Buffer, offset: number): number {
  // acc holds fewer than 8 pending bits between symbols; with a 30-bit code
  // appended it stays below 2^38, exact in a double (bit operators would overflow).
  let acc = 0;
  let bits = 0;
  let o = offset;
  for (let i = 0; i < input.length; i++) {
    const length = huffmanLengths[input[i]];
    acc = acc * 2 ** length + huffman.codes[input[i]];
    bits += length;
    while (bits >= 8) {
      bits -= 8;
      const octet = Math.floor(acc / 2 ** bits);
      out[o++] = octet;
      acc -= octet * 2 ** bits;
    }
  }
  // Pad with the most significant bits of EOS, which are all ones.
  if (bits > 0) out[o++] = (acc << (8 - bits)) | ((1 << (8 - bits)) - 1);
  return o;
}

export function huffmanEncode(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedBytes(input));
  const end = huffmanEncodeInto(input, out, 0);
  assert.equal(end, out.length);
  return out;
}

// ---------------------------------------------------------------------------
// Decoder.

/**
 * The dynamic table (section 2.3.2): newest entry last, so HPACK index
 * 62 is entries[entries.length - 1]. It holds at most tableBytesMax / 32
 * entries (128 at the default 4096), so eviction by shift() stays cheap.
 */
class DynamicTable {
  private readonly entries: Entry[] = [];
  private bytes = 0;

  constructor(public maxBytes: number) {}

  get(index: number): Entry | undefined {
    return this.entries[this.entries.length - index];
  }

  add(entry: Entry): void {
    const size = entry.name.length + entry.value.length + entryOverheadBytes;
    this.evictTo(this.maxBytes - size);
    // Section 4.4: an entry larger than the table empties it and is not added.
    if (size > this.maxBytes) return;
    this.entries.push(entry);
    this.bytes += size;
    assert(this.bytes <= this.maxBytes);
  }

  /** Entries newest first (HPACK index 62 first), and their size in the section 4.1 sense. */
  snapshot(): { entries: [string, string][]; bytes: number } {
    return { entries: this.entries.map((e) => [e.name, e.value] as [string, string]).reverse(), bytes: this.bytes };
  }

  resize(maxBytes: number): void {
    // A size that is not a finite count would switch eviction off (NaN compares false with everything).
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0);
    this.maxBytes = maxBytes;
    this.evictTo(maxBytes);
  }

  private evictTo(bytes: number): void {
    while (this.bytes > Math.max(bytes, 0)) {
      const { name, value } = this.entries.shift()!;
      this.bytes -= name.length + value.length + entryOverheadBytes;
    }
    assert(this.bytes >= 0);
  }
}

/**
 * Decodes the header blocks of one direction of one connection, in order:
 * its dynamic table mirrors the peer encoder's, so every block must pass
 * through it exactly once. After an HpackError the table is unusable and the
 * connection must be closed.
 */
export class HpackDecoder {
  private readonly table: DynamicTable;
  private block: Buffer = Buffer.alloc(0);
  private pos = 0;
  /**
   * Whether the last block decoded had a field with octets HTTP/2 forbids
   * (RFC 9113 §8.2.1, http-fields.ts; a single leading ':' is left to the
   * pseudo-header rules): a malformed request. Worked out once per literal,
   * so fields a client refers to in its dynamic table cost nothing per
   * request.
   */
  malformed = false;

  /**
   * @param tableBytesMax the SETTINGS_HEADER_TABLE_SIZE the decoding side advertised: the encoder may not exceed it.
   * @param listBytesMax bound on one decoded header list (names, values and 32 octets per field), so indexed
   *   references to big entries cannot inflate a small block without limit.
   */
  constructor(private readonly tableBytesMax: number, private readonly listBytesMax: number) {
    this.table = new DynamicTable(tableBytesMax);
  }

  /** The dynamic table, newest entry first: for tests and debugging. */
  dynamicTable(): { entries: [string, string][]; bytes: number } {
    return this.table.snapshot();
  }

  decode(block: Buffer): HeaderField[] {
    this.block = block;
    this.pos = 0;
    const fields: HeaderField[] = [];
    let listBytes = 0;
    let sizeUpdates = 0;
    this.malformed = false;
    while (this.pos < block.length) {
      const field = this.decodeRepresentation(fields.length === 0);
      if (field === undefined) {
        if (++sizeUpdates > hpackSizeUpdatesPerBlockMax) throw new HpackError(`more than ${hpackSizeUpdatesPerBlockMax} dynamic table size updates`);
        continue;
      }
      listBytes += field.name.length + field.value.length + entryOverheadBytes;
      if (listBytes > this.listBytesMax) throw new HpackError(`header list larger than ${this.listBytesMax} bytes`);
      fields.push(field);
    }
    this.block = Buffer.alloc(0);
    return fields;
  }

  /** Decodes one representation (section 6); undefined for a table size update. */
  private decodeRepresentation(atStart: boolean): HeaderField | undefined {
    const first = this.block[this.pos];
    if (first & 0x80) return this.indexed(this.integer(7));
    if ((first & 0xc0) === 0x40) {
      const entry = this.literal(this.integer(6));
      this.table.add(entry);
      return this.fieldOf(entry, false);
    }
    if ((first & 0xe0) === 0x20) {
      // Section 4.2: size updates come first in a block, before any field.
      if (!atStart) throw new HpackError('dynamic table size update after a header field');
      const size = this.integer(5);
      if (size > this.tableBytesMax) throw new HpackError(`dynamic table size ${size} above ${this.tableBytesMax}`);
      this.table.resize(size);
      return undefined;
    }
    // 0001xxxx never indexed, 0000xxxx without indexing.
    const sensitive = (first & 0x10) !== 0;
    return this.fieldOf(this.literal(this.integer(4)), sensitive);
  }

  private indexed(index: number): HeaderField {
    return this.fieldOf(this.entry(index), false);
  }

  private fieldOf(entry: Entry, sensitive: boolean): HeaderField {
    if (entry.badName || entry.badValue) this.malformed = true;
    return { name: entry.name, value: entry.value, sensitive };
  }

  /** A literal's name (new, or a table entry's) and value, with their validity. */
  private literal(nameIndex: number): Entry {
    let name: string;
    let badName: boolean;
    if (nameIndex === 0) {
      name = this.string();
      badName = !validNameOrPseudo(name);
    } else {
      const named = this.entry(nameIndex);
      name = named.name;
      badName = named.badName;
    }
    const value = this.string();
    return { name, value, badName, badValue: !validFieldValue(value) };
  }

  private entry(index: number): Entry {
    if (index === 0) throw new HpackError('index 0');
    const entry = index <= staticTable.length ? staticTable[index - 1] : this.table.get(index - staticTable.length);
    if (entry === undefined) throw new HpackError(`index ${index} beyond the tables`);
    return entry;
  }

  /**
   * Section 5.1: an integer with an N-bit prefix in the current octet. At
   * most hpackIntegerContinuationOctetsMax octets follow the prefix, so the
   * value stays an exact, finite number below 2^29 whatever the input, and
   * anything above hpackIntegerMax is refused.
   */
  private integer(prefixBits: number): number {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError('truncated integer');
    const prefixMax = (1 << prefixBits) - 1;
    let value = block[this.pos++] & prefixMax;
    if (value < prefixMax) return value;
    let weight = 1;
    for (let octets = 1; ; octets++) {
      if (octets > hpackIntegerContinuationOctetsMax) throw new HpackError(`integer too large: more than ${hpackIntegerContinuationOctetsMax} continuation octets`);
      if (this.pos >= block.length) throw new HpackError('truncated integer');
      const octet = block[this.pos++];
      value += (octet & 0x7f) * weight;
      if ((octet & 0x80) === 0) break;
      weight *= 128;
    }
    if (value > hpackIntegerMax) throw new HpackError('integer too large');
    return value;
  }

  /** Section 5.2: a string literal, raw or Huffman-coded. */
  private string(): string {
    if (this.pos >= this.block.length) throw new HpackError('truncated string');
    const huffmanCoded = (this.block[this.pos] & 0x80) !== 0;
    const length = this.integer(7);
    if (length > this.block.length - this.pos) throw new HpackError('string longer than its block');
    const raw = this.block.subarray(this.pos, this.pos + length);
    this.pos += length;
    return (huffmanCoded ? huffmanDecode(raw) : raw).toString('latin1');
  }
}

// ---------------------------------------------------------------------------
// Encoder.

/**
 * Encodes a header list using only representations that leave the decoder's
 * dynamic table alone: static indexed fields, and literals "without indexing"
 * ("never indexed" for sensitive fields), with a static name index where one
 * exists. A decoder's table therefore stays exactly as it was (empty, for a
 * connection that only ever receives such blocks). Strings are Huffman-coded
 * when that is shorter, as most encoders do, unless `huffman` is false.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[], options: { huffman?: boolean } = {}): Buffer {
  const huffman = options.huffman ?? true;
  const parts: Buffer[] = [];
  for (const field of fields) {
    const pairIndex = field.sensitive ? undefined : staticPairIndex.get(field.name)?.get(field.value);
    if (pairIndex !== undefined) {
      parts.push(encodeInteger(pairIndex, 7, 0x80));
      continue;
    }
    const nameIndex = staticNameIndex.get(field.name) ?? 0;
    parts.push(encodeInteger(nameIndex, 4, field.sensitive ? 0x10 : 0x00));
    if (nameIndex === 0) parts.push(encodeString(field.name, huffman));
    parts.push(encodeString(field.value, huffman));
  }
  return Buffer.concat(parts);
}

/** Section 5.1: value with an N-bit prefix; `pattern` fills the octet's high bits. */
export function encodeInteger(value: number, prefixBits: number, pattern: number): Buffer {
  assert(Number.isSafeInteger(value) && value >= 0);
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) return Buffer.from([pattern | value]);
  const octets = [pattern | prefixMax];
  let rest = value - prefixMax;
  while (rest >= 0x80) {
    octets.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  octets.push(rest);
  return Buffer.from(octets);
}

export function encodeString(text: string, huffman = true): Buffer {
  const raw = Buffer.from(text, 'latin1');
  const huffmanBytes = huffman ? huffmanEncodedBytes(raw) : raw.length;
  if (huffmanBytes >= raw.length) return Buffer.concat([encodeInteger(raw.length, 7, 0x00), raw]);
  const length = encodeInteger(huffmanBytes, 7, 0x80);
  const out = Buffer.allocUnsafe(length.length + huffmanBytes);
  length.copy(out);
  const end = huffmanEncodeInto(raw, out, length.length);
  assert.equal(end, out.length);
  return out;
}
