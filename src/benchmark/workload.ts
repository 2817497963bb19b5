/**
 * What the load generator sends: etcd benchmark's put, range and a put/range
 * mix, as gRPC frames built by hand.
 *
 * The hot path never touches the generated ts-proto code: importing
 * src/proto/gen/etcdserverpb/rpc.ts loads @grpc/grpc-js, and a generic
 * encoder costs more client CPU per request than writing the few bytes of a
 * PutRequest or RangeRequest directly. The encodings are checked against the
 * generated decoders by bench/verify-client.js.
 *
 * Keys follow etcd's tools/benchmark put: a key of `keySize` bytes whose first
 * bytes hold the zig-zag varint of the key number (binary.PutVarint), the rest
 * zeros; the key number is `i % keySpaceSize` with --sequential-keys, else
 * uniformly random in the key space. The value is `valSize` random bytes,
 * the same for every request.
 */

import {
  bytesFieldLength, encodeVarint64, grpcHeaderBytes, varintBytes, writeBytesField, writeFrameHeader, writeVarint,
} from './protobuf.js';

export type Operation = 'put' | 'range' | 'mixed' | 'lease-grant' | 'lease-revoke';

/** Index of a method in `unaryMethods`. */
export const putMethod = 0;
export const rangeMethod = 1;
export const leaseGrantMethod = 2;
export const leaseRevokeMethod = 3;

/** The unary gRPC methods the workloads call. */
export const unaryMethods = [
  { name: 'put', path: '/etcdserverpb.KV/Put' },
  { name: 'range', path: '/etcdserverpb.KV/Range' },
  { name: 'lease-grant', path: '/etcdserverpb.Lease/LeaseGrant' },
  { name: 'lease-revoke', path: '/etcdserverpb.Lease/LeaseRevoke' },
] as const;

/** A plain, structured-cloneable description of a workload (it crosses into worker threads). */
export interface WorkloadSpec {
  operation: Operation;
  keySize: number;
  valSize: number;
  keySpaceSize: number;
  sequentialKeys: boolean;
  /** Range: the key read (etcd's `benchmark range key [end]`); mixed mode reads put keys instead. */
  rangeKey?: string;
  rangeEnd?: string;
  /** Range consistency: false is linearizable (etcd's default `l`), true is `s`. */
  serializable: boolean;
  /** Mixed: fraction of requests that are ranges. */
  readRatio: number;
  /** Seed of the key choice, so a run can be repeated request for request. */
  seed: number;
  /** lease-grant: TTL in seconds of the leases granted. */
  leaseTtl?: number;
  /**
   * lease-grant, lease-revoke: request i grants (revokes) the lease with the
   * client-chosen id leaseIdBase + i, so a revoke run with the same base
   * and as many requests revokes exactly the leases a grant run made.
   */
  leaseIdBase?: bigint;
}

export const defaultWorkloadSpec: WorkloadSpec = {
  operation: 'put',
  keySize: 8,
  valSize: 8,
  keySpaceSize: 1,
  sequentialKeys: false,
  serializable: false,
  readRatio: 0.5,
  seed: 1,
};

/** A request as the generated grpc-js stubs want it (field names of ts-proto's PutRequest/RangeRequest). */
export type StubMessage = Record<string, unknown>;

export interface Workload {
  readonly spec: WorkloadSpec;
  /** The method of request `i` (putMethod or rangeMethod). */
  methodOf(i: number): number;
  /** Request `i` as a complete gRPC length-prefixed message (5-byte header + protobuf). */
  frameOf(i: number): Buffer;
  /** Request `i` as a message object for the generated stubs. */
  messageOf(i: number): StubMessage;
}

export function createWorkload(spec: WorkloadSpec): Workload {
  validateSpec(spec);
  switch (spec.operation) {
    case 'put':
      return new PutWorkload(spec);
    case 'range':
      return new RangeWorkload(spec);
    case 'mixed':
      return new MixedWorkload(spec);
    case 'lease-grant':
    case 'lease-revoke':
      return new LeaseWorkload(spec);
  }
}

