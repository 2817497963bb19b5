import {
  CompactionRequest,
  DeleteRangeRequest,
  KVService,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  TxnRequest,
  type CompactionResponse,
  type DeleteRangeResponse,
  type PutResponse,
  type RangeResponse,
  type RequestOp,
  type TxnResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { UnaryInvoker } from './invoker.js';
import { fromKeyEnd, isBytes, prefixEnd, toBuffer, type Bytes } from './keys.js';
import type { CallOptions } from './options.js';

/** Which keys a get or delete covers: one key, [key, rangeEnd), a prefix, or every key from `key` on. */
export interface RangeOptions {
  rangeEnd?: Bytes;
  prefix?: boolean;
  fromKey?: boolean;
}

export interface GetOptions extends RangeOptions, CallOptions {
  revision?: bigint;
  limit?: bigint;
  sortOrder?: RangeRequest_SortOrder;
  sortTarget?: RangeRequest_SortTarget;
  /** Read from the local member without a quorum round (may be stale). */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: bigint;
  maxModRevision?: bigint;
  minCreateRevision?: bigint;
  maxCreateRevision?: bigint;
}

export interface PutOptions extends CallOptions {
  lease?: bigint;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface DeleteOptions extends RangeOptions, CallOptions {
  prevKv?: boolean;
}

/**
 * The KV service. Each method takes either the request message (any subset
 * of its fields) or, for get/put/delete, a key and friendly options. Reads
 * are retried on UNAVAILABLE; writes only when they never left the client;
 * a txn counts as a read when none of its operations writes.
 */
export class KV {
  constructor(private readonly invoker: UnaryInvoker) {}

  range(request: Partial<RangeRequest>, options: CallOptions = {}): Promise<RangeResponse> {
    return this.invoker.unary(KVService.range, RangeRequest.fromPartial(request), { ...options, retry: 'repeatable' });
  }

  get(key: Bytes, options: GetOptions = {}): Promise<RangeResponse> {
    return this.range(rangeRequest(key, options), options);
  }

  put(request: Partial<PutRequest>, options?: CallOptions): Promise<PutResponse>;
  put(key: Bytes, value: Bytes, options?: PutOptions): Promise<PutResponse>;
  put(first: Bytes | Partial<PutRequest>, second?: Bytes | CallOptions, third: PutOptions = {}): Promise<PutResponse> {
    if (isBytes(first)) {
      const request = putRequest(first, second as Bytes, third);
      return this.invoker.unary(KVService.put, request, { ...third, retry: 'nonRepeatable' });
    }
    const options = (second ?? {}) as CallOptions;
    return this.invoker.unary(KVService.put, PutRequest.fromPartial(first), { ...options, retry: 'nonRepeatable' });
  }

  deleteRange(request: Partial<DeleteRangeRequest>, options: CallOptions = {}): Promise<DeleteRangeResponse> {
    return this.invoker.unary(KVService.deleteRange, DeleteRangeRequest.fromPartial(request), { ...options, retry: 'nonRepeatable' });
  }

  delete(key: Bytes, options: DeleteOptions = {}): Promise<DeleteRangeResponse> {
    const [start, end] = rangeOf(key, options);
    return this.deleteRange({ key: start, rangeEnd: end, prevKv: options.prevKv ?? false }, options);
  }

  txn(request: Partial<TxnRequest>, options: CallOptions = {}): Promise<TxnResponse> {
    const txn = TxnRequest.fromPartial(request);
    const retry = txnWrites(txn) ? 'nonRepeatable' : 'repeatable';
    return this.invoker.unary(KVService.txn, txn, { ...options, retry });
  }

  compact(revision: bigint, options: CallOptions & { physical?: boolean } = {}): Promise<CompactionResponse> {
    const request = CompactionRequest.fromPartial({ revision, physical: options.physical ?? false });
    return this.invoker.unary(KVService.compact, request, { ...options, retry: 'nonRepeatable' });
  }
}

/** [key, rangeEnd] for the range options, with clientv3's treatment of an empty key. */
export function rangeOf(key: Bytes, options: RangeOptions): [Buffer, Buffer] {
  let start = toBuffer(key);
  if (options.prefix === true) {
    if (start.length === 0) return [fromKeyEnd, fromKeyEnd];
    return [start, prefixEnd(start)];
  }
  if (options.fromKey === true) {
    if (start.length === 0) start = fromKeyEnd;
    return [start, fromKeyEnd];
  }
  return [start, options.rangeEnd === undefined ? Buffer.alloc(0) : toBuffer(options.rangeEnd)];
}

export function rangeRequest(key: Bytes, options: GetOptions = {}): RangeRequest {
  const [start, end] = rangeOf(key, options);
  return RangeRequest.fromPartial({
    key: start,
    rangeEnd: end,
    revision: options.revision ?? 0n,
    limit: options.limit ?? 0n,
    sortOrder: options.sortOrder ?? RangeRequest_SortOrder.NONE,
    sortTarget: options.sortTarget ?? RangeRequest_SortTarget.KEY,
    serializable: options.serializable ?? false,
    keysOnly: options.keysOnly ?? false,
    countOnly: options.countOnly ?? false,
    minModRevision: options.minModRevision ?? 0n,
    maxModRevision: options.maxModRevision ?? 0n,
    minCreateRevision: options.minCreateRevision ?? 0n,
    maxCreateRevision: options.maxCreateRevision ?? 0n,
  });
}

export function putRequest(key: Bytes, value: Bytes, options: PutOptions = {}): PutRequest {
  return PutRequest.fromPartial({
    key: toBuffer(key),
    value: toBuffer(value),
    lease: options.lease ?? 0n,
    prevKv: options.prevKv ?? false,
    ignoreValue: options.ignoreValue ?? false,
    ignoreLease: options.ignoreLease ?? false,
  });
}

/** Whether any operation in any branch of the txn (nested txns included) writes. */
export function txnWrites(txn: TxnRequest): boolean {
  const writes = (op: RequestOp): boolean =>
    op.requestPut !== undefined || op.requestDeleteRange !== undefined || (op.requestTxn !== undefined && txnWrites(op.requestTxn));
  return txn.success.some(writes) || txn.failure.some(writes);
}
