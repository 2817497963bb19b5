/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum etcd
 * uses for its WAL and snapshot files. Implemented with slicing-by-8 tables:
 * eight bytes per step keeps the checksum far below the cost of the fdatasync
 * it protects, even for multi-megabyte batches.
 */

const polynomial = 0x82f63b78;

/** tables[k][b]: the CRC contribution of byte b seen k positions before the end of an 8-byte step. */
const tables: Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const result: Uint32Array[] = [];
  const first = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
    first[b] = crc >>> 0;
  }
  result.push(first);
  for (let k = 1; k < 8; k++) {
    const previous = result[k - 1]!;
    const table = new Uint32Array(256);
    for (let b = 0; b < 256; b++) {
      const p = previous[b]!;
      table[b] = ((p >>> 8) ^ first[p & 0xff]!) >>> 0;
    }
    result.push(table);
  }
  return result;
}

/**
 * Extends `crc` (the CRC-32C of earlier bytes, 0 for none) with `bytes[start, end)`.
 * `crc32c(crc32c(0, a), b) === crc32c(0, a ++ b)`.
 */
export function crc32c(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
    Uint32Array, Uint32Array, Uint32Array, Uint32Array,
    Uint32Array, Uint32Array, Uint32Array, Uint32Array,
  ];
  let c = ~crc >>> 0;
  let i = start;
  const stop8 = end - ((end - start) & 7);
  while (i < stop8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}
