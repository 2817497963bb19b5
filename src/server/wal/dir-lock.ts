import { open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WalLockedError } from './errors.js';
import { isNotFound, privateFileMode } from './fs-util.js';

/**
 * A single-writer lock on a WAL directory: a `LOCK` file holding the owner's
 * PID. Two members appending to one WAL would interleave records and break
 * the crc chain, so the second one must fail at open. A lock whose PID is no
 * longer alive (the owner crashed) is stale and taken over. Within one
 * process the set below catches a second Wal on the same directory, which
 * the PID alone cannot (it is our own PID).
 */

export const lockFileName = 'LOCK';

const heldInProcess = new Set<string>();

export class DirLock {
  private released = false;

  private constructor(
    private readonly dir: string,
    private readonly key: string,
  ) {}

  static async acquire(dir: string): Promise<DirLock> {
    const key = resolve(dir);
    if (heldInProcess.has(key)) throw new WalLockedError(dir, process.pid);
    heldInProcess.add(key);
    try {
      await takeLockFile(join(dir, lockFileName), dir);
    } catch (err) {
      heldInProcess.delete(key);
      throw err;
    }
    return new DirLock(dir, key);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldInProcess.delete(this.key);
    const path = join(this.dir, lockFileName);
    try {
      if ((await readPid(path)) === process.pid) await unlink(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

async function takeLockFile(path: string, dir: string): Promise<void> {
  // Two attempts: the second follows removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', privateFileMode);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readPid(path);
    // Our own PID in the file means a previous incarnation of this process
    // id (a restarted container's PID 1, say): the in-process set already
    // ruled out a live Wal of ours, so the file is stale.
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new WalLockedError(dir, owner);
    try {
      await unlink(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  throw new WalLockedError(dir, (await readPid(path)) ?? -1);
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    const pid = Number(text);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
