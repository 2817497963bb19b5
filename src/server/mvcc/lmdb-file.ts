import { open } from 'node:fs/promises';
import { OperatingError } from '../operating-error.js';

export class LmdbFileError extends OperatingError {}

/**
 * Checks a database file's structure before LMDB maps it. LMDB trusts the
 * file: a truncated or foreign file makes it read past the end of its
 * mapping, which kills the process with SIGBUS instead of failing. So files
 * from outside (snapshots) are checked first: both meta pages (LMDB data
 * format 2 as bundled with lmdb-js: a 24-byte page header, then the meta
 * record) must carry the magic, and the file must hold every page the newer
 * meta page says is in use.
 */
const metaMagic = 0xbeefc0de;
const dataVersion = 2;
const pageHeaderBytes = 24;

export async function checkLmdbFile(path: string, size?: number): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const fileBytes = size ?? (await fh.stat()).size;
    if (fileBytes < 2 * 512) throw new LmdbFileError(`${path}: ${fileBytes} bytes is too small for a database`);
    const first = Buffer.alloc(4096);
    await fh.read(first, 0, first.length, 0);
    const pageBytes = first.readUInt32LE(pageHeaderBytes + 24);
    if (pageBytes < 512 || pageBytes > 65536 || (pageBytes & (pageBytes - 1)) !== 0) throw new LmdbFileError(`${path}: not an etcdts database (no valid page size)`);
    const metas = [];
    for (const page of [0, 1]) {
      const buf = Buffer.alloc(pageHeaderBytes + 144);
      await fh.read(buf, 0, buf.length, page * pageBytes);
      const magic = buf.readUInt32LE(pageHeaderBytes);
      const version = buf.readUInt32LE(pageHeaderBytes + 4);
      if (magic !== metaMagic || version !== dataVersion) throw new LmdbFileError(`${path}: not an etcdts database (meta page ${page} has no LMDB v${dataVersion} signature)`);
      metas.push({ lastPage: buf.readBigUInt64LE(pageHeaderBytes + 120), txnid: buf.readBigUInt64LE(pageHeaderBytes + 128) });
    }
    const newest = metas[0]!.txnid >= metas[1]!.txnid ? metas[0]! : metas[1]!;
    const needed = (newest.lastPage + 1n) * BigInt(pageBytes);
    if (needed > BigInt(fileBytes)) throw new LmdbFileError(`${path}: database is truncated (${fileBytes} bytes, its pages need ${needed})`);
  } finally {
    await fh.close();
  }
}
