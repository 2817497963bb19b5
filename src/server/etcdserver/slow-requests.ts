import {
  AlarmResponse, CompactionResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseRevokeResponse, PutResponse, RangeResponse, TxnResponse,
  type RangeRequest, type TxnRequest,
} from '../../proto/gen/etcdserverpb/rpc.js';
import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import { goFormatDuration } from '../../cli/go/duration.js';
import type { Logger } from '../logger.js';
import type { ApplyResult } from './apply.js';
import { summarizeRange, summarizeRequest, summarizeTxn, type SummaryOptions } from './request-summary.js';

/** etcd's default --experimental-warning-apply-duration. */
export const warningApplyDurationMsDefault = 100;

/** The protobuf size of a write's response, by the kind of request (etcd logs it as "size:N"). */
function responseSize(r: InternalRaftRequest, response: unknown): number | undefined {
  const encoders: Array<[unknown, { encode(m: never): { finish(): Uint8Array } }]> = [
    [r.put, PutResponse], [r.deleteRange, DeleteRangeResponse], [r.txn, TxnResponse], [r.compaction, CompactionResponse],
    [r.leaseGrant, LeaseGrantResponse], [r.leaseRevoke, LeaseRevokeResponse], [r.alarm, AlarmResponse],
  ];
  const encoder = encoders.find(([request]) => request !== undefined)?.[1];
  return encoder === undefined || response === undefined ? undefined : encoder.encode(response as never).finish().length;
}

function durationText(ms: number): string {
  return goFormatDuration(BigInt(Math.round(ms * 1e6)));
}

/**
 * etcd's warnOfExpensiveRequest: a request that took longer than
 * --experimental-warning-apply-duration is logged as "apply request took
 * too long" with etcd's fields (took, expected-duration, prefix, request,
 * response, error) and counted in etcd_server_slow_apply_total. Writes are
 * timed where they are applied; reads served locally ("read-only range ")
 * from arrival, waiting for the read index included, as etcd times them.
 * What the request says is summarised by request-summary.ts, which never
 * prints values, passwords or tokens, nor keys while auth is on.
 */
export class SlowRequestLog {
  /** Requests that were slow (etcd_server_slow_apply_total). */
  count = 0;

  constructor(
    private readonly log: Logger,
    readonly thresholdMs: number,
    private readonly authEnabled: () => boolean,
  ) {}

  private options(): SummaryOptions {
    return { redactKeys: this.authEnabled() };
  }

  /** An applied entry: `tookMs` to apply it. */
  applied(request: InternalRaftRequest, tookMs: number, result: ApplyResult): void {
    if (tookMs <= this.thresholdMs) return;
    const size = result.error === undefined ? responseSize(request, result.response) : undefined;
    this.warn(tookMs, '', summarizeRequest(request, this.options()), size === undefined ? '' : `size:${size}`, result.error);
  }

  /** A range served here, `tookMs` after it arrived. */
  range(request: RangeRequest, tookMs: number, response: RangeResponse | undefined, error: unknown): void {
    if (tookMs <= this.thresholdMs) return;
    const resp = response === undefined ? '' : `range_response_count:${response.kvs.length} size:${RangeResponse.encode(response).finish().length}`;
    this.warn(tookMs, 'read-only range ', summarizeRange(request, this.options()), resp, error);
  }

  /** A read-only txn served here, `tookMs` after it arrived. */
  txn(request: TxnRequest, tookMs: number, response: TxnResponse | undefined, error: unknown): void {
    if (tookMs <= this.thresholdMs) return;
    const resp = response === undefined ? '' : `size:${TxnResponse.encode(response).finish().length}`;
    this.warn(tookMs, 'read-only range ', summarizeTxn(request, this.options()), resp, error);
  }

  private warn(tookMs: number, prefix: string, request: string, response: string, error: unknown): void {
    this.count++;
    const fields: Record<string, unknown> = {
      took: durationText(tookMs),
      'expected-duration': durationText(this.thresholdMs),
      prefix,
      request,
      response,
    };
    if (error !== undefined && error !== null) fields.error = (error as Error).message ?? String(error);
    this.log.warn(fields, 'apply request took too long');
  }
}
