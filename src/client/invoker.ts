import type { CallOptions } from './options.js';

/**
 * Which failures a call may be retried after (clientv3's retry policies).
 * `repeatable`: reads and other calls that are safe to send twice; retried on
 * UNAVAILABLE from any endpoint, until the deadline. `nonRepeatable`: writes;
 * retried only when the request provably never left the client (no
 * connection at the moment of sending).
 */
export type RetryPolicy = 'repeatable' | 'nonRepeatable';

/** A unary method as ts-proto describes it in a generated service definition (KVService.range, ...). */
export interface UnaryMethod<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

export interface UnaryOptions extends CallOptions {
  retry?: RetryPolicy;
  /** Send to this endpoint only (no failover), e.g. for per-member status. */
  endpoint?: string;
}

/** What the sub-APIs (kv, maintenance, cluster) need from the client. */
export interface UnaryInvoker {
  unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options?: UnaryOptions): Promise<Res>;
}
