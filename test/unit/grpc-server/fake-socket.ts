import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

/**
 * A socket stand-in for driving a connection directly (fuzz and property
 * tests): it records what the server writes, never pushes back, and
 * closes when destroyed.
 */
export class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;
  ended = false;
  writableLength = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  write(chunk: Buffer): boolean {
    this.written.push(Buffer.from(chunk));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    process.nextTick(() => this.emit('close'));
    return this;
  }
}


/** Parses what the server wrote: it must be whole frames. */
export function writtenFrames(socket: FakeSocket): { type: number; flags: number; streamId: number; payload: Buffer }[] {
  const bytes = Buffer.concat(socket.written);
  const frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    assert(bytes.length - pos >= 9, 'a truncated frame header in the output');
    const length = bytes.readUIntBE(pos, 3);
    assert(bytes.length - pos - 9 >= length, 'a truncated frame in the output');
    frames.push({ type: bytes[pos + 3], flags: bytes[pos + 4], streamId: bytes.readUInt32BE(pos + 5) & 0x7fffffff, payload: bytes.subarray(pos + 9, pos + 9 + length) });
    pos += 9 + length;
  }
  return frames;
}

/** The types of the frames the server wrote, in order. */
export function writtenFrameTypes(socket: FakeSocket): number[] {
  return writtenFrames(socket).map((f) => f.type);
}
