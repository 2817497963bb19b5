import type { KeyValue } from '../gen/mvccpb/kv.js';
import type { PutRequest } from '../gen/etcdserverpb/rpc.js';
import type { Entry } from '../gen/etcdtspb/raft.js';
import { bytesFieldSize, varint64FieldSize, varintSize, writeBytesField, writeVarint, writeVarint64Field } from './wire.js';

/** mvccpb.KeyValue, as stored in the backend for every change. */
export function encodeKeyValue(kv: KeyValue): Buffer {
  const size =
    (kv.key.length > 0 ? bytesFieldSize(kv.key.length) : 0) +
    varint64FieldSize(kv.createRevision) +
    varint64FieldSize(kv.modRevision) +
    varint64FieldSize(kv.version) +
    (kv.value.length > 0 ? bytesFieldSize(kv.value.length) : 0) +
    varint64FieldSize(kv.lease);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (kv.key.length > 0) pos = writeBytesField(buf, pos, 0x0a, kv.key);
  pos = writeVarint64Field(buf, pos, 0x10, kv.createRevision);
  pos = writeVarint64Field(buf, pos, 0x18, kv.modRevision);
  pos = writeVarint64Field(buf, pos, 0x20, kv.version);
  if (kv.value.length > 0) pos = writeBytesField(buf, pos, 0x2a, kv.value);
  pos = writeVarint64Field(buf, pos, 0x30, kv.lease);
  return buf;
}

function putRequestSize(p: PutRequest): number {
  return (
    (p.key.length > 0 ? bytesFieldSize(p.key.length) : 0) +
    (p.value.length > 0 ? bytesFieldSize(p.value.length) : 0) +
    varint64FieldSize(p.lease) +
    (p.prevKv ? 2 : 0) +
    (p.ignoreValue ? 2 : 0) +
    (p.ignoreLease ? 2 : 0)
  );
}

function writePutRequest(buf: Buffer, pos: number, p: PutRequest): number {
  if (p.key.length > 0) pos = writeBytesField(buf, pos, 0x0a, p.key);
  if (p.value.length > 0) pos = writeBytesField(buf, pos, 0x12, p.value);
  pos = writeVarint64Field(buf, pos, 0x18, p.lease);
  if (p.prevKv) {
    buf[pos++] = 0x20;
    buf[pos++] = 1;
  }
  if (p.ignoreValue) {
    buf[pos++] = 0x28;
    buf[pos++] = 1;
  }
  if (p.ignoreLease) {
    buf[pos++] = 0x30;
    buf[pos++] = 1;
  }
  return pos;
}

/**
 * etcdtspb.InternalRaftRequest{header: {ID}, put} — the proposal of every
 * plain put (no user, auth revision 0).
 */
export function encodeInternalPut(id: bigint, put: PutRequest): Buffer {
  const headerSize = varint64FieldSize(id);
  const putSize = putRequestSize(put);
  const size = 1 + varintSize(headerSize) + headerSize + 1 + varintSize(putSize) + putSize;
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  buf[pos++] = 0x0a; // header = 1
  pos = writeVarint(buf, pos, headerSize);
  pos = writeVarint64Field(buf, pos, 0x08, id);
  buf[pos++] = 0x52; // put = 10
  pos = writeVarint(buf, pos, putSize);
  pos = writePutRequest(buf, pos, put);
  return buf;
}

/** etcdtspb.Entry, framed into the WAL for every log entry. */
export function encodeEntry(e: Entry): Buffer {
  const size =
    varint64FieldSize(e.term) +
    varint64FieldSize(e.index) +
    (e.type !== 0 ? 1 + varintSize(e.type) : 0) +
    (e.data.length > 0 ? bytesFieldSize(e.data.length) : 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  pos = writeVarint64Field(buf, pos, 0x08, e.term);
  pos = writeVarint64Field(buf, pos, 0x10, e.index);
  if (e.type !== 0) {
    buf[pos++] = 0x18;
    pos = writeVarint(buf, pos, e.type);
  }
  if (e.data.length > 0) writeBytesField(buf, pos, 0x22, e.data);
  return buf;
}
