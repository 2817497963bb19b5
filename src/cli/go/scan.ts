import { decodeRune, encodeRune, runeError, validRune } from './utf8.js';

/**
 * The pieces of Go's fmt scanning that etcdctl's txn grammar depends on
 * (`fmt.Sscanf(s, "%q) %s %q", ...)` and `fmt.Sscanf(arg, "%q", ...)`).
 *
 * Input and output are byte strings: JavaScript strings whose char codes are
 * bytes (latin1), so that keys and values written with \x escapes keep their
 * exact bytes. Reading runes follows Go: an invalid UTF-8 byte reads as
 * U+FFFD.
 */
export class ScanError extends Error {}

/** fmt's isSpace: the Unicode white space fmt skips between fields. */
export function isScanSpace(r: number): boolean {
  return (
    (r >= 0x09 && r <= 0x0d) || r === 0x20 || r === 0x85 || r === 0xa0 || r === 0x1680 ||
    (r >= 0x2000 && r <= 0x200a) || r === 0x2028 || r === 0x2029 || r === 0x202f || r === 0x205f || r === 0x3000
  );
}

/** A cursor over a byte string that reads Go runes. */
export class RuneReader {
  private readonly bytes: Buffer;
  pos = 0;

  constructor(readonly input: string) {
    this.bytes = Buffer.from(input, 'latin1');
  }

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  /** Reads one rune; returns -1 at the end. */
  read(): number {
    if (this.atEnd()) return -1;
    const [r, width] = decodeRune(this.bytes, this.pos);
    this.pos += width;
    return r;
  }

  peek(): number {
    const at = this.pos;
    const r = this.read();
    this.pos = at;
    return r;
  }

  skipSpace(): void {
    while (!this.atEnd() && isScanSpace(this.peek())) this.read();
  }

  /** The rest of the input from the cursor. */
  rest(): string {
    return this.input.slice(this.pos);
  }
}

/** Reads a Go quoted string ("..." with escapes, or `...`) at the cursor, after skipping spaces, like `%q`. */
export function scanQuoted(reader: RuneReader): string {
  reader.skipSpace();
  if (reader.atEnd()) throw new ScanError('unexpected EOF');
  const quote = reader.read();
  if (quote === 0x60) {
    let raw = '';
    for (;;) {
      const r = mustRead(reader);
      if (r === 0x60) return raw;
      raw += runeBytes(r);
    }
  }
  if (quote !== 0x22) throw new ScanError('expected quoted string');
  let literal = '"';
  for (;;) {
    const r = mustRead(reader);
    literal += runeBytes(r);
    if (r === 0x5c) literal += runeBytes(mustRead(reader));
    else if (r === 0x22) break;
  }
  return unquoteDoubleQuoted(literal);
}

/** Reads a run of non-space runes after skipping spaces, like `%s`. */
export function scanToken(reader: RuneReader): string {
  reader.skipSpace();
  if (reader.atEnd()) throw new ScanError('unexpected EOF');
  const start = reader.pos;
  while (!reader.atEnd() && !isScanSpace(reader.peek())) reader.read();
  return reader.input.slice(start, reader.pos);
}

function mustRead(reader: RuneReader): number {
  const r = reader.read();
  if (r < 0) throw new ScanError('unexpected EOF');
  return r;
}

/** A rune as the bytes of its UTF-8 encoding, in a byte string. */
function runeBytes(r: number): string {
  return String.fromCharCode(...encodeRune(r === runeError ? runeError : r));
}

/** strconv.Unquote for a complete double-quoted literal (byte string in, byte string out). */
export function unquoteDoubleQuoted(literal: string): string {
  if (literal.length < 2 || literal[0] !== '"' || literal[literal.length - 1] !== '"') throw syntax();
  const body = literal.slice(1, -1);
  if (body.includes('\n')) throw syntax();
  let out = '';
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === '"') throw syntax();
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const [text, width] = unquoteEscape(body, i + 1);
    out += text;
    i += 1 + width;
  }
  return out;
}

function syntax(): ScanError {
  return new ScanError('invalid syntax');
}

/** One escape after a backslash: returns the produced bytes and how many input chars it used. */
function unquoteEscape(s: string, i: number): [string, number] {
  const c = s[i];
  switch (c) {
    case 'a': return ['\x07', 1];
    case 'b': return ['\b', 1];
    case 'f': return ['\f', 1];
    case 'n': return ['\n', 1];
    case 'r': return ['\r', 1];
    case 't': return ['\t', 1];
    case 'v': return ['\v', 1];
    case '\\': return ['\\', 1];
    case '"': return ['"', 1];
    case 'x': return [String.fromCharCode(hexValue(s, i + 1, 2)), 3];
    case 'u':
    case 'U': {
      const digits = c === 'u' ? 4 : 8;
      const r = hexValue(s, i + 1, digits);
      if (!validRune(r)) throw syntax();
      return [runeBytes(r), 1 + digits];
    }
  }
  if (c !== undefined && c >= '0' && c <= '7') {
    const octal = s.slice(i, i + 3);
    if (!/^[0-7]{3}$/.test(octal)) throw syntax();
    const v = parseInt(octal, 8);
    if (v > 255) throw syntax();
    return [String.fromCharCode(v), 3];
  }
  throw syntax();
}

function hexValue(s: string, start: number, digits: number): number {
  const text = s.slice(start, start + digits);
  if (text.length !== digits || !/^[0-9a-fA-F]+$/.test(text)) throw syntax();
  return parseInt(text, 16);
}
