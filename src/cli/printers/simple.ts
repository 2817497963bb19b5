import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseOp,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Printer, type GetPrintOptions, type Sink } from './printer.js';

/**
 * etcdctl's default output (printer_simple.go): keys and values as raw bytes,
 * one per line, or as \xNN escapes with --hex. Byte-compatible with etcdctl.
 */
export class SimplePrinter extends Printer {
  readonly format = 'simple' as const;

  constructor(out: Sink, private readonly hex: boolean) {
    super(out);
  }

  override put(r: PutResponse): void {
    this.line('OK');
    if (r.prevKv !== undefined) this.kv(r.prevKv, false);
  }

  override get(r: RangeResponse, options: GetPrintOptions = {}): void {
    // etcdctl 3.4 has no --count-only; for a count the plain number is what a script wants.
    if (options.countOnly === true) {
      this.line(r.count.toString());
      return;
    }
    for (const kv of r.kvs) this.kv(kv, options.valueOnly === true);
  }

  override del(r: DeleteRangeResponse): void {
    this.line(r.deleted.toString());
    for (const kv of r.prevKvs) this.kv(kv, false);
  }

  override txn(r: TxnResponse): void {
    this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
    for (const op of r.responses) {
      this.line();
      this.responseOp(op);
    }
  }

  private responseOp(op: ResponseOp): void {
    if (op.responseDeleteRange !== undefined) this.del(op.responseDeleteRange);
    else if (op.responsePut !== undefined) this.put(op.responsePut);
    else if (op.responseRange !== undefined) this.get(op.responseRange);
    else if (op.responseTxn !== undefined) this.txn(op.responseTxn);
    else this.line('unexpected response {Response:<nil>}');
  }

  private kv(kv: KeyValue, valueOnly: boolean): void {
    if (!valueOnly) this.line(this.bytes(kv.key));
    this.line(this.bytes(kv.value));
  }

  private bytes(b: Uint8Array): string | Uint8Array {
    return this.hex ? hexEscape(b) : b;
  }
}

/** etcdctl's --hex form: every byte as \xNN, lower case. */
export function hexEscape(b: Uint8Array): string {
  let out = '';
  for (const byte of b) out += `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}
