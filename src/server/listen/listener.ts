import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TlsAcceptor } from '../tls/tls-acceptor.js';
import type { TlsCredentials, TlsLogger } from '../tls/tls-credentials.js';
import { isSecureScheme } from '../tls/tls-info.js';
import { connectionsMaxFallback, firstBytesTimeoutMs, reservedInternalFds } from './limits.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** The HTTP/2 connection preface every gRPC client sends first. */
const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The first octet of a TLS record carrying a handshake (a ClientHello). */
const tlsHandshakeRecord = 0x16;

/** Where a listen URL binds: a TCP host and port, or a unix socket file. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * The listen URLs that share one address, as etcd groups them: an http://
 * and an https:// URL on the same host and port make one listener serving
 * both plaintext and TLS (etcd's serveCtx with secure and insecure set).
 */
export interface ListenGroup {
  address: ListenAddress;
  secure: boolean;
  insecure: boolean;
  urls: URL[];
}

export function listenAddressOf(url: URL): ListenAddress {
  if (url.protocol === 'unix:' || url.protocol === 'unixs:') {
    // etcd listens on u.Host (+ u.Path, always empty): unix://localhost:2379 is the file "localhost:2379".
    return { kind: 'unix', path: url.host + (url.pathname === '/' ? '' : url.pathname) };
  }
  return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
}

function addressKey(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `tcp:${a.host}:${a.port}`;
}

export function groupListenUrls(urls: URL[]): ListenGroup[] {
  const groups = new Map<string, ListenGroup>();
  for (const url of urls) {
    const address = listenAddressOf(url);
    const key = addressKey(address);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { address, secure: false, insecure: false, urls: [] }));
    group.urls.push(url);
    if (isSecureScheme(url)) group.secure = true;
    else group.insecure = true;
  }
  return [...groups.values()];
}

/** What to do with a connection once its protocol is known. */
export interface ConnectionHandlers {
  http2(socket: Socket): void;
  /** Anything that is not HTTP/2 (HTTP/1 for the client port); absent: it goes to http2, whose preface check refuses it. */
  http1?(socket: Socket): void;
}

export interface ListenerOptions {
  /** Credentials for TLS connections; required when the group is secure. */
  tls?: TlsCredentials;
  handlers: ConnectionHandlers;
  log: TlsLogger;
  /** Open connections at most (net.Server.maxConnections); more are closed as they arrive. */
  connectionsMax: number;
  /** What the log calls this listener ("client" or "peer"). */
  role: string;
}

/**
 * One bound address of the member (client or peer), serving plaintext, TLS
 * or both as its URLs ask: the first octet of a connection tells a TLS
 * ClientHello from anything else; after TLS (or in plaintext) the HTTP/2
 * preface tells gRPC from HTTP/1. A plaintext client on a TLS-only address
 * is told so and closed, never served in the clear.
 */
export class MemberListener {
  private readonly sockets = new Set<Socket>();
  private readonly acceptor: TlsAcceptor | undefined;
  private readonly refusals: RateLimitedLog;

  private constructor(private readonly server: Server, readonly group: ListenGroup, private readonly options: ListenerOptions) {
    this.refusals = new RateLimitedLog(options.log);
    if (group.secure) {
      if (options.tls === undefined) throw new Error(`TLS listener ${group.urls[0]?.href} without credentials`);
      this.acceptor = new TlsAcceptor(options.tls, (socket) => this.route(socket, true), options.log);
    }
  }