function validateSpec(spec: WorkloadSpec): void {
  if (!Number.isInteger(spec.keySize) || spec.keySize < 1) throw new RangeError('key size must be a positive integer');
  if (!Number.isInteger(spec.valSize) || spec.valSize < 0) throw new RangeError('value size must be a non-negative integer');
  if (!Number.isInteger(spec.keySpaceSize) || spec.keySpaceSize < 1) throw new RangeError('key space size must be a positive integer');
  if (varintBytes(zigzag(spec.keySpaceSize - 1)) > spec.keySize) {
    throw new RangeError(`key size ${spec.keySize} cannot hold ${spec.keySpaceSize} distinct keys`);
  }
  if (!(spec.readRatio >= 0 && spec.readRatio <= 1)) throw new RangeError('read ratio must be within [0, 1]');
  if (spec.operation === 'range' && (spec.rangeKey === undefined || spec.rangeKey === '')) {
    throw new RangeError('range needs a key');
  }
  if (spec.operation === 'lease-grant' || spec.operation === 'lease-revoke') {
    if (spec.leaseIdBase === undefined || spec.leaseIdBase < 1n) throw new RangeError('lease workloads need a positive lease id base');
    if (spec.operation === 'lease-grant' && !(Number.isInteger(spec.leaseTtl) && spec.leaseTtl! >= 1)) throw new RangeError('lease TTL must be a positive integer');
  }
}

/** A 32-bit integer hash (splitmix-like), so key choices are a pure function of (seed, i). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function zigzag(n: number): number {
  return n * 2; // key numbers are never negative
}

/** Deterministic "random" value bytes (etcd uses crypto random; the content does not matter). */
function valueBytes(size: number, seed: number): Buffer {
  const value = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) value[i] = mix32(seed * 7919 + i) & 0xff;
  return value;
}

class KeyChooser {
  constructor(private readonly spec: WorkloadSpec) {}

  keyNumber(i: number): number {
    const space = this.spec.keySpaceSize;
    if (this.spec.sequentialKeys) return i % space;
    return space === 1 ? 0 : mix32(i ^ mix32(this.spec.seed)) % space;
  }

  keyBytes(i: number): Buffer {
    const key = Buffer.alloc(this.spec.keySize);
    writeVarint(key, 0, zigzag(this.keyNumber(i)));
    return key;
  }
}

/**
 * PutRequest { key = 1 (bytes), value = 2 (bytes) }. Every frame is a copy of
 * one template with the key's varint written in: a fresh small buffer per
 * request, because http2 may still be sending a frame when the next request
 * is built.
 */
class PutWorkload implements Workload {
  private readonly keys: KeyChooser;
  private readonly value: Buffer;
  private readonly template: Buffer;
  private readonly keyOffset: number;

  constructor(readonly spec: WorkloadSpec) {
    this.keys = new KeyChooser(spec);
    this.value = valueBytes(spec.valSize, spec.seed);
    const valueField = spec.valSize === 0 ? 0 : bytesFieldLength(spec.valSize);
    this.template = Buffer.alloc(grpcHeaderBytes + bytesFieldLength(spec.keySize) + valueField);
    writeFrameHeader(this.template);
    let offset = grpcHeaderBytes;
    this.template[offset++] = 0x0a; // field 1, length-delimited
    offset = writeVarint(this.template, offset, spec.keySize);
    this.keyOffset = offset;
    offset += spec.keySize;
    if (spec.valSize > 0) offset = writeBytesField(this.template, offset, 0x12, this.value);
    if (offset !== this.template.length) throw new Error('put frame length mismatch');
  }

  methodOf(): number {
    return putMethod;
  }

  frameOf(i: number): Buffer {
    const frame = Buffer.allocUnsafe(this.template.length);
    this.template.copy(frame);
    writeVarint(frame, this.keyOffset, zigzag(this.keys.keyNumber(i)));
    return frame;
  }

  messageOf(i: number): StubMessage {
    return { key: this.keys.keyBytes(i), value: this.value, lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false };
  }
}

function rangeMessage(key: Buffer, rangeEnd: Buffer, serializable: boolean): StubMessage {
  return {
    key, rangeEnd, limit: 0n, revision: 0n, sortOrder: 0, sortTarget: 0, serializable,
    keysOnly: false, countOnly: false, minModRevision: 0n, maxModRevision: 0n,
    minCreateRevision: 0n, maxCreateRevision: 0n,
  };
}

/** RangeRequest { key = 1, range_end = 2, serializable = 7 (bool) }. */
export function encodeRangeFrame(key: Buffer, rangeEnd: Buffer, serializable: boolean): Buffer {
  const length = bytesFieldLength(key.length) + (rangeEnd.length > 0 ? bytesFieldLength(rangeEnd.length) : 0) + (serializable ? 2 : 0);
  const frame = Buffer.alloc(grpcHeaderBytes + length);
  writeFrameHeader(frame);
  let offset = writeBytesField(frame, grpcHeaderBytes, 0x0a, key);
  if (rangeEnd.length > 0) offset = writeBytesField(frame, offset, 0x12, rangeEnd);
  if (serializable) {
    frame[offset++] = 0x38; // field 7, varint
    frame[offset++] = 1;
  }
  if (offset !== frame.length) throw new Error('range frame length mismatch');
  return frame;
}

