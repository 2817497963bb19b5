import { status as Status, type ServerReadableStream, type sendUnaryData, type StatusObject } from '@grpc/grpc-js';
import type { PeerAck, SnapshotChunk } from '../../proto/gen/etcdtspb/peer.js';
import { MessageType } from '../../proto/gen/etcdtspb/raft.js';
import { SnapshotOverrunError, SnapshotTruncatedError } from './errors.js';
import { checkPeer, refuse, type InboundEnv } from './peer-check.js';
import { ProgressLog } from './progress-log.js';

/**
 * The receiving end of a Snapshot call. The first chunk names the sender and
 * carries the MsgSnap; the member gets the rest as an async iterable that
 * reads the call only as fast as the member consumes it (gRPC flow control
 * then slows the sender), and that throws unless it delivers exactly the
 * announced number of bytes. The sender is acknowledged only after the
 * member's onSnapshot resolved: the file is durable and Raft has the message.
 */
export async function receiveSnapshot(env: InboundEnv, call: ServerReadableStream<SnapshotChunk, PeerAck>, callback: sendUnaryData<PeerAck>): Promise<void> {
  const chunks = call[Symbol.asyncIterator]() as AsyncIterator<SnapshotChunk>;
  let first: IteratorResult<SnapshotChunk>;
  try {
    first = await chunks.next();
  } catch {
    return; // The sender went away before saying anything.
  }
  if (first.done === true) return fail(callback, Status.INVALID_ARGUMENT, 'empty snapshot stream');
  const { header, message, totalBytes, data } = first.value;
  if (header === undefined) return fail(callback, Status.INVALID_ARGUMENT, 'snapshot stream without a peer header');
  const refusal = checkPeer(env, header);
  if (refusal !== undefined) return refuse(env, refusal, header.from, call.getPeer(), callback);
  if (message === undefined || message.type !== MessageType.MsgSnap) {
    return fail(callback, Status.INVALID_ARGUMENT, 'wrong raft message type');
  }
  const from = header.from;
  const fields = {
    'remote-peer-id': from.toString(16),
    'snapshot-index': String(message.snapshot?.metadata?.index ?? 0n),
    'total-bytes': Number(totalBytes),
  };
  env.logger.info(fields, 'receiving database snapshot');
  const stream = new SnapshotData(env, from, chunks, data, totalBytes);
  try {
    await env.handler.onSnapshot(message, stream, totalBytes);
    if (!stream.complete) throw new Error('snapshot handler resolved before reading the whole snapshot');
  } catch (err) {
    env.counters(from).snapshotReceiveFailures++;
    env.logger.warn({ ...fields, error: err instanceof Error ? err.message : String(err) }, 'failed to receive database snapshot');
    await chunks.return?.();
    return fail(callback, Status.INTERNAL, `snapshot not saved: ${err instanceof Error ? err.message : String(err)}`);
  }
  env.counters(from).snapshotsReceived++;
  env.logger.info({ ...fields, ...stream.progress.fields(totalBytes) }, 'received and saved database snapshot');
  callback(null, {});
}

function fail(callback: sendUnaryData<PeerAck>, code: Status, details: string): void {
  callback({ code, details } as StatusObject, null);
}

/** The snapshot's file bytes as the member reads them, checked against the announced size. */
class SnapshotData implements AsyncIterable<Buffer> {
  private received = 0n;
  private started = false;
  complete = false;
  readonly progress: ProgressLog;

  constructor(
    private readonly env: InboundEnv,
    private readonly from: bigint,
    private readonly chunks: AsyncIterator<SnapshotChunk>,
    private readonly firstData: Buffer,
    private readonly totalBytes: bigint,
  ) {
    this.progress = new ProgressLog(env, from, totalBytes, 'receiving database snapshot: progress');
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.started) throw new Error('snapshot data can be read only once');
    this.started = true;
    if (this.firstData.length > 0) yield this.count(this.firstData);
    for (;;) {
      let next: IteratorResult<SnapshotChunk>;
      try {
        next = await this.chunks.next();
      } catch {
        break; // Cancelled by the sender: reported below as a truncated stream.
      }
      if (next.done === true) break;
      if (next.value.data.length > 0) yield this.count(next.value.data);
    }
    if (this.received < this.totalBytes) throw new SnapshotTruncatedError(this.received, this.totalBytes);
    this.complete = true;
  }

  private count(data: Buffer): Buffer {
    this.received += BigInt(data.length);
    if (this.received > this.totalBytes) throw new SnapshotOverrunError(this.received, this.totalBytes);
    this.env.counters(this.from).snapshotBytesReceived += data.length;
    this.progress.maybeLog(this.received);
    return data;
  }
}
