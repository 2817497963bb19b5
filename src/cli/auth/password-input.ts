import { readSync } from 'node:fs';
import { isScanSpace } from '../go/scan.js';
import { decodeRune, runeError } from '../go/utf8.js';

/**
 * Reading a password from standard input when it is not a terminal, the way
 * etcdctl reads it, so that scripts which feed etcdctl a password on stdin
 * work unchanged:
 *
 *   - a prompt (`--user name`, `user add name`, `user passwd name`) reads
 *     one line, as bgentry/speakeasy does on a pipe, without its "stty:
 *     Inappropriate ioctl" noise and without printing the prompt, which is
 *     not output;
 *   - `--interactive=false` reads one word, as fmt.Scanf("%s") does.
 *
 * Both read one byte at a time, as Go does, so that whatever follows stays
 * unread for the next reader: `printf 'new\nrootpw\n' | etcdts --user root
 * user add bob --interactive=false` gives bob "new" and authenticates root
 * with "rootpw". (A command that reads its own input first, like `put`
 * without a value, leaves nothing for the password, in etcdctl too.)
 */

/** Bytes of an input, one at a time. */
export interface ByteSource {
  /** The next byte, or -1 at the end of the input. */
  next(): number;
}

/** A byte source over fixed bytes (tests). */
export class BufferBytes implements ByteSource {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  next(): number {
    return this.pos < this.bytes.length ? this.bytes[this.pos++]! : -1;
  }
}

/** How long to wait for a writer when the descriptor is non-blocking and has nothing yet. */
const pollIntervalMs = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** A file descriptor (standard input), read synchronously one byte at a time. */
export class FdBytes implements ByteSource {
  private readonly one = Buffer.alloc(1);

  constructor(private readonly fd = 0) {}

  next(): number {
    for (;;) {
      try {
        return readSync(this.fd, this.one, 0, 1, null) === 1 ? this.one[0]! : -1;
      } catch (err) {
        // A pipe Node has made non-blocking: wait for the writer rather than spin.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(pause, 0, 0, pollIntervalMs);
      }
    }
  }
}

/**
 * speakeasy's readline on a pipe: bytes up to a newline or the end of the
 * input, without the newline and a carriage return before it, then Go's
 * strings.TrimSpace. An empty input gives an empty password.
 */
export function readPasswordLine(source: ByteSource): string {
  const bytes: number[] = [];
  for (let b = source.next(); b >= 0 && b !== 0x0a; b = source.next()) bytes.push(b);
  return goTrimSpace(Buffer.from(bytes)).toString('utf8');
}

/**
 * fmt.Scanf("%s", &password): skips spaces (but not a newline, which is an
 * error), then reads a run of non-space runes and the space that ends it.
 * Go leaves the password empty on any error, and so do we: an input that is
 * empty or starts with an empty line gives an empty password.
 */
export function scanPasswordWord(source: ByteSource): string {
  const runes = new RuneSource(source);
  let r = runes.next();
  for (;;) {
    if (r.rune < 0 || r.rune === 0x0a) return '';
    if (r.rune === 0x0d) {
      const after = runes.next();
      if (after.rune === 0x0a) return '';
      r = after;
      continue;
    }
    if (!isScanSpace(r.rune)) break;
    r = runes.next();
  }
  const word: number[] = [];
  while (r.rune >= 0 && !isScanSpace(r.rune)) {
    word.push(...r.bytes);
    r = runes.next();
  }
  return Buffer.from(word).toString('utf8');
}

/** strings.TrimSpace: Unicode white space off both ends, rune by rune; invalid bytes are not space. */
export function goTrimSpace(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length) {
    const [r, width] = decodeRune(bytes, start);
    if (!isScanSpace(r)) break;
    start += width;
  }
  let end = bytes.length;
  while (end > start) {
    const [r, width] = decodeLastRune(bytes, start, end);
    if (!isScanSpace(r)) break;
    end -= width;
  }
  return bytes.subarray(start, end);
}

/** utf8.DecodeLastRune of bytes[start, end). */
function decodeLastRune(bytes: Buffer, start: number, end: number): [number, number] {
  const limit = Math.max(start, end - 4);
  for (let i = end - 1; i >= limit; i--) {
    if ((bytes[i]! & 0xc0) === 0x80) continue;
    const [r, width] = decodeRune(bytes.subarray(0, end), i);
    return i + width === end ? [r, width] : [runeError, 1];
  }
  return [runeError, 1];
}

interface Rune {
  /** The rune, runeError for an invalid byte, -1 at the end. */
  rune: number;
  bytes: number[];
}

/** Runes read from a byte source without reading past the rune's last byte. */
class RuneSource {
  private pending: number[] = [];

  constructor(private readonly source: ByteSource) {}

  next(): Rune {
    const b0 = this.byte();
    if (b0 < 0) return { rune: -1, bytes: [] };
    if (b0 < 0x80) return { rune: b0, bytes: [b0] };
    const length = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : 2;
    const bytes = [b0];
    while (bytes.length < length) {
      const b = this.byte();
      if (b < 0) break;
      bytes.push(b);
      if ((b & 0xc0) !== 0x80) break;
    }
    const [rune, width] = decodeRune(Uint8Array.from(bytes), 0);
    // An invalid sequence is one byte; what followed it is read again.
    this.pending.unshift(...bytes.slice(width));
    return { rune: width === 1 && rune === runeError ? runeError : rune, bytes: bytes.slice(0, width) };
  }

  private byte(): number {
    return this.pending.length > 0 ? this.pending.shift()! : this.source.next();
  }
}
