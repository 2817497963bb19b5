import { decodeRune, runeError, toBytes } from './utf8.js';

/**
 * Go's string formatting, byte for byte, for the places where etcdctl's
 * output depends on it: `%q` (strconv.Quote) in the `fields` printer and in
 * error messages, and encoding/json's string escaping in the `json` printer.
 */

const lowerHex = '0123456789abcdef';
/** Built on first use: V8 parses a Unicode-property pattern when it is created, and most runs never quote a rune past Latin-1. */
let printableOutsideLatin1: RegExp | undefined;

/**
 * unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
 * ASCII space. Go 1.19 (which built etcdctl 3.4.23) knows Unicode 13; Node
 * knows a newer version, so runes assigned since then print literally here
 * where Go would escape them. Nothing else differs.
 */
export function isPrint(r: number): boolean {
  if (r < 0x80) return r >= 0x20 && r < 0x7f;
  if (r <= 0xff) return r >= 0xa1 && r !== 0xad;
  printableOutsideLatin1 ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
  return printableOutsideLatin1.test(String.fromCodePoint(r));
}

/** strconv.Quote of a byte string (a JS string is taken as its UTF-8 bytes). */
export function goQuote(input: string | Uint8Array): string {
  const bytes = toBytes(input);
  let out = '"';
  for (let i = 0; i < bytes.length; ) {
    const [r, width] = decodeRune(bytes, i);
    if (width === 1 && r === runeError) {
      out += `\\x${hex2(bytes[i]!)}`;
    } else {
      out += escapeRune(r, '"');
    }
    i += width;
  }
  return out + '"';
}

/** Go's `%q` of a rune: 'x'. */
export function goQuoteRune(r: number): string {
  return `'${escapeRune(r, "'")}'`;
}

function escapeRune(r: number, quote: string): string {
  const ch = String.fromCodePoint(r);
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (isPrint(r)) return ch;
  switch (r) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
  }
  if (r < 0x20 || r === 0x7f) return `\\x${hex2(r)}`;
  if (r < 0x10000) return `\\u${r.toString(16).padStart(4, '0')}`;
  return `\\U${r.toString(16).padStart(8, '0')}`;
}

function hex2(b: number): string {
  return lowerHex[b >> 4]! + lowerHex[b & 0xf]!;
}

/**
 * encoding/json's string encoding with HTML escaping on (json.Marshal's
 * default): <, > and & become \u003c, \u003e, \u0026, invalid UTF-8 becomes
 * \ufffd, U+2028/2029 are escaped. Go 1.19 writes \b and \f as \u0008 and
 * \u000c.
 */
export function goJsonString(input: string | Uint8Array): string {
  const bytes = toBytes(input);
  let out = '"';
  let runStart = 0;
  const flush = (end: number): void => {
    if (end > runStart) out += Buffer.from(bytes.subarray(runStart, end)).toString('utf8');
  };
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      const escaped = jsonEscapeAscii(b);
      if (escaped !== undefined) {
        flush(i);
        out += escaped;
        runStart = i + 1;
      }
      i++;
      continue;
    }
    const [r, width] = decodeRune(bytes, i);
    if ((r === runeError && width === 1) || r === 0x2028 || r === 0x2029) {
      flush(i);
      out += r === runeError ? '\\ufffd' : `\\u${r.toString(16)}`;
      runStart = i + width;
    }
    i += width;
  }
  flush(bytes.length);
  return out + '"';
}

function jsonEscapeAscii(b: number): string | undefined {
  switch (b) {
    case 0x22: return '\\"';
    case 0x5c: return '\\\\';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
  }
  if (b < 0x20 || b === 0x3c || b === 0x3e || b === 0x26) return `\\u00${hex2(b)}`;
  return undefined;
}
