import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Client } from '../../client/client.js';
import { EtcdClientError, fromGrpcStatus, type GrpcStatusLike } from '../../client/errors.js';
import { SnapshotRequest, type SnapshotResponse } from '../../proto/gen/etcdserverpb/rpc.js';

/**
 * Downloading a snapshot (Maintenance.Snapshot) into a file safely. The
 * server streams the database in chunks and then one last message holding
 * the SHA-256 of every byte before it, so the file is `db || sha256(db)`:
 * what etcdctl writes and what `snapshot restore` checks. We write to
 * `<file>.part`, check that the trailing hash matches (etcdctl 3.4 only
 * checks that the size looks right), fsync, and only then rename to
 * `<file>` and fsync the directory. A failed, cancelled or killed save
 * therefore never leaves anything at `<file>`.
 */
export const sha256Bytes = 32;

export class SnapshotSaveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotSaveError';
  }
}

/** etcd's test for a trailing hash: the database is a whole number of 512-byte sectors. */
export function hasChecksum(size: number): boolean {
  return size % 512 === sha256Bytes;
}

/**
 * Hashes a byte stream except its last 32 bytes, without knowing where the
 * stream ends: it keeps the most recent 32 bytes aside and hashes whatever
 * falls out of that window. At the end the window is the claimed hash.
 * Message boundaries do not matter.
 */
export class TrailingSha256 {
  private readonly sha = createHash('sha256');
  private tail: Buffer = Buffer.alloc(0);
  private total = 0;

  update(chunk: Uint8Array): void {
    this.total += chunk.length;
    const joined = this.tail.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.tail, chunk]);
    if (joined.length <= sha256Bytes) {
      this.tail = joined;
      return;
    }
    const cut = joined.length - sha256Bytes;
    this.sha.update(joined.subarray(0, cut));
    this.tail = Buffer.from(joined.subarray(cut));
  }

  get bytes(): number {
    return this.total;
  }

  /** Throws SnapshotSaveError unless the stream ended with the SHA-256 of what came before. */
  verify(): string {
    if (!hasChecksum(this.total)) throw new SnapshotSaveError(`sha256 checksum not found [bytes: ${this.total}]`);
    const digest = this.sha.digest();
    if (!digest.equals(this.tail)) {
      throw new SnapshotSaveError(`snapshot integrity check failed: sha256 of the data is ${digest.toString('hex')}, the server sent ${this.tail.toString('hex')}`);
    }
    return digest.toString('hex');
  }
}

export interface SaveOptions {
  /** Deadline for the whole download, from now; none when undefined (etcdctl's default). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called after every chunk with the bytes received so far. */
  onProgress?: (bytes: number) => void;
}

export interface SaveResult {
  bytes: number;
  sha256: string;
  /** The revision the server says the snapshot was taken at (etcdts sends it; etcd does not). */
  revision: bigint | undefined;
}

/** Streams a snapshot from the client's endpoint into `path` (see the module comment). */
export async function saveSnapshot(client: Client, path: string, options: SaveOptions = {}): Promise<SaveResult> {
  const partPath = `${path}.part`;
  const file = await open(partPath, 'w', 0o600);
  let closed = false;
  try {
    const received = await receive(client, options, (chunk) => file.write(chunk).then(() => undefined));
    await file.sync();
    await file.close();
    closed = true;
    await rename(partPath, path);
    await syncDirectory(dirname(path));
    return received;
  } catch (err) {
    if (!closed) await file.close().catch(() => undefined);
    await rm(partPath, { force: true });
    throw err;
  }
}

async function receive(client: Client, options: SaveOptions, write: (chunk: Buffer) => Promise<void>): Promise<SaveResult> {
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const call = client.raw.maintenance.snapshot(SnapshotRequest.fromPartial({}), client.raw.metadata(), deadline === undefined ? {} : { deadline });
  const onAbort = (): void => call.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const hash = new TrailingSha256();
  let revision: bigint | undefined;
  try {
    for await (const message of call as AsyncIterable<SnapshotResponse>) {
      if (revision === undefined && message.header !== undefined && message.header.revision > 0n) revision = message.header.revision;
      hash.update(message.blob);
      await write(message.blob);
      options.onProgress?.(hash.bytes);
    }
  } catch (err) {
    throw isGrpcStatus(err) ? fromGrpcStatus(err) : err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return { bytes: hash.bytes, sha256: hash.verify(), revision };
}

function isGrpcStatus(err: unknown): err is GrpcStatusLike & Error {
  return err instanceof Error && !(err instanceof EtcdClientError) && typeof (err as Partial<GrpcStatusLike>).code === 'number';
}

/** Makes the rename durable: a crash right after must not bring the .part name back. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
