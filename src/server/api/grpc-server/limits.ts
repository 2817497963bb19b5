import assert from 'node:assert';

/**
 * Every limit of the gRPC server transport, units last (style.md §12), each
 * with the value it is modelled on: nghttp2 (Node's http2), Node's own
 * http2 session limits, grpc-go (etcd's server) and etcd's flags.
 *
 * Memory a connection can make us hold, and what bounds it:
 * - received, not yet parsed: at most one frame (maxFrameBytes) plus one
 *   header block being assembled (headerBlockBytesMax, at most
 *   1 + continuationFramesPerBlockMax frames), and neither may stay
 *   unfinished longer than incompleteFrameTimeoutMs;
 * - received messages, partial or not yet taken by a handler: at most
 *   connectionBufferedBytesMax (a DATA frame that would pass it fails its
 *   stream with RESOURCE_EXHAUSTED), and per stream at most its receive window
 *   (credit is withheld while a handler leaves messages unread);
 * - responses not yet framed: per stream, write() reports back-pressure at
 *   streamSendHighWaterBytes and a stream that keeps writing past
 *   streamSendQueuedBytesMax (or past its high-water mark while the
 *   connection holds connectionSendQueuedBytesMax) is reset; a single
 *   message is always accepted, whatever its size, unless the connection is
 *   already past connectionSendQueuedBytesMax;
 * - framed, not yet taken by the socket: once the socket holds
 *   socketBufferedBytesMax we stop framing responses and stop reading
 *   requests (so PING or SETTINGS floods cannot grow our output either)
 *   until it drains;
 * - all connections of one server together: serverMemoryBytesMax, shared
 *   fairly (memory-budget.ts).
 *
 * Work a connection can make us do without a request to show for it is
 * bounded by three budgets: stream resets (the client's own and those it
 * provokes), "glitches" (frames that carry no request), and keepalive PING
 * strikes; each ends the connection with GOAWAY ENHANCE_YOUR_CALM.
 */

// ---------------------------------------------------------------------------
// Frames and windows (RFC 9113).

/** Frame payload we accept (SETTINGS_MAX_FRAME_SIZE: the RFC 9113 default, so we never announce it). */
export const maxFrameBytes = 16_384;

/** The flow-control window before any WINDOW_UPDATE or SETTINGS (RFC 9113 §6.9.2). */
export const defaultWindowBytes = 65_535;

/** Largest window RFC 9113 allows (§6.9.1). */
export const windowBytesMax = 2 ** 31 - 1;

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS we announce unless told otherwise:
 * etcd's --max-concurrent-streams default, 2^32-1 (grpc-go's and nghttp2's
 * default too), i.e. no limit a client has to queue its calls behind.
 */
export const maxConcurrentStreamsDefault = 2 ** 32 - 1;

/**
 * Streams one connection may hold open at once, whatever we announce: each
 * costs a stream and a call object and its handler's state (its buffers are
 * counted apart, in the memory budgets). grpc-go holds as many as it
 * announces; we stop at a number no etcd client comes near (Go's clientv3
 * multiplexes a client's watches on a few streams) and refuse more with
 * REFUSED_STREAM, which clients retry.
 */
export const streamsPerConnectionMax = 10_000;

/**
 * Streams refused in a row (past the stream limit, or after our GOAWAY)
 * before the connection is closed with ENHANCE_YOUR_CALM: Node's http2
 * maxSessionRejectedStreams (100), whose count also starts over whenever a
 * stream is accepted. A client that retries refused streams as RFC 9113
 * allows gets them accepted once others end.
 */
export const refusedStreamsInARowMax = 100;

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
 * Entries one SETTINGS frame may carry (CVE-2020-11080: a SETTINGS frame
 * of thousands of entries costs a loop per entry): nghttp2's
 * max_settings default and Node's maxSettings, 32. More is
 * ENHANCE_YOUR_CALM.
 */
export const settingsEntriesMax = 32;

// ---------------------------------------------------------------------------
// Header blocks and HPACK (RFC 7541).

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

/**
 * CONTINUATION frames one header block may have (CVE-2024-28182: endless
 * CONTINUATIONs, empty ones included, cost work and never end a block):
 * nghttp2's NGHTTP2_DEFAULT_MAX_CONTINUATIONS, 8. More is ENHANCE_YOUR_CALM.
 */
export const continuationFramesPerBlockMax = 8;

/** The HPACK table size we allow the client's encoder (SETTINGS_HEADER_TABLE_SIZE, left at its default). */
export const headerTableBytes = 4096;

/**
 * Continuation octets of one HPACK integer (RFC 7541 §5.1). Four carry 28
 * bits, enough for any length or index below hpackIntegerMax; a fifth could
 * only encode a value we refuse, or zero bits that pad it out (0x80 0x80
 * ...), which is how an integer grew without bound before (to Infinity,
 * then NaN). nghttp2 stops at the same place (a 32-bit shift).
 */
