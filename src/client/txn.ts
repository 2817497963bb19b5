import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequest,
  RequestOp,
  type TxnRequest,
} from '../proto/gen/etcdserverpb/rpc.js';
import { rangeOf, putRequest, rangeRequest, type DeleteOptions, type GetOptions, type PutOptions, type RangeOptions } from './kv.js';
import { toBuffer, type Bytes } from './keys.js';

/**
 * Builders for txn comparisons and operations, for library users and the
 * lock/election recipes:
 *
 *   await client.kv.txn({
 *     compare: [compare.createRevision('lock', '=', 0n)],
 *     success: [op.put('lock', 'me', { lease })],
 *     failure: [op.get('lock')],
 *   });
 */
export type CompareOperator = '=' | '!=' | '>' | '<';

const results: Record<CompareOperator, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

export function isCompareOperator(text: string): text is CompareOperator {
  return Object.hasOwn(results, text);
}

function base(key: Bytes, operator: CompareOperator, target: Compare_CompareTarget, range: RangeOptions): Compare {
  const [start, end] = rangeOf(key, range);
  return Compare.fromPartial({ key: start, rangeEnd: end, result: results[operator], target });
}

export const compare = {
  value(key: Bytes, operator: CompareOperator, value: Bytes, range: RangeOptions = {}): Compare {
    return { ...base(key, operator, Compare_CompareTarget.VALUE, range), value: toBuffer(value) };
  },
  version(key: Bytes, operator: CompareOperator, version: bigint, range: RangeOptions = {}): Compare {
    return { ...base(key, operator, Compare_CompareTarget.VERSION, range), version };
  },
  createRevision(key: Bytes, operator: CompareOperator, revision: bigint, range: RangeOptions = {}): Compare {
    return { ...base(key, operator, Compare_CompareTarget.CREATE, range), createRevision: revision };
  },
  modRevision(key: Bytes, operator: CompareOperator, revision: bigint, range: RangeOptions = {}): Compare {
    return { ...base(key, operator, Compare_CompareTarget.MOD, range), modRevision: revision };
  },
  lease(key: Bytes, operator: CompareOperator, lease: bigint, range: RangeOptions = {}): Compare {
    return { ...base(key, operator, Compare_CompareTarget.LEASE, range), lease };
  },
};

export const op = {
  get(key: Bytes, options: GetOptions = {}): RequestOp {
    return RequestOp.fromPartial({ requestRange: rangeRequest(key, options) });
  },
  put(key: Bytes, value: Bytes, options: PutOptions = {}): RequestOp {
    return RequestOp.fromPartial({ requestPut: putRequest(key, value, options) });
  },
  delete(key: Bytes, options: DeleteOptions = {}): RequestOp {
    const [start, end] = rangeOf(key, options);
    return RequestOp.fromPartial({ requestDeleteRange: DeleteRangeRequest.fromPartial({ key: start, rangeEnd: end, prevKv: options.prevKv ?? false }) });
  },
  txn(request: Partial<TxnRequest>): RequestOp {
    return RequestOp.fromPartial({ requestTxn: request });
  },
};
