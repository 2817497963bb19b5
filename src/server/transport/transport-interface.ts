/**
 * The contracts between the peer transport and the member that owns it: what
 * the member must provide (PeerHandler, the receiving side), what the
 * transport reports back (PeerReports, the sending side), and its knobs.
 * Declared here, by the transport, so that the transport depends on nothing
 * of the member (style.md §13).
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { TlsCredentials } from '../tls/tls-credentials.js';
import type {
  HashKVRequest,
  HashKVResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import type { MembersResponse } from '../../proto/gen/etcdtspb/peer.js';
import type { Message } from '../../proto/gen/etcdtspb/raft.js';

/** What the member does with what its peers send it. */
export interface PeerHandler {
  /**
   * Raft messages from one peer, in the order that peer sent them. Called
   * from a stream event: hand them to Raft (or a queue in front of it) and
   * return; it must not block, and it must not throw.
   */
  onMessages(msgs: Message[]): void;
  /**
   * A snapshot from the leader: `msg` is the MsgSnap, `data` yields the
   * backend database file (exactly `totalBytes` of it; the iterator throws
   * SnapshotTruncatedError if the sender vanishes half-way). Resolve once the
   * file is durably on disk and `msg` has been handed to Raft; the sender is
   * acknowledged only then. Reject to make the sender report a failure.
   */
  onSnapshot(msg: Message, data: AsyncIterable<Buffer>, totalBytes: bigint): Promise<void>;
  /** The membership as this member knows it (answers a joining member). */
  members(): MembersResponse;
  /** Lease calls forwarded by followers; only the leader should answer them. */
  leaseRenew(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse>;
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
  /** This member's HashKV for a peer's corruption check. */
  hashKV(req: HashKVRequest): Promise<HashKVResponse>;
  /** True for members removed from the cluster: their streams are refused. */
  isRemoved(id: bigint): boolean;
}

/**
 * What the transport tells the member about the sending side. Never called
 * synchronously from inside send(), sendSnapshot() or addPeer(), so that the
 * member may call back into Raft from them.
 */
export interface PeerReports {
  /** Messages to `id` were lost (stream broken, queue full): Raft should probe it. */
  onUnreachable?(id: bigint): void;
  /** The snapshot to `id` was applied by it (ok) or failed to get there. */
  onSnapshotStatus?(id: bigint, ok: boolean): void;
  /** A peer refused us because we were removed from the cluster: stop this member. */
  onRemoved?(): void;
}

/**
 * The logger calls the transport makes; pino's Logger satisfies it. Member
 * ids are logged in hex, as etcd logs them.
 */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A gRPC status the transport sends when a handler call rejects. */
export interface WireStatus {
  code: number;
  message: string;
}

export interface PeerTransportOptions extends PeerReports {
  queueMessagesMax?: number;
  queueBytesMax?: number;
  batchBytesMax?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  connectTimeoutMs?: number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  snapshotChunkBytes?: number;
  snapshotProgressIntervalMs?: number;
  forwardTimeoutMs?: number;
  /** Uniform in [0, 1): the jitter of reconnection backoff (a seeded PRNG in tests). */
  random?: () => number;
  /** Milliseconds since the epoch: timestamps of activeSince(). */
  now?: () => number;
  /**
   * How a rejection of leaseRenew / leaseTimeToLive travels to the follower
   * that forwarded the call. Pass the API layer's wire-error table so that
   * the follower gets etcd's exact code and message. Default: UNKNOWN with
   * the error's message.
   */
  errorToStatus?: (err: unknown) => WireStatus;
  /**
   * TLS for https:// listen URLs (the --peer-* TLS flags). Without it, an
   * https:// listen URL is refused with TransportConfigError; http:// URLs
   * never use it.
   */
  tls?: TlsCredentials;
  /**
   * Credentials to dial https:// peer URLs with, asked for at each new
   * connection so that rotated certificates are used. Without them, an
   * https:// peer URL is refused with TransportConfigError.
   */
  channelCredentials?: () => ChannelCredentials;
}

export interface PeerTransportConfig {
  memberId: bigint;
  clusterId: bigint;
  listenUrls: URL[];
  handler: PeerHandler;
  logger?: TransportLogger;
  options?: PeerTransportOptions;
}