export const hpackIntegerContinuationOctetsMax = 4;

/** Largest HPACK integer decoded (lengths, indexes, table sizes): RFC 7541 §5.1 lets a decoder choose. */
export const hpackIntegerMax = 2 ** 28;

/**
 * Dynamic table size updates at the start of one header block (RFC 7541
 * §4.2: at most two are ever needed, the smallest size and the final one).
 */
export const hpackSizeUpdatesPerBlockMax = 2;

// ---------------------------------------------------------------------------
// Memory.

/**
 * Received message bytes one connection may hold (partial messages and
 * messages a paused handler has not taken yet).
 */
export const connectionBufferedBytesMax = 64 * 1024 * 1024;

/** write() returns false once a stream holds this many unsent response bytes ('drain' follows). */
export const streamSendHighWaterBytes = 256 * 1024;

/** A stream writing past this many unsent bytes ignores back-pressure and is reset. */
export const streamSendQueuedBytesMax = 16 * 1024 * 1024;

/** Unsent response bytes of all streams of a connection past which streams over their high-water mark are reset. */
export const connectionSendQueuedBytesMax = 64 * 1024 * 1024;

/**
 * Memory all connections of one GrpcServer may hold together: received
 * bytes not yet consumed (partial frames, header blocks being assembled,
 * request messages) plus response bytes queued and not yet framed. Past
 * it, connections over their fair share get no more (memory-budget.ts).
 * Node's http2 bounds each session only (maxSessionMemory, 10 MB); one
 * budget per listener is what keeps many slow clients together from
 * exhausting the heap. The peer listener has its own server, hence its
 * own budget, so a client flood cannot starve Raft traffic.
 */
export const serverMemoryBytesMax = 512 * 1024 * 1024;

/** Largest request message unless the server is told otherwise: gRPC's default (grpc.max_receive_message_length, 4 MiB). */
export const maxReceiveMessageBytesDefault = 4 * 1024 * 1024;

/** Request messages an async iterator (`for await` over a call) holds unread before it pauses the stream. */
export const callIteratorHighWaterMessages = 16;

/** Output the socket may hold before we stop framing and reading. */
export const socketBufferedBytesMax = 1024 * 1024;

/** Our output buffer: frames are gathered here and written to the socket once per batch. */
export const outputChunkBytes = 64 * 1024;

/** The output buffer a connection starts with, grown to outputChunkBytes once it needs more (idle connections stay small). */
export const outputInitialBytes = 4 * 1024;

/** Payloads at least this large are handed to the socket as they are instead of being copied into the output buffer. */
export const outputCopyBytesMax = 8 * 1024;

/**
 * PING and SETTINGS acknowledgements we may owe a client that does not
 * read them (CVE-2019-9512 ping flood, CVE-2019-9515 settings flood: each
 * asks for an answer and the answers pile up): nghttp2's max_outbound_ack,
 * 1000. Counted since the socket last took everything we wrote; past it,
 * ENHANCE_YOUR_CALM.
 */
export const unsentAcksMax = 1000;

// ---------------------------------------------------------------------------
// Budgets of work without a request.

/**
 * Stream resets a connection may cost us, a token bucket per connection:
 * nghttp2's stream reset rate limit (nghttp2_option_set_stream_reset_rate_limit,
 * the CVE-2023-44487 "rapid reset" fix; Node's streamResetBurst and
 * streamResetRate): 1000 at once, then 33 per second. A reset frees the
 * stream's slot while the work it started (a proposal, a range) goes on,
 * so resets without a limit let one connection run any number of calls at
 * once. Counted: the client's RST_STREAM on a stream still running, and
 * every stream we reset because of what the client sent ("MadeYouReset",
 * CVE-2025-8671: malformed requests, stream protocol and flow-control
 * errors, refused messages, responses a client will not read); nghttp2
 * 1.68 counts the latter in its "glitch" limiter, with the same defaults.
 * Past the budget: GOAWAY ENHANCE_YOUR_CALM.
 */
export const streamResetsBurst = 1000;
export const streamResetsPerSecond = 33;

/**
 * Frames that cost work but carry no request ("glitches"): empty DATA
 * without END_STREAM (CVE-2019-9518), empty header block fragments,
 * PRIORITY, unknown frame types, WINDOW_UPDATE and RST_STREAM on streams
 * already closed, SETTINGS after the first, unsolicited PING ACKs, a
 * second GOAWAY. A token bucket per connection like nghttp2's glitch rate
 * limiter (nghttp2_option_set_glitch_rate_limit: 1000 at once, then 33 per
 * second) and Node's maxSessionInvalidFrames (1000); in addition every
 * request a client makes earns glitchCreditPerRequest back, because a
 * well-behaved client's stray frames (a WINDOW_UPDATE or RST_STREAM that
 * crossed our trailers) come with its calls, while a flood of frames
 * without requests earns nothing. Past the budget: GOAWAY ENHANCE_YOUR_CALM.
 */
