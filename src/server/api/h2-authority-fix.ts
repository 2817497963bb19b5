import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { AuthorityRewriter, emptySettingsFrame, headerBlockBytesMax } from './h2-authority-rewriter.js';

/**
 * Makes Node's HTTP/2 server accept the `:authority` etcdctl 3.4 sends.
 *
 * etcdctl dials its per-endpoint maintenance calls (endpoint status and
 * hashkv, defrag, snapshot save, ...) with a gRPC "passthrough" target, so
 * for `--endpoints http://127.0.0.1:2379` every request carries the
 * `:authority` "http://127.0.0.1:2379". Go's server takes it; nghttp2 (under
 * grpc-js) resets the stream with PROTOCOL_ERROR because '/' is not an
 * authority character, and Node offers no switch to relax that check.
 *
 * The client's bytes therefore go through AuthorityRewriter
 * (h2-authority-rewriter.ts) before nghttp2 sees them; server bytes are
 * never looked at. Two ways to put it in front of the server:
 *
 * - fixAuthority(socket) wraps the socket in a Duplex for the whole
 *   connection. Simple, but Node's HTTP/2 session can only read a plain
 *   Duplex through its JS stream bridge (JSStreamSocket), which costs CPU on
 *   every chunk both ways even when nothing is parsed any more.
 *
 * - acceptHttp2(socket, inject) decides before the server sees the
 *   connection, so the common case keeps Node's native socket path. It
 *   holds the client's bytes until the first header block: a valid
 *   authority hands the raw socket over, the held bytes put back in front;
 *   anything else hands over the Duplex. A gRPC-Go client sends no request
 *   before it has the server's SETTINGS, so the hold answers with an empty
 *   SETTINGS frame itself (a server may send SETTINGS any time; the real
 *   server's follow later and override nothing the client relies on) and
 *   drops the client's ACK of it, which the real server would otherwise
 *   take for an ACK it never asked for.
 */

/**
 * Bound on what the hold keeps: a header block at its limit, plus the
 * connection-level frames and the first window of DATA that may come with it.
 */
export const http2HoldBytesMax = headerBlockBytesMax + 256 * 1024;
/**
 * How long the hold waits, after a valid first header block, for the ACK of
 * its SETTINGS before giving up on the native path. Clients ACK as soon as
 * they read the frame, so this only ever runs out on a client that does not.
 */
export const http2HoldAckWaitMs = 1000;

/**
 * Wraps a server-side socket carrying HTTP/2 into a Duplex that applies
 * AuthorityRewriter to what the client sends and writes server bytes to the
 * socket untouched, for the whole connection.
 */
export function fixAuthority(socket: Socket): AuthorityFixStream {
  return new AuthorityFixStream(socket, new AuthorityRewriter(() => undefined), []);
}

/**
 * Hands an HTTP/2 connection to `inject` once its first header block has
 * been seen: the raw socket when the authority is valid (native speed from
 * then on), an AuthorityFixStream otherwise, or when the client sends a
 * frame it may wait for the server to answer (a PING), or more than
 * http2HoldBytesMax, before that. Input the rewriter cannot follow closes
 * the socket; the server never sees such a connection.
 */
export function acceptHttp2(socket: Socket, inject: (connection: Duplex) => void): void {
  const held: Buffer[] = [];
  let heldBytes = 0;
  const rewriter = new AuthorityRewriter((bytes) => {
    held.push(bytes);
    heldBytes += bytes.length;
  }, { dropSettingsAck: true });
  let ackTimer: NodeJS.Timeout | undefined;
  const handOver = (native: boolean): void => {
    clearTimeout(ackTimer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onClose);
    socket.pause();
    if (native) {
      socket.unshift(Buffer.concat(held));
      inject(socket);
    } else {
      inject(new AuthorityFixStream(socket, rewriter, held));
    }
  };
  const onData = (chunk: Buffer): void => {
    try {
      rewriter.write(chunk);
    } catch {
      socket.destroy();
      return;
    }
    if (rewriter.state === 'passthrough') return handOver(true);
    if (rewriter.state === 'rewrite' || rewriter.needsServer || heldBytes > http2HoldBytesMax) return handOver(false);
    if (rewriter.state === 'verbatim' && ackTimer === undefined) {
      ackTimer = setTimeout(() => handOver(false), http2HoldAckWaitMs);
    }
  };
  // A client that half-closes before its first request is not worth a server session.
  const onEnd = (): void => void socket.destroy();
  const onClose = (): void => clearTimeout(ackTimer);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onClose);
  socket.write(emptySettingsFrame);
  socket.resume();
}

/**
 * The Duplex form: backpressure runs both ways (the socket is paused while
 * this stream's reader is full; server writes wait for the socket's
 * 'drain'), and input the rewriter cannot follow destroys both.
 */
export class AuthorityFixStream extends Duplex {
  private socketPaused = true;

  /**
   * @param rewriter a rewriter in any state, redirected to this stream.
   * @param held bytes it already produced, delivered first.
   */
  constructor(private readonly socket: Socket, readonly rewriter: AuthorityRewriter, held: Buffer[]) {
    super({ allowHalfOpen: true });
    // Nothing flows until this stream's reader asks for it (_read).
    socket.pause();
    for (const bytes of held) this.push(bytes);
    rewriter.redirect((bytes) => this.forward(bytes));
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  private onSocketData(chunk: Buffer): void {
    if (this.destroyed) return;
    try {
      this.rewriter.write(chunk);
    } catch (err) {
      // One unreadable (or hostile) connection costs that connection only,
      // never an exception out of the socket's event handler.
      this.destroy(err as Error);
    }
  }

  private forward(bytes: Buffer): void {
    if (!this.push(bytes) && !this.socketPaused) {
      this.socketPaused = true;
      this.socket.pause();
    }
  }

  override _read(): void {
    if (this.socketPaused) {
      this.socketPaused = false;
      this.socket.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.socket.cork();
    let flowing = true;
    for (const { chunk } of chunks) flowing = this.socket.write(chunk);
    this.socket.uncork();
    if (flowing) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
