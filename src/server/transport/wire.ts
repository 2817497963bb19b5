/**
 * The Peer service as the transport puts it on the wire. It reuses the
 * generated codecs but swaps two serializers: the sender encodes each
 * MessageBatch itself (so it knows the exact bytes it sent), and the
 * receiver's decoder keeps the encoded size beside the decoded batch (so it
 * counts the exact bytes it received) without encoding twice.
 */
import { credentials, type ChannelCredentials, type ChannelOptions, type ServiceDefinition } from '@grpc/grpc-js';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { MessageBatch, PeerService, SnapshotChunk, type PeerHeader } from '../../proto/gen/etcdtspb/peer.js';
import type { Message } from '../../proto/gen/etcdtspb/raft.js';
import { TransportConfigError } from './errors.js';
import { peerMessageBytesMax } from './limits.js';

export interface ReceivedBatch {
  batch: MessageBatch;
  bytes: number;
}

const identity = (b: Buffer): Buffer => b;

/**
 * Decodes a snapshot chunk. Chunks after the first hold nothing but field 4
 * (data), and for those the data is a view of the received buffer: the
 * generated decoder would copy every megabyte once more, and that copy
 * showed up as garbage-collector time on the receiver.
 */
export function decodeSnapshotChunk(b: Buffer): SnapshotChunk {
  if (b.length > 1 && b[0] === 34) {
    const reader = new BinaryReader(b);
    reader.uint32();
    const length = reader.uint32();
    if (reader.pos + length === b.length) return { header: undefined, message: undefined, totalBytes: 0n, data: b.subarray(reader.pos) };
  }
  return SnapshotChunk.decode(b);
}

/** The server side: batches arrive with their size, chunks without a copy. */
export const peerServiceDefinition = {
  ...PeerService,
  messages: {
    ...PeerService.messages,
    requestDeserialize: (b: Buffer): ReceivedBatch => ({ batch: MessageBatch.decode(b), bytes: b.length }),
  },
  snapshot: {
    ...PeerService.snapshot,
    requestDeserialize: decodeSnapshotChunk,
  },
} as unknown as ServiceDefinition;

export const paths = {
  messages: PeerService.messages.path,
  snapshot: PeerService.snapshot.path,
  members: PeerService.members.path,
  leaseRenew: PeerService.leaseRenew.path,
  leaseTimeToLive: PeerService.leaseTimeToLive.path,
  hashKV: PeerService.hashKv.path,
};

/** The client side of Messages writes batches it encoded itself. */
export const encodedBatch = { serialize: identity };

export function encodeBatch(header: PeerHeader, messages: Message[]): Buffer {
  const bytes = MessageBatch.encode({ header, messages }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * An upper bound on a message's encoded size, cheap enough to take for every
 * message sent: the queue and batch limits are counted with it. Fixed parts
 * of a message (ids, term, index, commit, tags) fit in 96 bytes and an
 * entry's envelope in 32.
 */
export function estimateMessageBytes(m: Message): number {
  let bytes = 96 + m.context.length;
  for (const e of m.entries) bytes += 32 + e.data.length;
  if (m.snapshot !== undefined) bytes += 64 + m.snapshot.data.length + 16 * (m.snapshot.metadata?.confState?.voters.length ?? 0);
  return bytes;
}

/** "host:port" of a peer URL, the target grpc-js dials or binds. */
export function hostPort(url: URL): string {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TransportConfigError(`peer URL ${url.href} must be http:// or https://`);
  }
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  // URL keeps the brackets of an IPv6 host, which is what grpc-js expects.
  return `${url.hostname}:${port}`;
}

export function parsePeerUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new TransportConfigError(`invalid peer URL ${JSON.stringify(raw)}`);
  }
}

export interface ChannelSettings {
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

/**
 * Options of every channel to a peer. Each channel gets its own connection
 * (local subchannel pool), so that a snapshot or a dead message stream never
 * shares a TCP connection, and thus HTTP/2 flow control, with heartbeats.
 * Retries are off: Raft retransmits, and grpc-js would otherwise buffer
 * every written batch for a retry that never comes.
 */
export function channelOptions(s: ChannelSettings): ChannelOptions {
  return {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.keepalive_time_ms': s.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': s.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': s.backoffInitialMs,
    'grpc.max_reconnect_backoff_ms': s.backoffMaxMs,
    'grpc.enable_retries': 0,
    'grpc.max_send_message_length': peerMessageBytesMax,
    'grpc.max_receive_message_length': peerMessageBytesMax,
  };
}

export function channelCredentialsFor(url: URL, given: (() => ChannelCredentials) | undefined): ChannelCredentials {
  if (url.protocol === 'https:') {
    if (given === undefined) throw new TransportConfigError(`peer URL ${url.href} needs TLS credentials, none configured`);
    return given();
  }
  return credentials.createInsecure();
}
