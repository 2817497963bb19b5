/** Keys and values are bytes; strings are taken as UTF-8. */
export type Bytes = string | Uint8Array;

export function toBuffer(value: Bytes): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The range end meaning "to the end of the key space" (etcd's "\0"). */
export const fromKeyEnd: Buffer = Buffer.from([0]);

/**
 * The range end that selects every key starting with `prefix`: the prefix
 * with its last byte below 0xff incremented and the rest dropped, or "\0"
 * (every key from the prefix on) when all its bytes are 0xff or it is empty.
 */
export function prefixEnd(prefix: Bytes): Buffer {
  const key = toBuffer(prefix);
  for (let i = key.length - 1; i >= 0; i--) {
    if (key[i]! < 0xff) {
      const end = Buffer.from(key.subarray(0, i + 1));
      end[i] = key[i]! + 1;
      return end;
    }
  }
  return fromKeyEnd;
}

export function isBytes(value: unknown): value is Bytes {
  return typeof value === 'string' || value instanceof Uint8Array;
}
