import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { GrpcCallError, type CallDone, type Connection } from './connection.js';
import { unaryMethods, type Workload } from './workload.js';

/**
 * The cheapest way found to speak unary gRPC from Node: a POST per call on a
 * node:http2 session, body = one pre-encoded length-prefixed message, the
 * outcome read from grpc-status in the trailers (or in the headers of a
 * trailers-only error response). The response body is discarded unread.
 *
 * Per call this allocates one stream and nothing else of ours: the listeners
 * are shared functions that find their call's state on the stream itself,
 * so no closure is created per request.
 */

/**
 * node:http2 assumes the server allows `peerMaxConcurrentStreams` (default
 * 100) streams until the server's SETTINGS say otherwise; the limit is
 * raised here so it can never be the generator's, and open() waits for the
 * server's SETTINGS anyway.
 */
const peerStreamsMax = 2 ** 31 - 1;

const connectTimeoutMs = 10_000;

const kDone = Symbol('done');
const kStatus = Symbol('grpc-status');
const kMessage = Symbol('grpc-message');

interface CallStream extends ClientHttp2Stream {
  [kDone]: CallDone;
  [kStatus]: string | undefined;
  [kMessage]: string | undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function noteStatus(stream: CallStream, headers: IncomingHttpHeaders): void {
  const status = headerValue(headers['grpc-status']);
  if (status === undefined) return;
  stream[kStatus] = status;
  stream[kMessage] = headerValue(headers['grpc-message']);
}

function onResponse(this: CallStream, headers: IncomingHttpHeaders): void {
  noteStatus(this, headers);
}

function onTrailers(this: CallStream, trailers: IncomingHttpHeaders): void {
  noteStatus(this, trailers);
}

function onError(this: CallStream, err: Error): void {
  if (this[kStatus] === undefined) this[kMessage] = err.message;
}

function onClose(this: CallStream): void {
  const status = this[kStatus];
  if (status === '0') {
    this[kDone](null);
    return;
  }
  this[kDone](callError(status, this[kMessage], this.rstCode));
}

function callError(status: string | undefined, message: string | undefined, rstCode: number | undefined): GrpcCallError {
  if (status === undefined) {
    return new GrpcCallError(14, `stream closed without grpc-status (${message ?? `rst code ${rstCode ?? 'none'}`})`);
  }
  return new GrpcCallError(Number(status), decodeGrpcMessage(message ?? ''));
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeGrpcMessage(message: string): string {
  try {
    return decodeURIComponent(message);
  } catch {
    return message;
  }
}

export class H2Connection implements Connection {
  private readonly headers: OutgoingHttpHeaders[];

  private constructor(private readonly session: ClientHttp2Session) {
    this.headers = unaryMethods.map((m) => ({
      ':method': 'POST',
      ':path': m.path,
      'content-type': 'application/grpc',
      te: 'trailers',
    }));
  }

  static open(url: URL): Promise<H2Connection> {
    return new Promise((resolve, reject) => {
      const session = connect(url.origin, {
        peerMaxConcurrentStreams: peerStreamsMax,
        maxSessionMemory: 1024, // MiB; the default (10) refuses streams under 256 clients with large values
        settings: { enablePush: false },
      });
      const timer = setTimeout(() => {
        session.destroy();
        reject(new Error(`could not connect to ${url.origin} within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      // Streams opened before the server's SETTINGS arrive could exceed its
      // stream limit and be refused, so the connection is ready only then.
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        session.removeListener('error', reject);
        session.on('error', () => {
          // A broken session fails its streams, and the calls report that.
        });
        resolve(new H2Connection(session));
      });
      session.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  call(workload: Workload, i: number, done: CallDone): void {
    const stream = this.session.request(this.headers[workload.methodOf(i)]) as CallStream;
    stream[kDone] = done;
    stream[kStatus] = undefined;
    stream[kMessage] = undefined;
    stream.on('response', onResponse);
    stream.on('trailers', onTrailers);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.resume();
    stream.end(workload.frameOf(i));
  }

  /** One call whose response message is kept: for setup and for checking the client, not for load. */
  unary(path: string, frame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' }) as CallStream;
      const chunks: Buffer[] = [];
      stream[kStatus] = undefined;
      stream[kMessage] = undefined;
      stream[kDone] = (err) => {
        if (err !== null) return reject(err);
        const body = Buffer.concat(chunks);
        if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) return reject(new Error('malformed gRPC response frame'));
        resolve(body.subarray(5));
      };
      stream.on('response', onResponse);
      stream.on('trailers', onTrailers);
      stream.on('error', onError);
      stream.on('close', onClose);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.end(frame);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.session.closed || this.session.destroyed) return resolve();
      this.session.close(() => resolve());
      setTimeout(() => {
        this.session.destroy();
        resolve();
      }, 2000).unref();
    });
  }
}
