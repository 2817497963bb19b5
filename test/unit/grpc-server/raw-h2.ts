import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HpackDecoder, encodeHeaderBlock, type HeaderField } from '../../../src/server/api/hpack.js';
import { GrpcServer, type GrpcServerOptions, type ServiceDefinition, type ServiceImplementation } from '../../../src/server/api/grpc-server/server.js';
import type { Http2Connection } from '../../../src/server/api/grpc-server/connection.js';

/**
 * Test tools for the gRPC server transport: a server on a loopback port,
 * and a raw HTTP/2 client that sends exactly the frames a test writes and
 * records every frame the server sends, so tests can speak HTTP/2 wrongly
 * on purpose and see the server's answer frame by frame.
 */

export const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { data: 0, headers: 1, priority: 2, rstStream: 3, settings: 4, pushPromise: 5, ping: 6, goAway: 7, windowUpdate: 8, continuation: 9 };
export const F = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 };
export const S = { headerTableSize: 1, enablePush: 2, maxConcurrentStreams: 3, initialWindowSize: 4, maxFrameSize: 5, maxHeaderListSize: 6 };
export const E = {
  noError: 0, protocol: 1, internal: 2, flowControl: 3, streamClosed: 5, frameSize: 6, refusedStream: 7, cancel: 8, compression: 9, enhanceYourCalm: 11,
};

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export function settingsPayload(settings: [number, number][]): Buffer {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return payload;
}

export function uint32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

