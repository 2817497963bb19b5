import assert from 'node:assert';
import { HpackDecoder, encodeHeaderBlock, type HeaderField } from './hpack.js';

/**
 * The client-to-server half of the HTTP/2 authority fix (see
 * h2-authority-fix.ts for why and for the I/O around it), as a pure
 * transformation of the byte stream: frames are parsed after the 24-octet
 * preface, and only header blocks are ever decoded.
 *
 * Modes, in the order a connection goes through them:
 * - preface: checking the connection preface.
 * - sniff: until the first header block is complete. Frames before it pass
 *   unchanged; its frames are held and decoded.
 * - passthrough: the first block's authority was valid, so its frames went
 *   out unchanged and the server's HPACK decoder saw exactly what ours did;
 *   its state is the client's from then on and nothing is parsed any more.
 * - rewrite: the first block's authority had a scheme or a path. Every
 *   header block, for the rest of the connection, is decoded with the
 *   client's HPACK state and re-encoded with representations that never
 *   touch the server's dynamic table (which therefore stays empty), the
 *   authority cut down to host:port.
 * - verbatim: between sniff and passthrough when one SETTINGS ACK must still
 *   be dropped (dropSettingsAck): frames are parsed but header blocks are
 *   not, since the server decodes them exactly as sent.
 */

const prefaceBytes = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const frameHeaderBytes = 9;

/** Bound on one header block (all its HEADERS and CONTINUATION payloads), and on its decoded size. */
export const headerBlockBytesMax = 1024 * 1024;
/**
 * SETTINGS_HEADER_TABLE_SIZE of the server behind the shim: grpc-js leaves
 * Node's default, which is the protocol default, so the client's encoder may
 * use up to this much dynamic table.
 */
export const serverHeaderTableBytes = 4096;
/**
 * Largest frame the shim writes. 16384 is the smallest SETTINGS_MAX_FRAME_SIZE
 * a server may advertise (RFC 9113 section 6.5.2), so it is always accepted
 * and the server's SETTINGS need not be read.
 */
export const frameBytesOutMax = 16384;

const frameData = 0x0;
const frameHeaders = 0x1;
const framePriority = 0x2;
const frameSettings = 0x4;
const framePushPromise = 0x5;
const frameWindowUpdate = 0x8;
const frameContinuation = 0x9;
const flagAck = 0x1;
const flagEndStream = 0x1;
const flagEndHeaders = 0x4;
const flagPadded = 0x8;
const flagPriority = 0x20;

/** Frame types a client sends without waiting for the server to answer them. */
const quietFrameTypes = new Set([frameData, frameHeaders, framePriority, frameSettings, frameWindowUpdate, frameContinuation]);

/** An empty SETTINGS frame: "the defaults", a valid server connection preface on its own. */
export const emptySettingsFrame = Buffer.from([0, 0, 0, frameSettings, 0, 0, 0, 0, 0]);

/** A client byte stream the shim cannot follow: the connection must be closed. */
export class Http2FramingError extends Error {
  constructor(message: string) {
    super(`http2 authority fix: ${message}`);
    this.name = 'Http2FramingError';
  }
}

/** True when an authority has a scheme or a path, which nghttp2 refuses. */
export function authorityNeedsFix(authority: string): boolean {
  return authority.includes('/');
}

/** "http://host:port/path" -> "host:port": drops a scheme and anything from the first '/' after it. */
export function fixedAuthority(authority: string): string {
  const schemeEnd = authority.indexOf('://');
  const rest = schemeEnd >= 0 ? authority.slice(schemeEnd + 3) : authority;
  const pathStart = rest.indexOf('/');
  return pathStart >= 0 ? rest.slice(0, pathStart) : rest;
}

export type RewriterMode = 'preface' | 'sniff' | 'verbatim' | 'passthrough' | 'rewrite';

/** What happens to a frame: forwarded as it arrives, collected as part of a header block, or dropped. */
type FrameKind = 'forward' | 'collect' | 'drop';

/** The frame being read: its header fields and how many payload octets are still to come. */
interface Frame {
  type: number;
  flags: number;
  streamId: number;
  remaining: number;
  kind: FrameKind;
  /** For collected frames: the 9-octet header, then the payload as it arrived. */
  parts: Buffer[];
}

/** A header block being assembled from a HEADERS frame and its CONTINUATIONs. */
interface Block {
  streamId: number;
  endStream: boolean;
  fragments: Buffer[];
  bytes: number;
  /** The frames exactly as received, kept while sniffing in case they go through unchanged. */
  original: Buffer[];
}

export interface RewriterOptions {
  /**
   * Drop the first SETTINGS ACK the client sends: it answers a SETTINGS
   * frame the server behind us never sent (see acceptHttp2), and nghttp2
   * treats an ACK it did not ask for as a connection error.
   */
  dropSettingsAck?: boolean;
}

/**
 * Feed it the client's bytes in arrival order (any chunking) and it calls
 * the sink with the bytes for the server. Throws Http2FramingError or
 * HpackError on input it cannot follow, after which it must not be used again.
 */
