import assert from 'node:assert';

/**
 * Every limit of the gRPC server transport, units last (style.md §12).
 *
 * Memory a connection can make us hold, and what bounds it:
 * - received, not yet parsed: at most one frame (maxFrameBytes) plus one
 *   header block being assembled (headerBlockBytesMax);
 * - received messages, partial or not yet taken by a handler: at most
 *   connectionBufferedBytesMax (a DATA frame that would pass it fails its
 *   stream with RESOURCE_EXHAUSTED), and per stream at most its receive window
 *   (credit is withheld while a handler leaves messages unread);
 * - responses not yet framed: per stream, write() reports back-pressure at
 *   streamSendHighWaterBytes and a stream that keeps writing past
 *   streamSendQueuedBytesMax (or past its high-water mark while the
 *   connection holds connectionSendQueuedBytesMax) is reset; a single
 *   message is always accepted, whatever its size;
 * - framed, not yet taken by the socket: once the socket holds
 *   socketBufferedBytesMax we stop framing responses and stop reading
 *   requests (so PING or SETTINGS floods cannot grow our output either)
 *   until it drains.
 */

/** Frame payload we accept (SETTINGS_MAX_FRAME_SIZE: the RFC 9113 default, so we never announce it). */
export const maxFrameBytes = 16_384;

/** The flow-control window before any WINDOW_UPDATE or SETTINGS (RFC 9113 §6.9.2). */
export const defaultWindowBytes = 65_535;

/** Largest window RFC 9113 allows (§6.9.1). */
export const windowBytesMax = 2 ** 31 - 1;

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS we announce. etcd announces 2^32-1
 * (effectively unlimited); clients queue calls beyond the limit instead of
 * failing them (grpc-go waits for stream quota, nghttp2 holds the request),
 * so a finite limit only bounds what one connection can hold, never fails
 * a call.
 */
export const concurrentStreamsMax = 1000;

/**
 * SETTINGS_INITIAL_WINDOW_SIZE we announce, when the largest request message
 * allowed fits in it (otherwise the window grows to hold one such message):
 * etcd's largest request (1.5 MiB plus the gRPC overhead allowance) arrives
 * without waiting for a WINDOW_UPDATE.
 */
export const streamWindowBytesDefault = 4 * 1024 * 1024;

/** The connection window we raise the default to, right after our SETTINGS. */
export const connectionWindowBytes = 16 * 1024 * 1024;

/**
 * Received message bytes one connection may hold (partial messages and
 * messages a paused handler has not taken yet).
 */
export const connectionBufferedBytesMax = 64 * 1024 * 1024;

/** SETTINGS_MAX_HEADER_LIST_SIZE we announce (RFC 7541 sizes: octets plus 32 per field). */
export const headerListBytesMax = 64 * 1024;

/**
 * A header list decodes up to this size before the connection is closed:
 * past headerListBytesMax only the stream is refused, and the decoder must
 * still run to keep its dynamic table in step with the client's encoder.
 */
export const headerListDecodeBytesMax = 4 * headerListBytesMax;

/** Compressed header block (HEADERS + CONTINUATION) held while it is assembled. */
export const headerBlockBytesMax = headerListDecodeBytesMax;

/** The HPACK table size we allow the client's encoder (SETTINGS_HEADER_TABLE_SIZE, left at its default). */
export const headerTableBytes = 4096;

/** write() returns false once a stream holds this many unsent response bytes ('drain' follows). */
export const streamSendHighWaterBytes = 256 * 1024;

/** A stream writing past this many unsent bytes ignores back-pressure and is reset. */
export const streamSendQueuedBytesMax = 16 * 1024 * 1024;

/** Unsent response bytes of all streams of a connection past which streams over their high-water mark are reset. */
export const connectionSendQueuedBytesMax = 64 * 1024 * 1024;

/** Output the socket may hold before we stop framing and reading. */
export const socketBufferedBytesMax = 1024 * 1024;

/** Our output buffer: frames are gathered here and written to the socket once per batch. */
export const outputChunkBytes = 64 * 1024;

/** Payloads at least this large are handed to the socket as they are instead of being copied into the output buffer. */
export const outputCopyBytesMax = 8 * 1024;

/**
 * Streams a client may reset while their calls run: a burst, then a steady
 * rate (a token bucket per connection). A reset frees the stream's slot at
 * once while the work it started (a proposal, a range) goes on, so resets
 * without a limit let one connection run any number of calls at a time
 * ("rapid reset", CVE-2023-44487). Past the budget the connection gets
 * GOAWAY ENHANCE_YOUR_CALM. A client that cancels calls on timeouts stays
 * far below it.
 */
export const clientResetsBurst = 1000;
export const clientResetsPerSecond = 1000;

/** How long a graceful shutdown lets calls in flight finish before closing connections. */
export const shutdownGraceMsDefault = 5_000;

/** Server keepalive PING period and ACK timeout: etcd's --grpc-keepalive-interval and --grpc-keepalive-timeout defaults. */
export const keepaliveTimeMsDefault = 2 * 60 * 60 * 1000;
export const keepaliveTimeoutMsDefault = 20_000;

/** Largest grpc-timeout honoured, in ms (Node timers); longer deadlines are this long. */
export const deadlineMsMax = 2 ** 31 - 1;

assert(streamWindowBytesDefault <= windowBytesMax && connectionWindowBytes <= windowBytesMax);
assert(connectionWindowBytes >= defaultWindowBytes);
assert(headerListDecodeBytesMax >= headerListBytesMax);
assert(streamSendHighWaterBytes < streamSendQueuedBytesMax && streamSendQueuedBytesMax <= connectionSendQueuedBytesMax);
assert(outputCopyBytesMax < outputChunkBytes);
