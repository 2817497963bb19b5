import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The few durable-I/O steps the WAL and the snapshot store share. Each name
 * says exactly which fsync it performs, because which file (or directory)
 * gets synced when is the whole point of crash safety.
 */

/** Private to the member, as etcd wants its data directories (CVE-2020-15113). */
export const privateDirMode = 0o700;
export const privateFileMode = 0o600;

/** Writes all of `buf` at `position`, looping over short writes. */
export async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${buf.length} bytes`);
    done += bytesWritten;
  }
}

/** writeFully() from the calling thread, for small writes where a trip to the thread pool costs more than the write. */
export function writeFullySync(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const bytesWritten = writeSync(fd, buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write: ${done} of ${buf.length} bytes`);
    done += bytesWritten;
  }
}

/**
 * fsyncs a directory so that entries created, renamed or removed in it survive
 * a power loss (a file's own fsync does not cover its name).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * mkdir -p with private permissions, then fsyncs the parent of every
 * directory it created, so the new directories survive a power loss.
 */
export async function mkdirDurable(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: privateDirMode });
  if (first === undefined) return;
  for (let dir = path; ; dir = dirname(dir)) {
    await fsyncDir(dirname(dir));
    if (dir === first || dirname(dir) === dir) break;
  }
}

const zeroChunk = Buffer.alloc(1024 * 1024);

/** Overwrites [from, to) with zeros (the caller syncs). */
export async function zeroRange(fh: FileHandle, from: number, to: number): Promise<void> {
  for (let at = from; at < to; at += zeroChunk.length) {
    const end = Math.min(to, at + zeroChunk.length);
    await writeFully(fh, zeroChunk.subarray(0, end - at), at);
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Reads the first `size` bytes of a file (a short file gives a shorter buffer). */
export async function readWhole(path: string, size: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}
