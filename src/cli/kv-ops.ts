import {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
} from '../proto/gen/etcdserverpb/rpc.js';
import { fromKeyEnd, prefixEnd } from '../client/keys.js';
import { badArgs, CliError, ExitCode } from './errors.js';
import type { FlagSpec } from './flags/flag-spec.js';
import type { ParsedFlags } from './flags/parser.js';
import { goQuote } from './go/quote.js';
import { goParseInt } from './go/strconv.js';

/**
 * put / get / del: their flags and how arguments and flags become a request,
 * with etcdctl's checks, messages and exit codes, in etcdctl's order. Both
 * the commands and the txn grammar (whose lines are put/get/del command
 * lines) build their requests here. Arguments arrive as bytes.
 */
export const putFlagSpecs: readonly FlagSpec[] = [
  { name: 'lease', kind: 'string', defaultText: '0', description: 'lease ID (in hexadecimal) to attach to the key' },
  { name: 'prev-kv', kind: 'bool', defaultText: 'false', description: 'return the previous key-value pair before modification' },
  { name: 'ignore-value', kind: 'bool', defaultText: 'false', description: 'updates the key using its current value' },
  { name: 'ignore-lease', kind: 'bool', defaultText: 'false', description: 'updates the key using its current lease' },
];

export const getFlagSpecs: readonly FlagSpec[] = [
  { name: 'consistency', kind: 'string', defaultText: 'l', description: 'Linearizable(l) or Serializable(s)' },
  { name: 'order', kind: 'string', defaultText: '', description: 'Order of results; ASCEND or DESCEND (ASCEND by default)' },
  { name: 'sort-by', kind: 'string', defaultText: '', description: 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION' },
  { name: 'limit', kind: 'int64', defaultText: '0', description: 'Maximum number of results' },
  { name: 'prefix', kind: 'bool', defaultText: 'false', description: 'Get keys with matching prefix' },
  { name: 'from-key', kind: 'bool', defaultText: 'false', description: 'Get keys that are greater than or equal to the given key using byte compare' },
  { name: 'rev', kind: 'int64', defaultText: '0', description: 'Specify the kv revision' },
  { name: 'keys-only', kind: 'bool', defaultText: 'false', description: 'Get only the keys' },
  { name: 'count-only', kind: 'bool', defaultText: 'false', description: 'Get only the count' },
  { name: 'print-value-only', kind: 'bool', defaultText: 'false', description: 'Only write values when using the "simple" output format' },
];

export const delFlagSpecs: readonly FlagSpec[] = [
  { name: 'prefix', kind: 'bool', defaultText: 'false', description: 'delete keys with matching prefix' },
  { name: 'prev-kv', kind: 'bool', defaultText: 'false', description: 'return deleted key-value pairs' },
  { name: 'from-key', kind: 'bool', defaultText: 'false', description: 'delete keys that are greater than or equal to the given key using byte compare' },
];

const putArgsMessage = 'put command needs 1 argument and input from stdin or 2 arguments';

/**
 * The put request. `readValue` supplies the value when only the key is given
 * (the command reads stdin; etcdctl's "no available argument and stdin" when
 * it is empty becomes the usual argument error).
 */
export function buildPut(args: Buffer[], flags: ParsedFlags, readValue: () => Buffer | undefined): PutRequest {
  if (args.length === 0) throw badArgs(putArgsMessage);
  const key = args[0]!;
  const ignoreValue = flags.bool('ignore-value');
  if (ignoreValue && args.length > 1) throw badArgs("put command needs only 1 argument when 'ignore-value' is set");
  let value: Buffer = Buffer.alloc(0);
  if (!ignoreValue) {
    const given = args.length > 1 ? args[1] : readValue();
    if (given === undefined || given.length === 0) throw badArgs(putArgsMessage);
    value = given;
  }
  const leaseText = flags.string('lease');
  let lease: bigint;
  try {
    lease = goParseInt(leaseText, 16);
  } catch (err) {
    throw badArgs(`bad lease ID (${(err as Error).message}), expecting ID in Hex`);
  }
  return PutRequest.fromPartial({
    key,
    value,
    lease,
    prevKv: flags.bool('prev-kv'),
    ignoreValue,
    ignoreLease: flags.bool('ignore-lease'),
  });
}

const sortOrders = new Map<string, RangeRequest_SortOrder>([
  ['ASCEND', RangeRequest_SortOrder.ASCEND],
  ['DESCEND', RangeRequest_SortOrder.DESCEND],
  ['', RangeRequest_SortOrder.NONE],
]);

const sortTargets = new Map<string, RangeRequest_SortTarget>([
  ['CREATE', RangeRequest_SortTarget.CREATE],
  ['KEY', RangeRequest_SortTarget.KEY],
  ['MODIFY', RangeRequest_SortTarget.MOD],
  ['VALUE', RangeRequest_SortTarget.VALUE],
  ['VERSION', RangeRequest_SortTarget.VERSION],
  ['', RangeRequest_SortTarget.KEY],
]);

const rangeArgsMessage = 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set';
const prefixAndFromKeyMessage = '`--prefix` and `--from-key` cannot be set at the same time, choose one';

export function buildGet(args: Buffer[], flags: ParsedFlags): RangeRequest {
  if (args.length === 0) throw badArgs('get command needs one argument as key and an optional argument as range_end');
  const prefix = flags.bool('prefix');
  const fromKey = flags.bool('from-key');
  if (prefix && fromKey) throw badArgs(prefixAndFromKeyMessage);
  const consistency = flags.string('consistency');
  if (consistency !== 'l' && consistency !== 's') {
    throw new CliError(`unknown consistency flag ${goQuote(consistency)}`, ExitCode.badFeature);
  }
  if (args.length > 1 && (prefix || fromKey)) throw badArgs(rangeArgsMessage);
  const orderText = flags.string('order');
  const sortOrder = sortOrders.get(orderText.toUpperCase());
  if (sortOrder === undefined) throw new CliError(`bad sort order ${orderText}`, ExitCode.badFeature);
  const targetText = flags.string('sort-by');
  const sortTarget = sortTargets.get(targetText.toUpperCase());
  if (sortTarget === undefined) throw new CliError(`bad sort target ${targetText}`, ExitCode.badFeature);
  const keysOnly = flags.bool('keys-only');
  const countOnly = flags.bool('count-only');
  if (keysOnly && countOnly) throw badArgs('`--keys-only` and `--count-only` cannot be set at the same time, choose one');
  const [key, rangeEnd] = keyRange(args, prefix, fromKey);
  const rev = flags.bigint('rev');
  return RangeRequest.fromPartial({
    key,
    rangeEnd,
    limit: flags.bigint('limit'),
    revision: rev > 0n ? rev : 0n,
    // Keys come sorted ascending anyway, so clientv3 sends no sort order for that case.
    sortOrder: sortTarget === RangeRequest_SortTarget.KEY && sortOrder === RangeRequest_SortOrder.ASCEND ? RangeRequest_SortOrder.NONE : sortOrder,
    sortTarget,
    serializable: consistency === 's',
    keysOnly,
    countOnly,
  });
}

export function buildDel(args: Buffer[], flags: ParsedFlags): DeleteRangeRequest {
  if (args.length === 0 || args.length > 2) throw badArgs('del command needs one argument as key and an optional argument as range_end');
  const prefix = flags.bool('prefix');
  const fromKey = flags.bool('from-key');
  if (prefix && fromKey) throw badArgs(prefixAndFromKeyMessage);
  if (args.length > 1 && (prefix || fromKey)) throw badArgs(rangeArgsMessage);
  const [key, rangeEnd] = keyRange(args, prefix, fromKey);
  return DeleteRangeRequest.fromPartial({ key, rangeEnd, prevKv: flags.bool('prev-kv') });
}

/** [key, range_end] from `<key> [range_end]`, --prefix or --from-key; an empty key with either means every key. */
function keyRange(args: Buffer[], prefix: boolean, fromKey: boolean): [Buffer, Buffer] {
  const key = args[0]!;
  if (prefix) return key.length === 0 ? [fromKeyEnd, fromKeyEnd] : [key, prefixEnd(key)];
  if (fromKey) return [key.length === 0 ? fromKeyEnd : key, fromKeyEnd];
  return [key, args.length > 1 ? args[1]! : Buffer.alloc(0)];
}