export const glitchesBurst = 1000;
export const glitchesPerSecond = 33;
export const glitchCreditPerRequest = 4;

// ---------------------------------------------------------------------------
// Time.

/**
 * How long a connection may take to send the client preface and its first
 * SETTINGS: grpc-go's ConnectionTimeout default (120 s), which etcd keeps;
 * it covers the same two reads there. Past it, GOAWAY PROTOCOL_ERROR (a
 * preface that does not come is an invalid one, RFC 9113 §3.4).
 */
export const handshakeTimeoutMsDefault = 120_000;

/**
 * How long a frame cut by a read boundary, or a header block without
 * END_HEADERS, may stay unfinished (slowloris: a block that never ends
 * blocks every other frame of its connection, holding its buffers). Neither
 * grpc-go nor nghttp2 bound it; a client sends a header block in one
 * write, and 30 s lets even a stalled TCP link recover. Past it, GOAWAY
 * ENHANCE_YOUR_CALM.
 */
export const incompleteFrameTimeoutMsDefault = 30_000;

/**
 * A connection without open streams for this long gets GOAWAY NO_ERROR and
 * is closed (grpc-go's MaxConnectionIdle semantics: PINGs are not activity).
 * etcd leaves grpc-go's infinite default; we close idle connections after
 * 5 minutes, which costs a gRPC client nothing (it reconnects on its next
 * call) and frees what a forgotten or leaked connection holds. 0 turns it
 * off.
 */
export const idleTimeoutMsDefault = 5 * 60 * 1000;

/**
 * Keepalive enforcement (grpc-go's keepalive.EnforcementPolicy, as etcd
 * configures it): a client PING sooner than keepaliveMinTimeMs after the
 * previous one is a strike (with no stream open, sooner than
 * keepaliveWithoutStreamMinTimeMs, unless PermitWithoutStream), strikes
 * start over whenever we send HEADERS or DATA, and the strike after
 * pingStrikesMax ends the connection with GOAWAY ENHANCE_YOUR_CALM
 * "too_many_pings". etcd's --grpc-keepalive-min-time default is 5 s and it
 * leaves PermitWithoutStream false; grpc-go's maxPingStrikes is 2 and its
 * defaultPingTimeout (the interval allowed without a stream) 2 h.
 */
export const keepaliveMinTimeMsDefault = 5_000;
export const keepaliveWithoutStreamMinTimeMs = 2 * 60 * 60 * 1000;
export const pingStrikesMax = 2;

/** Server keepalive PING period and ACK timeout: etcd's --grpc-keepalive-interval and --grpc-keepalive-timeout defaults. */
export const keepaliveTimeMsDefault = 2 * 60 * 60 * 1000;
export const keepaliveTimeoutMsDefault = 20_000;

/** How often the server looks at its connections' timers (handshake, incomplete frames, idleness); shorter timeouts check faster. */
export const sweepIntervalMsMax = 1000;

/** Debug data we put in a GOAWAY: the reason, cut to this many characters. */
export const goAwayDebugCharsMax = 256;

/** How long a closed connection waits for the client to close its side before the socket is destroyed. */
export const closeLingerMs = 1000;

/** How long a graceful shutdown lets calls in flight finish before closing connections. */
export const shutdownGraceMsDefault = 5_000;

/** Largest grpc-timeout honoured, in ms (Node timers); longer deadlines are this long. */
export const deadlineMsMax = 2 ** 31 - 1;

assert(streamWindowBytesDefault <= windowBytesMax && connectionWindowBytes <= windowBytesMax);
assert(connectionWindowBytes >= defaultWindowBytes);
assert(headerListDecodeBytesMax >= headerListBytesMax);
// The largest block CONTINUATIONs can carry fits the block limit, so the frame count is what stops a flood.
assert((1 + continuationFramesPerBlockMax) * maxFrameBytes <= headerBlockBytesMax);
assert(headerTableBytes <= hpackIntegerMax && headerBlockBytesMax <= hpackIntegerMax);
// Four continuation octets after a full prefix reach every integer we accept, and no further.
assert(2 ** (7 * hpackIntegerContinuationOctetsMax) >= hpackIntegerMax);
assert(streamSendHighWaterBytes < streamSendQueuedBytesMax && streamSendQueuedBytesMax <= connectionSendQueuedBytesMax);
assert(connectionBufferedBytesMax + connectionSendQueuedBytesMax <= serverMemoryBytesMax);
assert(outputInitialBytes <= outputChunkBytes && outputCopyBytesMax < outputChunkBytes);
assert(streamResetsPerSecond > 0 && streamResetsBurst >= 1 && glitchesPerSecond > 0 && glitchesBurst >= glitchCreditPerRequest);
assert(refusedStreamsInARowMax >= 1 && streamsPerConnectionMax <= maxConcurrentStreamsDefault);
assert(keepaliveMinTimeMsDefault <= keepaliveWithoutStreamMinTimeMs);
