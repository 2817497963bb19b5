import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { channelCredentialsFor } from './transport-mode.js';
import {
  KVClient, MaintenanceClient, CompactionRequest, DeleteRangeRequest, HashKVRequest, PutRequest, RangeRequest, TxnRequest,
  type CompactionResponse, type HashKVResponse, type DeleteRangeResponse, type PutResponse, type RangeResponse, type StatusResponse, type TxnResponse,
} from '../../src/proto/gen/etcdserverpb/rpc.js';

type Bytes = Buffer | string;
type Loose<T> = { [K in keyof T]?: T[K] extends Buffer ? Bytes : T[K] extends bigint ? bigint | number : unknown };
const bytes = (v: unknown): Buffer | undefined => (v === undefined ? undefined : Buffer.from(v as Bytes));

type Unary<Req, Res> = (req: Req, meta: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * A minimal promise wrapper over the generated gRPC stubs, speaking the raw
 * etcd wire protocol. Tests of the server use it so that they depend on the
 * wire contract alone, not on our client library.
 */
export class RawKv {
  private readonly kv: KVClient;
  private readonly maintenance: MaintenanceClient;

  constructor(endpoint: string, private readonly deadlineMs = 10000) {
    const target = endpoint.replace(/^https?:\/\//, '');
    const options = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_send_message_length': 64 * 1024 * 1024 };
    this.kv = new KVClient(target, channelCredentialsFor(endpoint), options);
    this.maintenance = new MaintenanceClient(target, channelCredentialsFor(endpoint), options);
  }

  private call<Req, Res>(method: Unary<Req, Res>, self: object, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(self, req, new Metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  put(p: Loose<PutRequest> & { key: Bytes }): Promise<PutResponse> {
    const req = PutRequest.fromPartial({ ...p, key: bytes(p.key), value: bytes(p.value) } as never);
    return this.call<PutRequest, PutResponse>(this.kv.put as never, this.kv, req);
  }

  range(r: Loose<RangeRequest> & { key: Bytes }): Promise<RangeResponse> {
    const req = RangeRequest.fromPartial({ ...r, key: bytes(r.key), rangeEnd: bytes(r.rangeEnd) } as never);
    return this.call<RangeRequest, RangeResponse>(this.kv.range as never, this.kv, req);
  }

  deleteRange(d: Loose<DeleteRangeRequest> & { key: Bytes }): Promise<DeleteRangeResponse> {
    const req = DeleteRangeRequest.fromPartial({ ...d, key: bytes(d.key), rangeEnd: bytes(d.rangeEnd) } as never);
    return this.call<DeleteRangeRequest, DeleteRangeResponse>(this.kv.deleteRange as never, this.kv, req);
  }

  /** Takes the request in ts-proto's fromPartial shape (Buffers for bytes). */
  txn(t: unknown): Promise<TxnResponse> {
    return this.call<TxnRequest, TxnResponse>(this.kv.txn as never, this.kv, TxnRequest.fromPartial(t as never));
  }

  compact(c: { revision: bigint; physical?: boolean }): Promise<CompactionResponse> {
    return this.call<CompactionRequest, CompactionResponse>(this.kv.compact as never, this.kv, CompactionRequest.fromPartial(c));
  }

  status(): Promise<StatusResponse> {
    return this.call<object, StatusResponse>(this.maintenance.status as never, this.maintenance, {});
  }

  /** This member's HashKV at `revision` (0: the current one). */
  async hashKV(revision: bigint): Promise<number> {
    return (await this.call<HashKVRequest, HashKVResponse>(this.maintenance.hashKv as never, this.maintenance, HashKVRequest.fromPartial({ revision }))).hash;
  }

  close(): void {
    this.kv.close();
    this.maintenance.close();
  }
}

/** The gRPC code and message of a failed call, for asserting etcd's wire errors. */
export async function wireError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error('expected the call to fail');
}