export class AuthorityRewriter {
  private mode: RewriterMode = 'preface';
  private decoder: HpackDecoder | undefined = new HpackDecoder(serverHeaderTableBytes, headerBlockBytesMax);
  private settingsAcksToDrop: number;
  /** Octets of a preface or frame header split across chunks (at most 24). */
  private partial = Buffer.alloc(0);
  private frame: Frame | undefined;
  private block: Block | undefined;
  private sawFrameNeedingServer = false;

  constructor(private sink: (bytes: Buffer) => void, options: RewriterOptions = {}) {
    this.settingsAcksToDrop = options.dropSettingsAck === true ? 1 : 0;
  }

  get state(): RewriterMode {
    return this.mode;
  }

  /** True once the client sent a frame it may wait for the server to answer (a PING, say). */
  get needsServer(): boolean {
    return this.sawFrameNeedingServer;
  }

  /** Sends later output elsewhere (from a holding buffer to a live stream). */
  redirect(sink: (bytes: Buffer) => void): void {
    this.sink = sink;
  }

  write(chunk: Buffer): void {
    if (this.mode === 'passthrough') {
      this.sink(chunk);
      return;
    }
    let pos = 0;
    // Octets from runStart on are forwarded unchanged and go out as one
    // subarray; -1 while octets are held back (a frame collected or dropped,
    // or a frame header split across chunks).
    let runStart = this.frame !== undefined && this.frame.kind !== 'forward' ? -1 : 0;
    while (pos < chunk.length && !this.passthrough) {
      if (this.mode === 'preface') {
        pos = this.readPreface(chunk, pos);
      } else if (this.frame === undefined) {
        const headerStart = pos;
        const { next, header, split } = this.readFrameHeader(chunk, pos);
        pos = next;
        const kind = header === undefined ? undefined : this.classify(header);
        if (split || kind !== 'forward') {
          this.flushRun(chunk, runStart, headerStart);
          runStart = -1;
        }
        if (header === undefined || kind === undefined) break; // Kept in `partial` until the next chunk.
        // A split header is in no run: it goes out on its own.
        if (split && kind === 'forward') this.sink(header);
        this.startFrame(header, kind);
      } else {
        pos = this.readPayload(chunk, pos);
      }
      if (runStart < 0 && (this.frame === undefined || this.frame.kind === 'forward')) runStart = pos;
    }
    // After a switch to pass-through the rest of the chunk is part of the run.
    if (runStart >= 0) this.flushRun(chunk, runStart, chunk.length);
  }

  private get passthrough(): boolean {
    return this.mode === 'passthrough';
  }

  private flushRun(chunk: Buffer, start: number, end: number): void {
    if (start >= 0 && end > start) this.sink(chunk.subarray(start, end));
  }

  /** Checks the connection preface, which is forwarded as part of the run. */
  private readPreface(chunk: Buffer, pos: number): number {
    const take = chunk.subarray(pos, pos + prefaceBytes.length - this.partial.length);
    const seen = Buffer.concat([this.partial, take]);
    if (!seen.equals(prefaceBytes.subarray(0, seen.length))) throw new Http2FramingError('bad connection preface');
    this.partial = seen.length < prefaceBytes.length ? seen : Buffer.alloc(0);
    if (seen.length === prefaceBytes.length) this.mode = 'sniff';
    return pos + take.length;
  }

  /**
   * Reads a 9-octet frame header at pos. When it is split across chunks its
   * octets are gathered in `partial` (header undefined until complete).
   */
  private readFrameHeader(chunk: Buffer, pos: number): { next: number; header?: Buffer; split: boolean } {
    if (this.partial.length === 0 && chunk.length - pos >= frameHeaderBytes) {
      return { next: pos + frameHeaderBytes, header: chunk.subarray(pos, pos + frameHeaderBytes), split: false };
    }
    const take = chunk.subarray(pos, pos + frameHeaderBytes - this.partial.length);
    this.partial = Buffer.concat([this.partial, take]);
    if (this.partial.length < frameHeaderBytes) return { next: pos + take.length, split: true };
    const header = this.partial;
    this.partial = Buffer.alloc(0);
    return { next: pos + take.length, header, split: true };
  }

  private classify(header: Buffer): FrameKind {
    const type = header[3];
    if (type === frameSettings && (header[4] & flagAck) !== 0 && this.settingsAcksToDrop > 0) return 'drop';
    const blockFrame = type === frameHeaders || type === frameContinuation;
    return blockFrame && (this.mode === 'sniff' || this.mode === 'rewrite') ? 'collect' : 'forward';
  }

