/**
 * Limits of the peer transport (style.md §12), units last in the names. They
 * live here rather than in src/server/constants.ts because nothing outside
 * the transport reads them; every one can be overridden per transport
 * through PeerTransportOptions, which tests use to make queues tiny.
 */
import assert from 'node:assert';
import { grpcOverheadBytes, requestBytesMaxDefault } from '../constants.js';

/**
 * Messages waiting for one peer's stream. Raft's own flow control (the
 * inflight window of MsgApp per follower) keeps a healthy peer far below
 * this; etcd's stream buffer has the same size (rafthttp streamBufSize).
 */
export const queueMessagesMaxDefault = 4096;

/**
 * Bytes waiting for one peer's stream. Appends carry entries of up to
 * --max-request-bytes each; 64 MiB holds a full inflight window of 1 MiB
 * appends many times over while bounding what a dead peer can pin.
 */
export const queueBytesMaxDefault = 64 * 1024 * 1024;

/**
 * Largest MessageBatch written in one gRPC message. A single message larger
 * than this still goes alone; the cap only stops coalescing.
 */
export const batchBytesMaxDefault = 4 * 1024 * 1024;

/**
 * Largest single gRPC message a member accepts on its peer listener. It must
 * hold a batch, one snapshot chunk, and one append carrying an entry at the
 * request size limit plus gRPC's overhead.
 */
export const peerMessageBytesMax = 64 * 1024 * 1024;

/** Reconnection backoff for a broken message stream: 50 ms doubling up to 2 s. */
export const backoffInitialMsDefault = 50;
export const backoffMaxMsDefault = 2_000;

/**
 * How long a new message stream may take to be accepted by the peer (the
 * receiver answers the first batch with response headers). It covers the
 * TCP connect and HTTP/2 handshake to a host that swallows packets; etcd
 * dials peers with a 1 s timeout, we allow more for a loaded machine.
 */
export const connectTimeoutMsDefault = 3_000;

/**
 * HTTP/2 keepalive pings on every peer connection: a peer that stops
 * answering (killed host, SIGSTOP, cable pulled) is declared dead after
 * about keepaliveTimeMs + keepaliveTimeoutMs, i.e. within 5 s.
 */
export const keepaliveTimeMsDefault = 2_000;
export const keepaliveTimeoutMsDefault = 3_000;

/**
 * Slice of the backend file per Snapshot chunk. Callers should open the
 * file with this highWaterMark so that reads need no splitting.
 */
export const snapshotChunkBytesDefault = 1024 * 1024;

/** Interval between "still sending / receiving snapshot" progress log lines. */
export const snapshotProgressIntervalMsDefault = 5_000;

/** Deadline of forwarded lease calls and of a Members call to one URL. */
export const forwardTimeoutMsDefault = 5_000;
export const membersTimeoutMsDefault = 2_000;

// One append carrying one entry at the request size limit must fit a message.
assert(peerMessageBytesMax > requestBytesMaxDefault + grpcOverheadBytes);
assert(peerMessageBytesMax > batchBytesMaxDefault + snapshotChunkBytesDefault);
assert(backoffInitialMsDefault <= backoffMaxMsDefault);
