import { huffmanCodes, huffmanLengths } from './hpack-huffman.js';

/**
 * Just enough HPACK (RFC 7541) for the load generator's own HTTP/2 framing:
 * a complete decoder (the server's encoder may use the dynamic table and
 * Huffman strings in any way, and every block must be decoded in order to
 * keep the dynamic table in step) and a small encoder that inserts the few
 * request headers into the peer's dynamic table once, then refers to them by
 * index, as gRPC clients do.
 *
 * Header names and values are handled as latin1 strings: HTTP/2 header bytes
 * are opaque octets, and gRPC's are ASCII.
 */

// prettier-ignore
const staticTable: readonly (readonly [string, string])[] = [
  ['', ''], // index 0 is not used
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

const staticEntries = staticTable.length - 1; // 61

/** The size the RFC charges for a table entry (§4.1). */
function entrySize(name: string, value: string): number {
  return name.length + value.length + 32;
}

export class HpackError extends Error {
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackError';
  }
}

/**
 * Huffman decoding tree in two Int32Arrays: children[2n] / children[2n+1]
 * are node n's 0 and 1 branches; a leaf is stored as -(symbol + 1).
 */
const huffmanTree = buildHuffmanTree();

function buildHuffmanTree(): Int32Array {
  const children = new Int32Array(2 * 512).fill(0);
  let nodes = 1;
  for (let symbol = 0; symbol < 256; symbol++) {
    const code = huffmanCodes[symbol];
    const length = huffmanLengths[symbol];
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + ((code >>> bit) & 1);
      if (bit === 0) {
        children[slot] = -(symbol + 1);
      } else {
        if (children[slot] === 0) children[slot] = nodes++;
        node = children[slot];
      }
    }
  }
  return children;
}

export function huffmanDecode(bytes: Buffer, start: number, end: number): string {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits consumed since the last symbol, to check the padding
  let padOnes = true;
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> bit) & 1;
      const next = huffmanTree[2 * node + b];
      depth++;
      padOnes = padOnes && b === 1;
      if (next < 0) {
        out.push(-next - 1);
        node = 0;
        depth = 0;
        padOnes = true;
      } else if (next === 0) {
        throw new HpackError('invalid Huffman code');
      } else {
        node = next;
      }
    }
  }
  // Padding is the most significant bits of EOS: at most 7 one-bits (§5.2).
  if (depth > 7 || !padOnes) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

export class HpackDecoder {
  /** Newest first: dynamic index 62 is dynamic[0]. */
  private dynamic: [string, string][] = [];
  private size = 0;
  private pos = 0;
  private block: Buffer = Buffer.alloc(0);

  /** maxSize: our SETTINGS_HEADER_TABLE_SIZE (4096 unless we announce another). */
  constructor(private maxSize = 4096) {}

  /** Decodes one complete header block, calling `field` for every header in order. */
  decode(block: Buffer, field: (name: string, value: string) => void): void {
    this.block = block;
    this.pos = 0;
    while (this.pos < block.length) {
      const first = block[this.pos];
      if (first & 0x80) {
        const [name, value] = this.entry(this.integer(7));
        field(name, value);
      } else if (first & 0x40) {
        const [name, value] = this.literal(6);
        this.insert(name, value);
        field(name, value);
      } else if (first & 0x20) {
        const size = this.integer(5);
        if (size > this.maxSize) throw new HpackError('table size update above the limit');
        this.evictTo(size);
        this.maxSize = size;
      } else {
        const [name, value] = this.literal(4); // without indexing (0000) or never indexed (0001)
        field(name, value);
      }
    }
  }

