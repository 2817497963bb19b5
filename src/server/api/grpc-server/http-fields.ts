/**
 * Field validity, RFC 9113 §8.2.1: what makes a request malformed whatever
 * its semantics (a malformed request is a stream error of type
 * PROTOCOL_ERROR, §8.1.1). Intermediaries and HTTP/1 gateways split
 * headers on exactly these octets, so passing them on would let one field
 * smuggle in another. The HPACK decoder applies these checks to each
 * literal it decodes (once per dynamic-table entry, not per request) and
 * tells whether a block had a field that fails (HpackDecoder.malformed).
 */

/** Octets a field name may hold: none of 0x00-0x20, 0x41-0x5a (upper case), 0x7f-0xff, nor ':'. */
const nameOctet = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) if ((c < 0x41 || c > 0x5a) && c !== 0x3a) nameOctet[c] = 1;

/** A regular field name (pseudo-header names are checked against their list, §8.3). */
export function validFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || nameOctet[c] === 0) return false;
  }
  return true;
}

/** A name as a header block may carry it: a regular field name, or one behind a single leading ':' (pseudo-headers, §8.3). */
export function validNameOrPseudo(name: string): boolean {
  return name.charCodeAt(0) === 0x3a ? validFieldName(name.slice(1)) : validFieldName(name);
}

/** No NUL, LF or CR anywhere, and no space or tab at either end. */
export function validFieldValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x0d && (c === 0x00 || c === 0x0a || c === 0x0d)) return false;
  }
  return true;
}

/** Trailers a client sends (§8.1) carry no pseudo-header (the decoder checked the octets). */
export function noPseudoHeaders(fields: readonly { name: string }[]): boolean {
  for (const { name } of fields) if (name.charCodeAt(0) === 0x3a) return false;
  return true;
}
