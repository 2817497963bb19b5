import type { Readable } from 'node:stream';
import { Client, Metadata, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { PeerAck, SnapshotChunk } from '../../proto/gen/etcdtspb/peer.js';
import type { Message } from '../../proto/gen/etcdtspb/raft.js';
import type { TransportEnv } from './env.js';
import { refusalOf } from './errors.js';
import { ProgressLog } from './progress-log.js';
import { channelCredentialsFor, hostPort, paths } from './wire.js';

export type SnapshotSource = AsyncIterable<Buffer> | Iterable<Buffer> | Readable;

/** Encodes a chunk without copying the encoder's output once more (Buffer.from would). */
function encodeChunk(c: SnapshotChunk): Buffer {
  const bytes = SnapshotChunk.encode(c).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One snapshot on its way to one peer over a Snapshot call of its own (its
 * own TCP connection, so that hundreds of megabytes in flight never stall the
 * heartbeats on the message stream). Writes wait for the stream to drain, so
 * the file is read no faster than the peer takes it, and there is no timer
 * on the transfer as a whole: a slow disk or network makes it slower, never
 * fails it. A dead peer is still noticed, by HTTP/2 keepalive.
 */
export class SnapshotSender {
  private call: ClientWritableStream<SnapshotChunk> | undefined;
  private cancelled = false;
  private progress: ProgressLog | undefined;

  constructor(
    private readonly env: TransportEnv,
    private readonly id: bigint,
    private readonly url: URL,
    private readonly msg: Message,
    private readonly open: () => SnapshotSource,
    private readonly totalBytes: bigint,
  ) {}

  /** Stops the transfer; run() then rejects. */
  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
  }

  /** Resolves once the peer acknowledged the snapshot (it is on its disk and in its Raft). */
  async run(): Promise<void> {
    const client = new Client(hostPort(this.url), channelCredentialsFor(this.url, this.env.channelCredentials), this.env.channelOptions);
    let outcome: { err: ServiceError | null } | undefined;
    let wake: (() => void) | undefined;
    const call = client.makeClientStreamRequest<SnapshotChunk, PeerAck>(
      paths.snapshot, encodeChunk,
      (b: Buffer) => PeerAck.decode(b), new Metadata(), {},
      (err) => {
        outcome = { err };
        wake?.();
      },
    );
    this.call = call;
    if (this.cancelled) call.cancel();
    this.progress = new ProgressLog(this.env, this.id, this.totalBytes, 'sending database snapshot: progress');
    const fields = {
      'peer-id': this.id.toString(16),
      'snapshot-index': String(this.msg.snapshot?.metadata?.index ?? 0n),
      'total-bytes': Number(this.totalBytes),
    };
    this.env.logger.info(fields, 'sending database snapshot');
    const waitDrainOrEnd = (): Promise<void> => new Promise<void>((resolve) => {
      wake = resolve;
      call.once('drain', resolve);
    });
    try {
      call.write({ header: this.env.header(this.id), message: this.msg, totalBytes: this.totalBytes, data: Buffer.alloc(0) });
      const sent = await this.writeData(call, () => outcome !== undefined, waitDrainOrEnd);
      if (outcome === undefined) {
        if (sent !== this.totalBytes) throw new Error(`snapshot source yielded ${sent} bytes, ${this.totalBytes} announced`);
        call.end();
        await new Promise<void>((resolve) => { wake = resolve; if (outcome !== undefined) resolve(); });
      }
      const err = outcome!.err;
      if (err !== null) throw refusalOf(err, this.env.clusterId) ?? err;
      if (sent !== this.totalBytes) throw new Error('peer answered before the whole snapshot was sent');
      this.env.logger.info({ ...fields, ...this.progress.fields(sent) }, 'sent database snapshot');
    } catch (err) {
      call.cancel();
      throw err;
    } finally {
      client.close();
    }
  }

  /** Streams the file in chunks; returns the bytes written. Stops early if the call ended. */
  private async writeData(call: ClientWritableStream<SnapshotChunk>, ended: () => boolean, waitDrainOrEnd: () => Promise<void>): Promise<bigint> {
    const chunkBytes = this.env.settings.snapshotChunkBytes;
    const counters = this.env.counters(this.id);
    const progress = this.progress!;
    let sent = 0n;
    for await (const buf of this.open() as AsyncIterable<Buffer> | Iterable<Buffer>) {
      for (let off = 0; off < buf.length && !ended(); off += chunkBytes) {
        const data = buf.subarray(off, off + chunkBytes);
        const more = call.write({ header: undefined, message: undefined, totalBytes: 0n, data });
        sent += BigInt(data.length);
        counters.snapshotBytesSent += data.length;
        progress.maybeLog(sent);
        if (!more) await waitDrainOrEnd();
      }
      if (ended()) break;
    }
    return sent;
  }
}
