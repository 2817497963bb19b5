import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { goQuote } from '../go/quote.js';
import { Printer } from './printer.js';

/**
 * `-w fields`: one `"Name" : value` line per field, as etcdctl's
 * printer_fields.go writes them (strings and bytes Go-quoted, numbers in
 * decimal). --hex does not apply, as in etcdctl.
 */
export class FieldsPrinter extends Printer {
  readonly format = 'fields' as const;

  override put(r: PutResponse): void {
    this.header(r.header);
    if (r.prevKv !== undefined) this.kv('Prev', r.prevKv);
  }

  override get(r: RangeResponse): void {
    this.header(r.header);
    for (const kv of r.kvs) this.kv('', kv);
    this.field('More', r.more);
    this.field('Count', r.count);
  }

  override del(r: DeleteRangeResponse): void {
    this.header(r.header);
    this.field('Deleted', r.deleted);
    for (const kv of r.prevKvs) this.kv('Prev', kv);
  }

  override txn(r: TxnResponse): void {
    this.header(r.header);
    this.field('Succeeded', r.succeeded);
    for (const op of r.responses) {
      if (op.responseDeleteRange !== undefined) this.del(op.responseDeleteRange);
      else if (op.responsePut !== undefined) this.put(op.responsePut);
      else if (op.responseRange !== undefined) this.get(op.responseRange);
      else this.line(`"Unknown" : ${goQuote(op.responseTxn !== undefined ? 'response_txn' : '<nil>')}`);
    }
  }

  protected header(h: ResponseHeader | undefined): void {
    // Go dereferences the header pointer here; a response always carries one.
    this.field('ClusterID', h?.clusterId ?? 0n);
    this.field('MemberID', h?.memberId ?? 0n);
    this.field('Revision', h?.revision ?? 0n);
    this.field('RaftTerm', h?.raftTerm ?? 0n);
  }

  protected kv(prefix: string, kv: KeyValue): void {
    this.line(`"${prefix}Key" : ${goQuote(kv.key)}`);
    this.field(`${prefix}CreateRevision`, kv.createRevision);
    this.field(`${prefix}ModRevision`, kv.modRevision);
    this.field(`${prefix}Version`, kv.version);
    this.line(`"${prefix}Value" : ${goQuote(kv.value)}`);
    this.field(`${prefix}Lease`, kv.lease);
  }

  protected field(name: string, value: bigint | number | boolean): void {
    this.line(`"${name}" : ${value.toString()}`);
  }
}
