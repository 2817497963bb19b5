import { crc32c } from '../wal/crc32c.js';
import type { Backend } from './backend.js';
import { buckets } from './backend.js';
import { bytesToRevision, mainRevisionToBytes, revisionKeyString } from './revision.js';
import type { KVStore } from './kvstore.js';
import { CompactedError, FutureRevisionError } from './errors.js';

const keyBucketName = Buffer.from('key');

export interface HashKVResult {
  hash: number;
  /** The store revision when hashing started. */
  currentRev: bigint;
  compactRev: bigint;
  /** The revision the hash covers. */
  hashRev: bigint;
}

/**
 * CRC-32C over every stored change at or below `rev` that a compaction at
 * `rev` would keep (etcd's HashByRev): equal on every member that applied
 * the same log, whatever its own compaction progress. Used to detect
 * divergence (endpoint hashkv, the robustness checks).
 */
export function hashKV(store: KVStore, rev: bigint): HashKVResult {
  const compactRev = store.compactMainRev;
  const currentRev = store.currentRev;
  if (rev > 0n && rev <= compactRev) throw new CompactedError();
  if (rev > 0n && rev > currentRev) throw new FutureRevisionError();
  const hashRev = rev === 0n ? currentRev : rev;
  const keep = store.index.keep(hashRev);
  let crc = crc32c(0, keyBucketName);
  store.backend.scan('key', undefined, mainRevisionToBytes(hashRev + 1n), (key, value) => {
    const { rev: r } = bytesToRevision(key);
    // Below the last compaction only the revisions a compaction keeps count.
    if (r.main <= compactRev && keep.size > 0 && !keep.has(revisionKeyString(r))) return;
    crc = crc32c(crc, key);
    crc = crc32c(crc, value);
  });
  return { hash: crc >>> 0, currentRev, compactRev, hashRev };
}

/** CRC-32C over every bucket of the backend (etcd's Hash), for testing only. */
export function hashBackend(backend: Backend): number {
  let crc = 0;
  for (const bucket of buckets) {
    crc = crc32c(crc, Buffer.from(bucket));
    backend.scan(bucket, undefined, undefined, (key, value) => {
      crc = crc32c(crc, key);
      crc = crc32c(crc, value);
    });
  }
  return crc >>> 0;
}
