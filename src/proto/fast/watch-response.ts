import type { Event } from '../gen/mvccpb/kv.js';
import type { ResponseHeader, WatchResponse } from '../gen/etcdserverpb/rpc.js';
import { encodeKeyValue } from './codecs.js';
import { bytesFieldSize, varint64FieldSize, varintSize, writeBytesField, writeVarint, writeVarint64Field } from './wire.js';

/**
 * etcdserverpb.WatchResponse, the message a watch fan-out sends once per
 * watcher. The watchable store hands every watcher of a revision the same
 * Event objects, so each event is encoded once (kept in a WeakMap until the
 * event is garbage) and every watcher's response only copies those bytes
 * behind its own header and watch id: with a thousand watchers on a key,
 * encoding was half of the member's busy time.
 */
const encodedEvents = new WeakMap<Event, Buffer>();

function encodeEvent(e: Event): Buffer {
  let bytes = encodedEvents.get(e);
  if (bytes !== undefined) return bytes;
  const kv = e.kv === undefined ? undefined : encodeKeyValue(e.kv);
  const prevKv = e.prevKv === undefined ? undefined : encodeKeyValue(e.prevKv);
  const size = (e.type !== 0 ? 1 + varintSize(e.type) : 0) +
    (kv !== undefined ? bytesFieldSize(kv.length) : 0) +
    (prevKv !== undefined ? bytesFieldSize(prevKv.length) : 0);
  bytes = Buffer.allocUnsafe(size);
  let pos = 0;
  if (e.type !== 0) {
    bytes[pos++] = 0x08;
    pos = writeVarint(bytes, pos, e.type);
  }
  if (kv !== undefined) pos = writeBytesField(bytes, pos, 0x12, kv);
  if (prevKv !== undefined) writeBytesField(bytes, pos, 0x1a, prevKv);
  encodedEvents.set(e, bytes);
  return bytes;
}

/**
 * A member's cluster and member ids are random 64-bit values, the slow case
 * of varint writing, and the same in every header it sends: their two fields
 * are written once and copied.
 */
let idsOf: { clusterId: bigint; memberId: bigint; bytes: Buffer } | undefined;

function idFields(h: ResponseHeader): Buffer {
  if (idsOf === undefined || idsOf.clusterId !== h.clusterId || idsOf.memberId !== h.memberId) {
    const bytes = Buffer.allocUnsafe(varint64FieldSize(h.clusterId) + varint64FieldSize(h.memberId));
    writeVarint64Field(bytes, writeVarint64Field(bytes, 0, 0x08, h.clusterId), 0x10, h.memberId);
    idsOf = { clusterId: h.clusterId, memberId: h.memberId, bytes };
  }
  return idsOf.bytes;
}

function boolFieldSize(v: boolean): number {
  return v ? 2 : 0;
}

function writeBoolField(buf: Buffer, pos: number, tag: number, v: boolean): number {
  if (!v) return pos;
  buf[pos++] = tag;
  buf[pos++] = 1;
  return pos;
}

/** The bytes WatchResponse.encode(r).finish() would produce, written once into an exact-size Buffer. */
export function encodeWatchResponse(r: WatchResponse): Buffer {
  const header = r.header;
  const ids = header === undefined ? undefined : idFields(header);
  const hSize = header === undefined ? 0 : ids!.length + varint64FieldSize(header.revision) + varint64FieldSize(header.raftTerm);
  const reason = r.cancelReason === '' ? undefined : Buffer.from(r.cancelReason, 'utf8');
  const events = r.events.map(encodeEvent);
  let size = (header !== undefined ? 1 + varintSize(hSize) + hSize : 0) +
    varint64FieldSize(r.watchId) +
    boolFieldSize(r.created) +
    boolFieldSize(r.canceled) +
    varint64FieldSize(r.compactRevision) +
    (reason !== undefined ? bytesFieldSize(reason.length) : 0) +
    boolFieldSize(r.fragment);
  for (const e of events) size += bytesFieldSize(e.length);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (header !== undefined) {
    buf[pos++] = 0x0a;
    pos = writeVarint(buf, pos, hSize);
    ids!.copy(buf, pos);
    pos += ids!.length;
    pos = writeVarint64Field(buf, pos, 0x18, header.revision);
    pos = writeVarint64Field(buf, pos, 0x20, header.raftTerm);
  }
  pos = writeVarint64Field(buf, pos, 0x10, r.watchId);
  pos = writeBoolField(buf, pos, 0x18, r.created);
  pos = writeBoolField(buf, pos, 0x20, r.canceled);
  pos = writeVarint64Field(buf, pos, 0x28, r.compactRevision);
  if (reason !== undefined) pos = writeBytesField(buf, pos, 0x32, reason);
  pos = writeBoolField(buf, pos, 0x38, r.fragment);
  for (const e of events) pos = writeBytesField(buf, pos, 0x5a, e);
  return buf;
}
