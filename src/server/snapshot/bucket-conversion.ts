import { OperatingError } from '../operating-error.js';
import type { Bucket } from '../mvcc/backend.js';

/**
 * How one of etcd's bbolt buckets maps to one of our backend's buckets when
 * a snapshot moves between the two (etcd-buckets.ts, auth-buckets.ts).
 * Each direction returns the converted entry, or undefined to leave it out
 * (state that only one side keeps, such as our Raft conf state or etcd 3.5's
 * term). A value that does not decode as what the bucket holds is a
 * SnapshotConversionError: a restore stops before anything is kept.
 */
export type Pair = [key: Buffer, value: Buffer];

export interface BucketConversion {
  /** etcd's bucket name in the bbolt file. */
  readonly etcd: string;
  readonly ours: Bucket;
  fromEtcd(key: Buffer, value: Buffer): Pair | undefined;
  toEtcd(key: Buffer, value: Buffer): Pair | undefined;
  /** Entries etcd keeps in this bucket that we have no counterpart for (written on export). */
  etcdOnly?(): Pair[];
  /** True when the conversion keeps keys as they are, so entries stay in key order and can be streamed. */
  readonly sameKeys: boolean;
}

export class SnapshotConversionError extends OperatingError {}

export function conversionError(bucket: string, key: Buffer, why: string): SnapshotConversionError {
  const shown = /^[\x20-\x7e]*$/.test(key.toString('latin1')) ? JSON.stringify(key.toString('latin1')) : key.toString('hex');
  return new SnapshotConversionError(`bucket ${bucket}, key ${shown}: ${why}`);
}

/** Runs a protobuf decode, turning its failure into a SnapshotConversionError. */
export function decodeOrFail<T>(bucket: string, key: Buffer, what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw conversionError(bucket, key, `not a valid ${what} (${(err as Error).message})`);
  }
}
