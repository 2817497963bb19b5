import {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Printer } from './printer.js';

/**
 * `-w protobuf`: the response's wire encoding, nothing else (no newline), as
 * etcdctl's printer_protobuf.go writes it. Both encoders emit fields in field
 * number order and skip proto3 defaults, so the bytes match etcdctl's.
 */
export class ProtobufPrinter extends Printer {
  readonly format = 'protobuf' as const;

  override put(r: PutResponse): void {
    this.out.write(PutResponse.encode(r).finish());
  }

  override get(r: RangeResponse): void {
    this.out.write(RangeResponse.encode(r).finish());
  }

  override del(r: DeleteRangeResponse): void {
    this.out.write(DeleteRangeResponse.encode(r).finish());
  }

  override txn(r: TxnResponse): void {
    this.out.write(TxnResponse.encode(r).finish());
  }
}
