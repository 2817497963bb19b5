import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** The HTTP/2 client preface and an empty SETTINGS frame: what any gRPC client sends first. */
const clientPreface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])]);

export interface TlsProbe {
  /** served: the TLS handshake passed and the server answered HTTP/2 (its SETTINGS); refused: it did not. */
  outcome: 'served' | 'refused';
  error?: string;
  /** The server certificate's serial number (upper-case hex, as Node prints it). */
  serverSerial?: string;
  cipher?: string;
  protocol?: string;
}

/**
 * Connects to a TLS port as a gRPC client would (ALPN h2, then the HTTP/2
 * preface) and reports whether the member served it: a refused client
 * certificate may fail the handshake, or (TLS 1.3, or etcd's checks after
 * the handshake: CRL, allowed CN) close the connection right after it.
 */
export function probeTls(port: number, options: ConnectionOptions = {}, timeoutMs = 10000): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], ...options });
    let settled = false;
    const done = (result: TlsProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ outcome: 'refused', error: 'timeout' }), timeoutMs);
    socket.on('secureConnect', () => socket.write(clientPreface));
    socket.on('data', (chunk: Buffer) => {
      if (chunk.length >= 9 && chunk[3] === 0x4) {
        done({ outcome: 'served', serverSerial: socket.getPeerCertificate().serialNumber, cipher: socket.getCipher().name, protocol: socket.getProtocol() ?? undefined });
      }
    });
    socket.on('error', (err) => done({ outcome: 'refused', error: err.message }));
    socket.on('close', () => done({ outcome: 'refused', error: 'closed by the server' }));
  });
}

export interface PlainFrame {
  type: number;
  payload: Buffer;
}

/** Speaks plaintext HTTP/2 to a port and returns every frame the server sent before it closed. */
export function probePlainHttp2(port: number, timeoutMs = 10000): Promise<PlainFrame[]> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write(clientPreface));
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      const frames: PlainFrame[] = [];
      for (let pos = 0; pos + 9 <= received.length;) {
        const length = received.readUIntBE(pos, 3);
        frames.push({ type: received[pos + 3]!, payload: received.subarray(pos + 9, pos + 9 + length) });
        pos += 9 + length;
      }
      resolve(frames);
    });
  });
}
