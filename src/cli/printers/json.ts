import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { GoJsonObject } from '../go/json.js';
import { Printer } from './printer.js';

/**
 * `-w json`: Go's json.Marshal of etcd's response structs, byte-compatible
 * with etcdctl 3.4 (snake_case names from the struct tags, omitempty, exact
 * 64-bit integers, base64 bytes). The field order of each function below is
 * the order of the Go struct.
 */
export class JsonPrinter extends Printer {
  readonly format = 'json' as const;

  override put(r: PutResponse): void {
    this.line(encodePutResponse(r));
  }

  override get(r: RangeResponse): void {
    this.line(encodeRangeResponse(r));
  }

  override del(r: DeleteRangeResponse): void {
    this.line(encodeDeleteRangeResponse(r));
  }

  override txn(r: TxnResponse): void {
    this.line(encodeTxnResponse(r));
  }
}

export function encodeHeader(h: ResponseHeader | undefined): string | undefined {
  if (h === undefined) return undefined;
  return new GoJsonObject()
    .int('cluster_id', h.clusterId)
    .int('member_id', h.memberId)
    .int('revision', h.revision)
    .int('raft_term', h.raftTerm)
    .toString();
}

export function encodeKeyValue(kv: KeyValue): string {
  return new GoJsonObject()
    .bytes('key', kv.key)
    .int('create_revision', kv.createRevision)
    .int('mod_revision', kv.modRevision)
    .int('version', kv.version)
    .bytes('value', kv.value)
    .int('lease', kv.lease)
    .toString();
}

export function encodeRangeResponse(r: RangeResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .messages('kvs', r.kvs, encodeKeyValue)
    .bool('more', r.more)
    .int('count', r.count)
    .toString();
}

export function encodePutResponse(r: PutResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .message('prev_kv', r.prevKv === undefined ? undefined : encodeKeyValue(r.prevKv))
    .toString();
}

export function encodeDeleteRangeResponse(r: DeleteRangeResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .int('deleted', r.deleted)
    .messages('prev_kvs', r.prevKvs, encodeKeyValue)
    .toString();
}

export function encodeTxnResponse(r: TxnResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .bool('succeeded', r.succeeded)
    .messages('responses', r.responses, encodeResponseOp)
    .toString();
}

/**
 * A ResponseOp is a Go struct holding the oneof as an interface field named
 * `Response` (no json tag, so no omitempty: null when unset) whose value is a
 * wrapper struct with one untagged field such as `ResponseRange`.
 */
function encodeResponseOp(op: ResponseOp): string {
  let inner = 'null';
  if (op.responseRange !== undefined) inner = wrap('ResponseRange', encodeRangeResponse(op.responseRange));
  else if (op.responsePut !== undefined) inner = wrap('ResponsePut', encodePutResponse(op.responsePut));
  else if (op.responseDeleteRange !== undefined) inner = wrap('ResponseDeleteRange', encodeDeleteRangeResponse(op.responseDeleteRange));
  else if (op.responseTxn !== undefined) inner = wrap('ResponseTxn', encodeTxnResponse(op.responseTxn));
  return new GoJsonObject().raw('Response', inner).toString();
}

function wrap(name: string, encoded: string): string {
  return new GoJsonObject().message(name, encoded).toString();
}