/** PutRequest frame for one explicit key and value (used to seed the key a range benchmark reads). */
export function encodePutFrame(key: Buffer, value: Buffer): Buffer {
  const frame = Buffer.alloc(grpcHeaderBytes + bytesFieldLength(key.length) + (value.length > 0 ? bytesFieldLength(value.length) : 0));
  writeFrameHeader(frame);
  const offset = writeBytesField(frame, grpcHeaderBytes, 0x0a, key);
  if (value.length > 0) writeBytesField(frame, offset, 0x12, value);
  return frame;
}

/** Every request reads the same key (or range): one immutable frame, shared by all requests. */
class RangeWorkload implements Workload {
  private readonly frame: Buffer;
  private readonly message: StubMessage;

  constructor(readonly spec: WorkloadSpec) {
    const key = Buffer.from(spec.rangeKey ?? '', 'utf8');
    const rangeEnd = Buffer.from(spec.rangeEnd ?? '', 'utf8');
    this.frame = encodeRangeFrame(key, rangeEnd, spec.serializable);
    this.message = rangeMessage(key, rangeEnd, spec.serializable);
  }

  methodOf(): number {
    return rangeMethod;
  }

  frameOf(): Buffer {
    return this.frame;
  }

  messageOf(): StubMessage {
    return this.message;
  }
}

/** A put/range mix over the put key space; request i is a read when its hash falls under readRatio. */
class MixedWorkload implements Workload {
  private readonly puts: PutWorkload;
  private readonly keys: KeyChooser;
  private readonly readThreshold: number;

  constructor(readonly spec: WorkloadSpec) {
    this.puts = new PutWorkload(spec);
    this.keys = new KeyChooser(spec);
    this.readThreshold = Math.floor(spec.readRatio * 2 ** 32);
  }

  methodOf(i: number): number {
    return mix32(i + 0x9e3779b9) < this.readThreshold ? rangeMethod : putMethod;
  }

  frameOf(i: number): Buffer {
    if (this.methodOf(i) === putMethod) return this.puts.frameOf(i);
    return encodeRangeFrame(this.keys.keyBytes(i), Buffer.alloc(0), this.spec.serializable);
  }

  messageOf(i: number): StubMessage {
    if (this.methodOf(i) === putMethod) return this.puts.messageOf(i);
    return rangeMessage(this.keys.keyBytes(i), Buffer.alloc(0), this.spec.serializable);
  }
}

/**
 * LeaseGrantRequest { TTL = 1, ID = 2 } or LeaseRevokeRequest { ID = 1 },
 * for the client-chosen lease id leaseIdBase + i. Frames are built per
 * request (a varint of a bigint): lease calls go through consensus and cost
 * the server far more than this.
 */
class LeaseWorkload implements Workload {
  private readonly base: bigint;
  private readonly ttl: bigint;
  private readonly grant: boolean;

  constructor(readonly spec: WorkloadSpec) {
    this.base = spec.leaseIdBase!;
    this.ttl = BigInt(spec.leaseTtl ?? 0);
    this.grant = spec.operation === 'lease-grant';
  }

  methodOf(): number {
    return this.grant ? leaseGrantMethod : leaseRevokeMethod;
  }

  frameOf(i: number): Buffer {
    return this.grant ? encodeLeaseGrantFrame(this.ttl, this.base + BigInt(i)) : encodeLeaseRevokeFrame(this.base + BigInt(i));
  }

  messageOf(i: number): StubMessage {
    return this.grant ? { TTL: this.ttl, ID: this.base + BigInt(i) } : { ID: this.base + BigInt(i) };
  }
}

function varintFields(fields: [tag: number, value: bigint][]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(grpcHeaderBytes)];
  for (const [tag, value] of fields) {
    if (value === 0n) continue; // proto3 leaves defaults out
    parts.push(Buffer.from([tag]), encodeVarint64(value));
  }
  const frame = Buffer.concat(parts);
  writeFrameHeader(frame);
  return frame;
}

/** LeaseGrantRequest frame; id 0 lets the server choose. */
export function encodeLeaseGrantFrame(ttlSeconds: bigint, id: bigint): Buffer {
  return varintFields([[0x08, ttlSeconds], [0x10, id]]);
}

export function encodeLeaseRevokeFrame(id: bigint): Buffer {
  return varintFields([[0x08, id]]);
}

/** LeaseKeepAliveRequest { ID = 1 } frame. */
export function encodeLeaseKeepAliveFrame(id: bigint): Buffer {
  return varintFields([[0x08, id]]);
}
