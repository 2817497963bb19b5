/**
 * UTF-8 decoding with Go's rules (unicode/utf8.DecodeRune): overlong forms,
 * surrogates and code points above U+10FFFF are invalid, and an invalid
 * sequence decodes as RuneError with width 1. etcdctl formats keys and values
 * that are arbitrary bytes, so every Go-compatible formatter here walks bytes
 * with this decoder rather than trusting JavaScript's lossy TextDecoder.
 */
export const runeError = 0xfffd;

/** Decodes the rune starting at `i`; returns [rune, width]. Width 1 with runeError means an invalid byte. */
export function decodeRune(bytes: Uint8Array, i: number): [number, number] {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return [b0, 1];
  const n = bytes.length - i;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    if (n >= 2 && isCont(bytes[i + 1]!)) return [((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f), 2];
    return [runeError, 1];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (n < 3) return [runeError, 1];
    const b1 = bytes[i + 1]!;
    const b2 = bytes[i + 2]!;
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    if (b1 < lo || b1 > hi || !isCont(b2)) return [runeError, 1];
    return [((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f), 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (n < 4) return [runeError, 1];
    const b1 = bytes[i + 1]!;
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi || !isCont(bytes[i + 2]!) || !isCont(bytes[i + 3]!)) return [runeError, 1];
    return [((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f), 4];
  }
  return [runeError, 1];
}

function isCont(b: number): boolean {
  return (b & 0xc0) === 0x80;
}

/** Encodes one rune as UTF-8 bytes (the caller guarantees a valid scalar value). */
export function encodeRune(r: number): number[] {
  if (r < 0x80) return [r];
  if (r < 0x800) return [0xc0 | (r >> 6), 0x80 | (r & 0x3f)];
  if (r < 0x10000) return [0xe0 | (r >> 12), 0x80 | ((r >> 6) & 0x3f), 0x80 | (r & 0x3f)];
  return [0xf0 | (r >> 18), 0x80 | ((r >> 12) & 0x3f), 0x80 | ((r >> 6) & 0x3f), 0x80 | (r & 0x3f)];
}

/** Go's utf8.ValidRune: a Unicode scalar value. */
export function validRune(r: number): boolean {
  return (r >= 0 && r < 0xd800) || (r > 0xdfff && r <= 0x10ffff);
}

export function toBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
}