/** A gRPC length-prefixed message. */
export function grpcMessage(body: Buffer, compressed = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed;
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

export function requestFields(path: string, extra: [string, string][] = []): HeaderField[] {
  const fields: [string, string][] = [
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ...extra,
  ];
  return fields.map(([name, value]) => ({ name, value, sensitive: false }));
}

export function requestBlock(path: string, extra: [string, string][] = []): Buffer {
  return encodeHeaderBlock(requestFields(path, extra));
}

export interface TestServer {
  server: GrpcServer;
  port: number;
  /** Every connection the server took, in order (for checks against the limits). */
  connections: Http2Connection[];
  close(): Promise<void>;
}

export async function startServer(services: [ServiceDefinition, ServiceImplementation][], options: GrpcServerOptions = {}): Promise<TestServer> {
  const server = new GrpcServer(options);
  for (const [definition, implementation] of services) server.addService(definition, implementation);
  const connections: Http2Connection[] = [];
  const listener: Server = createServer({ noDelay: true }, (socket) => connections.push(server.handleConnection(socket)));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  assert(typeof address === 'object' && address !== null);
  return {
    server,
    port: address.port,
    connections,
    close: async () => {
      listener.close();
      server.forceShutdown();
    },
  };
}

/** What the server said on one stream. */
export interface Response {
  headers: HeaderField[][];
  messages: Buffer[];
  reset: number | undefined;
  ended: boolean;
}

export class RawClient {
  readonly frames: Frame[] = [];
  private buffered = Buffer.alloc(0);
  private readonly decoder = new HpackDecoder(4096, 1 << 20);
  private waiters: (() => void)[] = [];
  closed = false;
  readonly responses = new Map<number, Response>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects; by default sends the preface and an empty SETTINGS, and waits for the server's SETTINGS. */
  static async connect(port: number, options: { settings?: [number, number][]; handshake?: boolean } = {}): Promise<RawClient> {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    if (options.handshake !== false) {
      client.send(preface, frame(T.settings, 0, 0, settingsPayload(options.settings ?? [])));
      await client.waitFor((f) => f.type === T.settings && (f.flags & F.ack) === 0);
    }
    return client;
  }

  /** Opens the connection window and every stream window as wide as HTTP/2 allows. */
  grantAll(): void {
    this.send(frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, 2 ** 31 - 1]])), frame(T.windowUpdate, 0, 0, uint32(2 ** 31 - 1 - 65_535)));
  }

  /** DATA bytes received on a stream so far. */
  dataBytes(streamId: number): number {
    return this.frames.filter((f) => f.type === T.data && f.streamId === streamId).reduce((n, f) => n + f.payload.length, 0);
  }

  send(...bytes: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(bytes));
  }

  /** HEADERS (END_HEADERS) opening a unary call, then the message with END_STREAM. */
  unary(streamId: number, path: string, body: Buffer, extra: [string, string][] = []): void {
    this.send(
      frame(T.headers, F.endHeaders, streamId, requestBlock(path, extra)),
      frame(T.data, F.endStream, streamId, grpcMessage(body)),
    );
  }

  /** Resolves with the first frame (already received or to come) that matches; rejects on timeout or close. */
  async waitFor(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error('connection closed before the expected frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the server's GOAWAY and the close of the socket; returns the GOAWAY's error code. */
  async goAwayCode(timeoutMs = 5000): Promise<number> {
    const goAway = await this.waitFor((f) => f.type === T.goAway, timeoutMs);
    await this.waitClosed(timeoutMs);
    return goAway.payload.readUInt32BE(4);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the server to close the connection');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until the stream ended (trailers with END_STREAM, or RST_STREAM). */
  async response(streamId: number, timeoutMs = 5000): Promise<Response> {
    await this.waitFor((f) => f.streamId === streamId && (f.type === T.rstStream || (f.type === T.headers && (f.flags & F.endStream) !== 0)), timeoutMs);
    return this.responses.get(streamId)!;
  }

  /** The status of a finished call: grpc-status and grpc-message from its last header block. */
  async status(streamId: number, timeoutMs = 5000): Promise<{ code: number; message: string; messages: Buffer[] }> {
    const response = await this.response(streamId, timeoutMs);
    // RST_STREAM NO_ERROR may follow the trailers: the server answered before the request ended.
    assert(response.ended, `stream ${streamId} was reset with ${response.reset} before its trailers`);
    const trailers = response.headers[response.headers.length - 1];
    const get = (name: string) => trailers.find((f) => f.name === name)?.value;
    return { code: Number(get('grpc-status')), message: decodeURIComponent(get('grpc-message') ?? ''), messages: response.messages };
  }

  /**
   * Sends a PING and waits for its ACK. The server reads frames in order and writes in order,
   * so once the ACK is here it has read every frame sent before the PING, and anything it
   * wrote in answer to them came before the ACK: a test can then assert what did NOT happen
   * without sleeping. (A PING counts towards the server's ping policy: a few per call at most.)
   */
  async barrier(timeoutMs = 5000): Promise<void> {
    const payload = randomBytes(8);
    this.send(frame(T.ping, 0, 0, payload));
    await this.waitFor((f) => f.type === T.ping && (f.flags & F.ack) !== 0 && f.payload.equals(payload), timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    let pos = 0;
    while (this.buffered.length - pos >= 9) {
      const length = this.buffered.readUIntBE(pos, 3);
      if (this.buffered.length - pos < 9 + length) break;
      const f: Frame = {
        type: this.buffered[pos + 3],
        flags: this.buffered[pos + 4],
        streamId: this.buffered.readUInt32BE(pos + 5) & 0x7fffffff,
        payload: Buffer.from(this.buffered.subarray(pos + 9, pos + 9 + length)),
      };
      pos += 9 + length;
      this.record(f);
    }
    this.buffered = this.buffered.subarray(pos);
    this.wake();
  }

  private record(f: Frame): void {
    this.frames.push(f);
    if (f.streamId === 0) return;
    let response = this.responses.get(f.streamId);
    if (response === undefined) this.responses.set(f.streamId, (response = { headers: [], messages: [], reset: undefined, ended: false }));
    if (f.type === T.headers) {
      response.headers.push(this.decoder.decode(f.payload));
      if (f.flags & F.endStream) response.ended = true;
    } else if (f.type === T.data) {
      (response as Response & { raw?: Buffer }).raw = Buffer.concat([(response as Response & { raw?: Buffer }).raw ?? Buffer.alloc(0), f.payload]);
      response.messages = splitMessages((response as Response & { raw?: Buffer }).raw!);
    } else if (f.type === T.rstStream) {
      response.reset = f.payload.readUInt32BE(0);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The complete gRPC messages in a stream's DATA so far. */
/** The raw clients a test opened, closed together after each test. */
export class RawClients {
  private readonly clients: RawClient[] = [];

  async connect(port: number, options: { settings?: [number, number][]; handshake?: boolean } = {}): Promise<RawClient> {
    return this.track(await RawClient.connect(port, options));
  }

  private track(client: RawClient): RawClient {
    this.clients.push(client);
    return client;
  }

  closeAll(): void {
    for (const c of this.clients.splice(0)) c.close();
  }
}

export function splitMessages(raw: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  for (let pos = 0; raw.length - pos >= 5;) {
    const length = raw.readUInt32BE(pos + 1);
    if (raw.length - pos - 5 < length) break;
    messages.push(raw.subarray(pos + 5, pos + 5 + length));
    pos += 5 + length;
  }
  return messages;
}

/** Identity-serialized methods for tests: requests and responses are raw bytes. */
export function bytesMethod(path: string, requestStream: boolean, responseStream: boolean) {
  const id = (b: Buffer) => b;
  return { path, requestStream, responseStream, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms until it holds; fails after the deadline. */
export async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** A conformance section: cases of a name, the frames to send and the answer expected. */
export type Section<Expect> = [title: string, cases: [name: string, send: () => Buffer[], expect: Expect][]];

/** One describe per section and one test per case: a fresh connection sends the case's frames, `answer` checks the reply. */
export function describeSections<Expect>(sections: Section<Expect>[], port: () => number, clients: RawClients, answer: (client: RawClient, expect: Expect) => Promise<void>): void {
  for (const [title, cases] of sections) {
    describe(title, () => {
      for (const [name, send, expect] of cases) {
        it(name, async () => {
          const client = await clients.connect(port());
          client.send(...send());
          await answer(client, expect);
        });
      }
    });
  }
}
