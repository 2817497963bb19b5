import assert from 'node:assert/strict';
import { RangeRequest_SortOrder, RangeRequest_SortTarget } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { CliError } from '../../../src/cli/errors.js';
import { parseCommandLine } from '../../../src/cli/flags/parser.js';
import { buildDel, buildGet, buildPut, delFlagSpecs, getFlagSpecs, putFlagSpecs } from '../../../src/cli/kv-ops.js';

const b = (...items: Array<string | number[]>): Buffer[] => items.map((i) => (typeof i === 'string' ? Buffer.from(i) : Buffer.from(i)));

function get(...argv: string[]) {
  const { flags, args } = parseCommandLine(argv, getFlagSpecs);
  return buildGet(args.map((a) => Buffer.from(a)), flags);
}

function rejects(fn: () => unknown, message: string, exitCode: number): void {
  assert.throws(fn, (err: unknown) => err instanceof CliError && err.message === message && err.exitCode === exitCode);
}

describe('put/get/del requests from command lines', () => {
  it('get of one key sends no range end and no sort order', () => {
    const r = get('foo');
    assert.deepEqual([r.key, r.rangeEnd], b('foo', ''));
    assert.equal(r.sortOrder, RangeRequest_SortOrder.NONE);
    assert.equal(r.sortTarget, RangeRequest_SortTarget.KEY);
  });

  it('--prefix ends the range after the prefix, and at "\\0" when the prefix is all 0xff', () => {
    assert.deepEqual(get('--prefix', 'a/').rangeEnd, Buffer.from('a0'));
    const { flags } = parseCommandLine(['--prefix'], getFlagSpecs);
    assert.deepEqual(buildGet(b([0x61, 0xff]), flags).rangeEnd, Buffer.from([0x62]));
    assert.deepEqual(buildGet(b([0xff, 0xff]), flags).rangeEnd, Buffer.from([0]));
  });

  it('an empty key with --prefix or --from-key means every key', () => {
    for (const flag of ['--prefix', '--from-key']) {
      const r = get(flag, '');
      assert.deepEqual([r.key, r.rangeEnd], b([0], [0]));
    }
  });

  it('--order ASCEND with the key target sends no sort order, as clientv3 does', () => {
    assert.equal(get('k', '--order', 'ascend').sortOrder, RangeRequest_SortOrder.NONE);
    assert.equal(get('k', '--order', 'ASCEND', '--sort-by', 'value').sortOrder, RangeRequest_SortOrder.ASCEND);
    assert.equal(get('k', '--sort-by', 'MODIFY').sortTarget, RangeRequest_SortTarget.MOD);
  });

  it('ignores a revision below 1 and passes limit, serializable and keys-only', () => {
    const r = get('k', '--rev', '-3', '--limit', '5', '--consistency', 's', '--keys-only');
    assert.equal(r.revision, 0n);
    assert.equal(r.limit, 5n);
    assert.equal(r.serializable, true);
    assert.equal(r.keysOnly, true);
  });

  it('rejects get arguments with etcdctl\'s messages and exit codes', () => {
    rejects(() => get(), 'get command needs one argument as key and an optional argument as range_end', 128);
    rejects(() => get('a', '--prefix', '--from-key'), '`--prefix` and `--from-key` cannot be set at the same time, choose one', 128);
    rejects(() => get('a', '--consistency', 'x'), 'unknown consistency flag "x"', 4);
    rejects(() => get('a', '--order', 'up'), 'bad sort order up', 4);
    rejects(() => get('a', '--sort-by', 'size'), 'bad sort target size', 4);
    rejects(() => get('a', '--keys-only', '--count-only'), '`--keys-only` and `--count-only` cannot be set at the same time, choose one', 128);
  });

  it('put reads its value from the second argument or from the reader', () => {
    const { flags } = parseCommandLine([], putFlagSpecs);
    assert.deepEqual(buildPut(b('k', 'v'), flags, () => undefined).value, Buffer.from('v'));
    assert.deepEqual(buildPut(b('k'), flags, () => Buffer.from('piped\n')).value, Buffer.from('piped\n'));
    rejects(() => buildPut(b('k'), flags, () => Buffer.alloc(0)), 'put command needs 1 argument and input from stdin or 2 arguments', 128);
  });

  it('put reads the lease in hex', () => {
    const { flags } = parseCommandLine(['--lease', '694d7a3b4e8e5e0d'], putFlagSpecs);
    assert.equal(buildPut(b('k', 'v'), flags, () => undefined).lease, 0x694d7a3b4e8e5e0dn);
    const bad = parseCommandLine(['--lease', '0x1'], putFlagSpecs).flags;
    rejects(() => buildPut(b('k', 'v'), bad, () => undefined), 'bad lease ID (strconv.ParseInt: parsing "0x1": invalid syntax), expecting ID in Hex', 128);
  });

  it('del takes a key and an optional range end', () => {
    const { flags } = parseCommandLine(['--prev-kv'], delFlagSpecs);
    const r = buildDel(b('a', 'c'), flags);
    assert.deepEqual([r.key, r.rangeEnd, r.prevKv], [Buffer.from('a'), Buffer.from('c'), true]);
    rejects(() => buildDel(b('a', 'b', 'c'), flags), 'del command needs one argument as key and an optional argument as range_end', 128);
  });
});
