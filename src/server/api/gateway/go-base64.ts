import { GoJsonError } from './go-json.js';

/**
 * encoding/base64's StdEncoding.Decode, which encoding/json applies to a
 * JSON string bound for a []byte: padding required, CR and LF skipped
 * anywhere, and an error naming the first byte it could not use ("illegal
 * base64 data at input byte 4"), which etcd's gateway returns verbatim.
 * Node's decoder accepts what Go refuses, so it cannot stand in.
 */

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const decodeMap = new Int16Array(256).fill(-1);
for (let i = 0; i < alphabet.length; i++) decodeMap[alphabet.charCodeAt(i)] = i;

const pad = 0x3d;

function corrupt(at: number): GoJsonError {
  return new GoJsonError(`illegal base64 data at input byte ${at}`);
}

function isNewline(c: number | undefined): boolean {
  return c === 0x0a || c === 0x0d;
}

export function goBase64Decode(src: Uint8Array): Buffer {
  const out: number[] = [];
  let si = 0;
  while (si < src.length) {
    const quantum = [0, 0, 0, 0];
    let dlen = 4;
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Buffer.from(out);
        // Padding is required, so a short final quantum is an error where it ends.
        throw corrupt(si - j);
      }
      const c = src[si++]!;
      const value = decodeMap[c]!;
      if (value >= 0) {
        quantum[j] = value;
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== pad) throw corrupt(si - 1);
      // Padding: only after two or three symbols, and "==" after two.
      if (j < 2) throw corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) throw corrupt(src.length);
        if (src[si] !== pad) throw corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) throw corrupt(si);
      dlen = j;
      break;
    }
    const bits = (quantum[0]! << 18) | (quantum[1]! << 12) | (quantum[2]! << 6) | quantum[3]!;
    out.push((bits >> 16) & 0xff);
    if (dlen >= 3) out.push((bits >> 8) & 0xff);
    if (dlen === 4) out.push(bits & 0xff);
  }
  return Buffer.from(out);
}
