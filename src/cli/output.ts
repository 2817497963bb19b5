import { writeSync } from 'node:fs';
import type { Sink } from './printers/printer.js';

/**
 * Output to a file descriptor, buffered in memory up to a bound and written
 * synchronously, so that everything a command printed is out before the
 * process sets its exit code, and so that printing a large range does not
 * build one giant string. A closed pipe (`etcdts get ... | head -1`) ends
 * writing quietly, as SIGPIPE ends etcdctl.
 */
export class FdSink implements Sink {
  private chunks: Buffer[] = [];
  private size = 0;
  private broken = false;
  private static readonly flushBytes = 64 * 1024;

  constructor(private readonly fd: number) {}

  write(chunk: string | Uint8Array): void {
    if (this.broken) return;
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.chunks.push(buffer);
    this.size += buffer.length;
    if (this.size >= FdSink.flushBytes) this.flush();
  }

  flush(): void {
    if (this.size === 0 || this.broken) {
      this.chunks = [];
      this.size = 0;
      return;
    }
    const data = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (err) {
        if (isErrno(err, 'EAGAIN')) {
          // A full non-blocking pipe: wait a moment for the reader instead of spinning.
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        if (isErrno(err, 'EPIPE')) {
          this.broken = true;
          return;
        }
        throw err;
      }
    }
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Collects output in memory (tests, and commands that print to a string). */
export class MemorySink implements Sink {
  private readonly chunks: Buffer[] = [];

  write(chunk: string | Uint8Array): void {
    this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }
}
