/**
 * The gateway's limits (style.md §12), units last. etcd's gateway has none
 * of its own: it reads any body and lets the gRPC server refuse what is too
 * large once encoded. We refuse earlier, at a bound that no request the
 * gRPC limit accepts can reach.
 */

/**
 * How much larger than its protobuf encoding a request's JSON may be: bytes
 * travel as base64 (4/3), names and punctuation add a little. Twice the
 * gRPC limit leaves room for pretty-printing too.
 */
export const gatewayBodyExpansionMax = 2;

/** The largest request body read, for a gRPC receive limit of `maxReceiveMessageBytes`. */
export function gatewayBodyBytesMax(maxReceiveMessageBytes: number): number {
  return Math.ceil(maxReceiveMessageBytes * gatewayBodyExpansionMax);
}

/**
 * Request bytes the gateway holds at once over all connections: bodies
 * being read and requests of streams not yet decoded. Each body is bounded
 * by gatewayBodyBytesMax, but a thousand connections uploading at once
 * would not be; past this, a request is refused (429) instead.
 */
export const gatewayBytesHeldMax = 256 * 1024 * 1024;

/**
 * Calls one HTTP/1 connection may have in flight. Clients send one request
 * at a time; only pipelining gets more, and Node runs pipelined requests at
 * once while answering them in order, so without a bound one connection
 * could start any number of proposals.
 */
export const gatewayCallsPerConnectionMax = 16;

const nanosPerUnit: Record<string, number> = { H: 3600e9, M: 60e9, S: 1e9, m: 1e6, u: 1e3, n: 1 };

/**
 * The Grpc-Timeout request header, as grpc-gateway reads it (a decimal
 * count and one unit letter): milliseconds, undefined without one (or for
 * zero, which means none), 'invalid' for anything else.
 */
export function parseGatewayTimeoutMs(header: string | string[] | undefined): number | undefined | 'invalid' {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0] ?? '' : header;
  if (text === '') return undefined;
  const nanos = nanosPerUnit[text.slice(-1)];
  const count = text.slice(0, -1);
  if (text.length < 2 || nanos === undefined || !/^[+-]?[0-9]+$/.test(count)) return 'invalid';
  const ms = (Number(count) * nanos) / 1e6;
  if (!Number.isSafeInteger(Number(count))) return 'invalid';
  if (ms === 0) return undefined;
  return Math.max(1, Math.ceil(ms));
}