  private integer(prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = this.block[this.pos++] & mask;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.block.length) throw new HpackError('truncated integer');
      const byte = this.block[this.pos++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
      if (shift > 28) throw new HpackError('integer too large');
    }
  }

  private string(): string {
    if (this.pos >= this.block.length) throw new HpackError('truncated string');
    const huffman = (this.block[this.pos] & 0x80) !== 0;
    const length = this.integer(7);
    const start = this.pos;
    const end = start + length;
    if (end > this.block.length) throw new HpackError('truncated string');
    this.pos = end;
    return huffman ? huffmanDecode(this.block, start, end) : this.block.toString('latin1', start, end);
  }

  private literal(prefixBits: number): [string, string] {
    const nameIndex = this.integer(prefixBits);
    const name = nameIndex === 0 ? this.string() : this.entry(nameIndex)[0];
    return [name, this.string()];
  }

  private entry(index: number): readonly [string, string] {
    if (index >= 1 && index <= staticEntries) return staticTable[index];
    const entry = this.dynamic[index - staticEntries - 1];
    if (index === 0 || entry === undefined) throw new HpackError(`invalid index ${index}`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = entrySize(name, value);
    this.evictTo(this.maxSize - size);
    if (size <= this.maxSize) {
      this.dynamic.unshift([name, value]);
      this.size += size;
    }
  }

  private evictTo(limit: number): void {
    while (this.size > Math.max(0, limit) && this.dynamic.length > 0) {
      const [name, value] = this.dynamic.pop() as [string, string];
      this.size -= entrySize(name, value);
    }
  }
}

function writeInteger(out: number[], firstByteFlags: number, prefixBits: number, value: number): void {
  const mask = (1 << prefixBits) - 1;
  if (value < mask) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | mask);
  value -= mask;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function writeRawString(out: number[], s: string): void {
  writeInteger(out, 0, 7, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/**
 * Encodes request header lists. A header not yet in the peer's table is sent
 * once as a literal with incremental indexing, then by index. Entries are
 * only added while they fit the peer's table size, so nothing is ever
 * evicted and the indexes we compute stay valid; what does not fit is sent
 * as a literal without indexing.
 */
export class HpackEncoder {
  /** Newest first, mirroring the peer decoder's dynamic table. */
  private dynamic: string[] = [];
  private size = 0;
  /** Grows with every entry added, so that callers can cache encoded blocks. */
  version = 0;

  /** peerMaxSize: the peer's SETTINGS_HEADER_TABLE_SIZE (4096 until it says otherwise). */
  constructor(private peerMaxSize = 4096) {}

  /**
   * The peer announced its table size. Growing it changes nothing for us;
   * shrinking it below what we have inserted would evict entries we refer
   * to, which this encoder does not handle (no server does that mid-connection).
   */
  limitTableSize(size: number): void {
    if (size < this.size) throw new HpackError(`peer shrank its header table to ${size} bytes below the ${this.size} in use`);
    this.peerMaxSize = Math.min(this.peerMaxSize, size);
  }

  encode(headers: readonly (readonly [string, string])[]): Buffer {
    const out: number[] = [];
    for (const [name, value] of headers) this.encodeField(out, name, value);
    return Buffer.from(out);
  }

  private encodeField(out: number[], name: string, value: string): void {
    const key = `${name}\0${value}`;
    const dynamicAt = this.dynamic.indexOf(key);
    if (dynamicAt >= 0) return writeInteger(out, 0x80, 7, staticEntries + 1 + dynamicAt);
    let nameIndex = 0;
    for (let i = 1; i <= staticEntries; i++) {
      if (staticTable[i][0] !== name) continue;
      if (staticTable[i][1] === value) return writeInteger(out, 0x80, 7, i);
      if (nameIndex === 0) nameIndex = i;
    }
    const size = entrySize(name, value);
    const indexed = this.size + size <= this.peerMaxSize;
    if (indexed) writeInteger(out, 0x40, 6, nameIndex);
    else writeInteger(out, 0x00, 4, nameIndex);
    if (nameIndex === 0) writeRawString(out, name);
    writeRawString(out, value);
    if (indexed) {
      this.dynamic.unshift(key);
      this.size += size;
      this.version++;
    }
  }
}