  /** Binds the group's address (a stale unix socket file is removed first, as etcd does). */
  static async open(group: ListenGroup, options: ListenerOptions): Promise<MemberListener> {
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const listener = new MemberListener(server, group, options);
    server.maxConnections = options.connectionsMax;
    server.on('connection', (socket: Socket) => listener.onConnection(socket));
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      listener.refusals.warn({ 'remote-addr': `${data?.remoteAddress ?? ''}:${data?.remotePort ?? ''}`, 'max-connections': options.connectionsMax, listener: options.role },
        'refused connection: too many open connections');
    });
    const address = group.address;
    if (address.kind === 'unix') await rm(address.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        // A failed accept (EMFILE) is emitted here; unhandled, it would end the process.
        server.on('error', (err) => listener.refusals.warn({ error: err.message, address: addressKey(address) }, `${options.role} listener failed to accept a connection`));
        resolve();
      };
      if (address.kind === 'unix') server.listen(address.path, done);
      else server.listen(address.port, address.host, done);
    });
    return listener;
  }

  /** The bound TCP port (useful with port 0), or undefined for a unix socket. */
  get port(): number | undefined {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? (a as AddressInfo).port : undefined;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Stops accepting new connections; those open stay until their servers end them (or destroyConnections()). */
  async close(): Promise<void> {
    this.server.close();
    if (this.group.address.kind === 'unix') await rm(this.group.address.path, { force: true });
  }

  /** Destroys every connection this listener accepted. */
  destroyConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    firstBytes(socket, (head) => {
      if (head[0] === tlsHandshakeRecord && this.acceptor !== undefined) this.acceptor.accept(socket);
      else if (this.group.insecure) this.route(socket, false);
      else this.refusePlaintext(socket, head);
    });
  }

  /** HTTP/2 or not: ALPN says so after TLS; otherwise the preface does. */
  private route(socket: Socket, secure: boolean): void {
    const { http2, http1 } = this.options.handlers;
    if (secure && (socket as TLSSocket).alpnProtocol === 'h2') {
      http2(socket);
      return;
    }
    firstBytes(socket, (head) => {
      const isHttp2 = head.length >= http2Preface.length && head.subarray(0, http2Preface.length).equals(http2Preface);
      if (isHttp2 || http1 === undefined) http2(socket);
      else http1(socket);
    }, http2Preface.length);
  }

  /**
   * Plaintext on a TLS-only address: etcd's TLS listener fails the handshake
   * and the client sees only "context deadline exceeded" (etcd#9619). We
   * answer in the client's own protocol, as Go's HTTPS server answers plain
   * HTTP/1, so that the mistake is named on the client's side.
   */
  private refusePlaintext(socket: Socket, head: Buffer): void {
    const url = this.group.urls[0]?.href ?? '';
    this.refusals.warn({ 'remote-addr': `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, 'listen-url': url }, 'rejected plaintext connection on a TLS port');
    const text = `this ${this.options.role} port serves TLS only (${url}): use https:// and TLS credentials`;
    if (head.subarray(0, 3).toString('latin1') === 'PRI') {
      const debug = Buffer.from(text, 'latin1');
      const frame = Buffer.alloc(9 + 8 + debug.length);
      frame.writeUIntBE(8 + debug.length, 0, 3);
      frame[3] = 0x7; // GOAWAY
      frame.writeUInt32BE(0, 9); // last stream id
      frame.writeUInt32BE(0x1, 13); // PROTOCOL_ERROR
      debug.copy(frame, 17);
      // An empty SETTINGS first: a client reads the server preface before anything else.
      socket.end(Buffer.concat([Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]), frame]));
    } else {
      socket.end(`HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n`);
    }
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/**
 * Waits for the first `bytes` octets (or fewer if the connection stops
 * sending something that could still match the HTTP/2 preface), puts them
 * back, and calls `decide` with them. A connection that sends nothing
 * within firstBytesTimeoutMs is closed.
 */
function firstBytes(socket: Socket, decide: (head: Buffer) => void, bytes = 1): void {
  let head: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), firstBytesTimeoutMs);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const n = Math.min(head.length, http2Preface.length);
    const stillPreface = head.subarray(0, n).equals(http2Preface.subarray(0, n));
    if (head.length < bytes && stillPreface) return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    socket.unshift(head);
    decide(head);
  };
  socket.on('data', onData);
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
}

/**
 * Connections a client listener may hold: the process's descriptor limit
 * less what etcd keeps back for itself (reservedInternalFds).
 */
export function clientConnectionsMax(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'latin1');
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1];
    if (soft === undefined) return connectionsMaxFallback;
    if (soft === 'unlimited') return 1_000_000;
    return Math.max(1, Number(soft) - reservedInternalFds);
  } catch {
    return connectionsMaxFallback;
  }
}
