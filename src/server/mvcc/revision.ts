/**
 * A revision names one change to the key space: `main` is the store revision
 * of the write request (one per Put, DeleteRange or Txn), `sub` orders the
 * changes inside that request (0, 1, 2 ... for the ops of a Txn).
 *
 * In the backend, every stored KeyValue is keyed by its revision, encoded so
 * that byte order equals revision order: 8 bytes of `main` big-endian, a '_',
 * 8 bytes of `sub` big-endian, and a trailing 't' when the change is a delete
 * (a tombstone). This is the same shape as etcd's, which keeps range scans by
 * revision (watch catch-up, compaction, hashing) a plain ordered scan.
 */
export interface Revision {
  readonly main: bigint;
  readonly sub: number;
}

export const revisionBytesLength = 17;
export const tombstoneMark = 0x74; // 't'

export function compareRevisions(a: Revision, b: Revision): number {
  if (a.main !== b.main) return a.main < b.main ? -1 : 1;
  return a.sub - b.sub;
}

export function revisionToBytes(rev: Revision, tombstone = false): Buffer {
  const bytes = Buffer.allocUnsafe(tombstone ? revisionBytesLength + 1 : revisionBytesLength);
  bytes.writeBigUInt64BE(rev.main, 0);
  bytes[8] = 0x5f; // '_'
  bytes.writeBigUInt64BE(BigInt(rev.sub), 9);
  if (tombstone) bytes[revisionBytesLength] = tombstoneMark;
  return bytes;
}

/** The smallest backend key at or after the given main revision. */
export function mainRevisionToBytes(main: bigint): Buffer {
  return revisionToBytes({ main, sub: 0 });
}

export interface DecodedRevisionKey {
  rev: Revision;
  tombstone: boolean;
}

export function bytesToRevision(bytes: Uint8Array): DecodedRevisionKey {
  if (bytes.length !== revisionBytesLength && bytes.length !== revisionBytesLength + 1) {
    throw new Error(`invalid revision key of ${bytes.length} bytes`);
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    rev: { main: view.readBigUInt64BE(0), sub: Number(view.readBigUInt64BE(9)) },
    tombstone: bytes.length === revisionBytesLength + 1 && bytes[revisionBytesLength] === tombstoneMark,
  };
}

export function revisionKeyString(rev: Revision): string {
  return `${rev.main}_${rev.sub}`;
}