  private startFrame(header: Buffer, kind: FrameKind): void {
    const length = header.readUIntBE(0, 3);
    const type = header[3];
    const streamId = header.readUInt32BE(5) & 0x7fffffff;
    if (!quietFrameTypes.has(type)) this.sawFrameNeedingServer = true;
    if (this.block !== undefined && type !== frameContinuation) {
      throw new Http2FramingError(`frame type ${type} inside a header block`);
    }
    if (type === framePushPromise) throw new Http2FramingError('PUSH_PROMISE from a client');
    if (kind === 'drop' && length !== 0) throw new Http2FramingError('SETTINGS ACK with a payload');
    // Checked before a single payload octet is kept: the length field is the client's word.
    if (kind === 'collect' && (this.block?.bytes ?? 0) + length > headerBlockBytesMax) {
      throw new Http2FramingError(`header block larger than ${headerBlockBytesMax} bytes`);
    }
    this.frame = { type, flags: header[4], streamId, remaining: length, kind, parts: kind === 'collect' ? [header] : [] };
    if (length === 0) this.endFrame();
  }

  private readPayload(chunk: Buffer, pos: number): number {
    const frame = this.frame;
    assert(frame !== undefined);
    const take = Math.min(frame.remaining, chunk.length - pos);
    if (frame.kind === 'collect') frame.parts.push(chunk.subarray(pos, pos + take));
    frame.remaining -= take;
    if (frame.remaining === 0) this.endFrame();
    return pos + take;
  }

  private endFrame(): void {
    const frame = this.frame;
    assert(frame !== undefined && frame.remaining === 0);
    this.frame = undefined;
    if (frame.kind === 'drop') {
      this.settingsAcksToDrop--;
      if (this.mode === 'verbatim') this.mode = 'passthrough';
      return;
    }
    if (frame.kind === 'forward') return;
    // parts[0] is the frame header; the rest is the payload, at most headerBlockBytesMax.
    const whole = Buffer.concat(frame.parts);
    const payload = whole.subarray(frameHeaderBytes);
    if (frame.type === frameHeaders) this.startBlock(frame, payload);
    else this.continueBlock(frame, payload);
    const block = this.block;
    assert(block !== undefined);
    if (this.mode === 'sniff') block.original.push(whole);
    if (frame.flags & flagEndHeaders) this.endBlock(block);
  }

  private startBlock(frame: Frame, payload: Buffer): void {
    if (frame.streamId === 0) throw new Http2FramingError('HEADERS on stream 0');
    let start = 0;
    let end = payload.length;
    if (frame.flags & flagPadded) {
      if (payload.length < 1) throw new Http2FramingError('PADDED HEADERS without a pad length');
      end -= payload[0];
      start = 1;
    }
    if (frame.flags & flagPriority) start += 5;
    if (end < start) throw new Http2FramingError('HEADERS padding longer than its payload');
    const fragment = payload.subarray(start, end);
    this.block = {
      streamId: frame.streamId,
      endStream: (frame.flags & flagEndStream) !== 0,
      fragments: [fragment],
      bytes: fragment.length,
      original: [],
    };
  }

  private continueBlock(frame: Frame, payload: Buffer): void {
    const block = this.block;
    if (block === undefined) throw new Http2FramingError('CONTINUATION without HEADERS');
    if (frame.streamId !== block.streamId) throw new Http2FramingError('CONTINUATION on another stream');
    block.fragments.push(payload);
    block.bytes += payload.length;
  }

  private endBlock(block: Block): void {
    this.block = undefined;
    assert(this.decoder !== undefined);
    const fields = this.decoder.decode(Buffer.concat(block.fragments));
    if (this.mode === 'sniff') {
      if (!fields.some((f) => f.name === ':authority' && authorityNeedsFix(f.value))) {
        for (const frame of block.original) this.sink(frame);
        // The server decodes what we decoded: its HPACK state is the client's from here on.
        this.mode = this.settingsAcksToDrop > 0 ? 'verbatim' : 'passthrough';
        this.decoder = undefined;
        return;
      }
      this.mode = 'rewrite';
    }
    this.sink(headerFrames(block.streamId, block.endStream, encodeHeaderBlock(fields.map(fixField))));
  }
}

function fixField(field: HeaderField): HeaderField {
  if (field.name !== ':authority' || !authorityNeedsFix(field.value)) return field;
  return { ...field, value: fixedAuthority(field.value) };
}

/** Frames a header block as HEADERS plus CONTINUATIONs of at most frameBytesOutMax, without padding or priority. */
export function headerFrames(streamId: number, endStream: boolean, block: Buffer): Buffer {
  const count = Math.max(1, Math.ceil(block.length / frameBytesOutMax));
  const out = Buffer.allocUnsafe(block.length + count * frameHeaderBytes);
  let o = 0;
  for (let i = 0; i < count; i++) {
    const fragment = block.subarray(i * frameBytesOutMax, (i + 1) * frameBytesOutMax);
    const first = i === 0;
    const last = i === count - 1;
    o = out.writeUIntBE(fragment.length, o, 3);
    o = out.writeUInt8(first ? frameHeaders : frameContinuation, o);
    o = out.writeUInt8((first && endStream ? flagEndStream : 0) | (last ? flagEndHeaders : 0), o);
    o = out.writeUInt32BE(streamId, o);
    o += fragment.copy(out, o);
  }
  assert.equal(o, out.length);
  return out;
}
