import { encodeHeaderBlock, type HeaderField } from '../hpack.js';
import { deadlineMsMax } from './limits.js';

/**
 * gRPC over HTTP/2 details (PROTOCOL-HTTP2.md in the gRPC repository):
 * request metadata, grpc-timeout, status trailers and their header blocks.
 */

export type MetadataValue = string | Buffer;

/**
 * The request metadata a handler sees as `call.metadata`: the subset of
 * grpc-js's Metadata that handlers use (get, getMap, toJSON...), built from
 * the request's header fields. Keys are lower case; values of keys ending
 * in "-bin" are base64-decoded to Buffers, as gRPC specifies.
 */
export class CallMetadata {
  private readonly entries = new Map<string, MetadataValue[]>();

  constructor(fields: readonly HeaderField[] = []) {
    for (const { name, value } of fields) {
      if (isReservedHeader(name)) continue;
      if (name.endsWith('-bin')) {
        for (const part of value.split(',')) this.add(name, Buffer.from(part.trim(), 'base64'));
      } else {
        this.add(name, value);
      }
    }
  }

  get(key: string): MetadataValue[] {
    return this.entries.get(key.toLowerCase()) ?? [];
  }

  set(key: string, value: MetadataValue): void {
    this.entries.set(key.toLowerCase(), [value]);
  }

  add(key: string, value: MetadataValue): void {
    const k = key.toLowerCase();
    const values = this.entries.get(k);
    if (values === undefined) this.entries.set(k, [value]);
    else values.push(value);
  }

  remove(key: string): void {
    this.entries.delete(key.toLowerCase());
  }

  /** The first value of each key, as grpc-js's Metadata.getMap. */
  getMap(): Record<string, MetadataValue> {
    const map: Record<string, MetadataValue> = {};
    for (const [key, values] of this.entries) if (values.length > 0) map[key] = values[0];
    return map;
  }

  toJSON(): Record<string, MetadataValue[]> {
    return Object.fromEntries(this.entries);
  }

  clone(): CallMetadata {
    const copy = new CallMetadata();
    for (const [key, values] of this.entries) for (const v of values) copy.add(key, v);
    return copy;
  }
}

/**
 * Headers the transport consumes and does not pass on as metadata (grpc-go's
 * isReservedHeader, plus HTTP/2's own fields).
 */
export function isReservedHeader(name: string): boolean {
  if (name.charCodeAt(0) === 58) return true; // pseudo-header ':...'
  switch (name) {
    case 'content-type':
    case 'te':
    case 'grpc-timeout':
    case 'grpc-encoding':
    case 'grpc-accept-encoding':
    case 'grpc-message':
    case 'grpc-status':
    case 'grpc-status-details-bin':
    case 'grpc-previous-rpc-attempts':
    case 'grpc-retry-pushback-ms':
    case 'grpc-tags-bin':
    case 'grpc-trace-bin':
      return true;
    default:
      return false;
  }
}

const timeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * grpc-timeout (TimeoutValue: at most 8 digits, then a unit) in
 * milliseconds, rounded up so that a sub-millisecond deadline still expires;
 * undefined when malformed.
 */
export function parseTimeoutMs(value: string): number | undefined {
  const n = value.length;
  if (n < 2 || n > 9) return undefined;
  const unit = timeoutUnitMs[value[n - 1]];
  if (unit === undefined) return undefined;
  let digits = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    digits = digits * 10 + c;
  }
  return Math.min(Math.ceil(digits * unit), deadlineMsMax);
}

/**
 * grpc-message is percent-encoded (PROTOCOL-HTTP2.md): every octet of its
 * UTF-8 form outside printable ASCII (0x20-0x7E), and '%' itself, becomes
 * %XX. grpc-go and grpc-js decode it back; etcdctl prints the decoded text.
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const octet of Buffer.from(message, 'utf8')) {
    out += octet < 0x20 || octet > 0x7e || octet === 0x25 ? `%${octet.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(octet);
  }
  return out;
}

/** Response metadata as handlers pass it: grpc-js Metadata or anything with toHttp2Headers(). */
export interface OutgoingMetadata {
  toHttp2Headers?(): Record<string, string | string[] | number | undefined>;
}

/** Header fields of custom response metadata (reserved names dropped: they are ours to send). */
export function metadataFields(metadata: OutgoingMetadata | null | undefined): HeaderField[] {
  if (metadata === null || metadata === undefined || typeof metadata.toHttp2Headers !== 'function') return [];
  const fields: HeaderField[] = [];
  for (const [name, value] of Object.entries(metadata.toHttp2Headers())) {
    if (value === undefined || isReservedHeader(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) fields.push({ name, value: String(v), sensitive: false });
  }
  return fields;
}

const statusField: HeaderField = { name: ':status', value: '200', sensitive: false };
const contentTypeField: HeaderField = { name: 'content-type', value: 'application/grpc', sensitive: false };

/** The response HEADERS block every call starts with (static-table encoded: the client's table never changes). */
export const responseHeadersBlock = encodeHeaderBlock([statusField, contentTypeField]);

const okTrailersBlock = encodeHeaderBlock([{ name: 'grpc-status', value: '0', sensitive: false }]);

/** Trailers, or a trailers-only response (`withHeaders`), for a status and custom trailing metadata. */
export function trailersBlock(code: number, message: string, extra: readonly HeaderField[], withHeaders: boolean): Buffer {
  if (code === 0 && message === '' && extra.length === 0 && !withHeaders) return okTrailersBlock;
  const fields: HeaderField[] = withHeaders ? [statusField, contentTypeField] : [];
  fields.push({ name: 'grpc-status', value: String(code), sensitive: false });
  if (message !== '') fields.push({ name: 'grpc-message', value: encodeGrpcMessage(message), sensitive: false });
  for (const field of extra) fields.push(field);
  return encodeHeaderBlock(fields);
}

/** The header block for custom response metadata sent before the first message (sendMetadata). */
export function headersBlockWith(extra: readonly HeaderField[]): Buffer {
  if (extra.length === 0) return responseHeadersBlock;
  return encodeHeaderBlock([statusField, contentTypeField, ...extra]);
}
