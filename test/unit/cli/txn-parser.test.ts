import assert from 'node:assert/strict';
import { Compare_CompareResult, Compare_CompareTarget, RangeRequest_SortOrder, RangeRequest_SortTarget } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { CliError } from '../../../src/cli/errors.js';
import { TextLineSource } from '../../../src/cli/stdin.js';
import { argify, parseCompare, parseRequestLine, readTxn } from '../../../src/cli/txn-parser.js';

/** Lines are byte strings; these helpers take ordinary text. */
const line = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
const fails = (fn: () => unknown, message: string, exitCode = 3): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.message, message);
    assert.equal(err.exitCode, exitCode);
    return true;
  });
};

describe('txn grammar', () => {
  describe('compares', () => {
    const targets: Array<[string, Compare_CompareTarget, string, unknown]> = [
      ['mod("k") > "5"', Compare_CompareTarget.MOD, 'modRevision', 5n],
      ['m("k") > "5"', Compare_CompareTarget.MOD, 'modRevision', 5n],
      ['create("k") > "5"', Compare_CompareTarget.CREATE, 'createRevision', 5n],
      ['c("k") > "5"', Compare_CompareTarget.CREATE, 'createRevision', 5n],
      ['version("k") > "5"', Compare_CompareTarget.VERSION, 'version', 5n],
      ['ver("k") > "5"', Compare_CompareTarget.VERSION, 'version', 5n],
      ['value("k") > "5"', Compare_CompareTarget.VALUE, 'value', Buffer.from('5')],
      ['val("k") > "5"', Compare_CompareTarget.VALUE, 'value', Buffer.from('5')],
      ['lease("k") > "1f"', Compare_CompareTarget.LEASE, 'lease', 31n],
    ];
    for (const [text, target, field, value] of targets) {
      it(`reads ${text}`, () => {
        const cmp = parseCompare(line(text)) as unknown as Record<string, unknown>;
        assert.equal(cmp.target, target);
        assert.equal(cmp.result, Compare_CompareResult.GREATER);
        assert.deepEqual(cmp.key, Buffer.from('k'));
        assert.deepEqual(cmp[field], value);
      });
    }

    it('reads every operator', () => {
      const ops: Array<[string, Compare_CompareResult]> = [['=', Compare_CompareResult.EQUAL], ['!=', Compare_CompareResult.NOT_EQUAL], ['<', Compare_CompareResult.LESS], ['>', Compare_CompareResult.GREATER]];
      for (const [op, result] of ops) assert.equal(parseCompare(line(`mod("k") ${op} "1"`)).result, result);
    });

    it('takes Go escapes in keys and values as bytes', () => {
      const cmp = parseCompare(line('val("a\\x00b") = "\\xff\\u00e9"'));
      assert.deepEqual(cmp.key, Buffer.from([0x61, 0x00, 0x62]));
      assert.deepEqual(cmp.value, Buffer.from([0xff, 0xc3, 0xa9]));
    });

    it('keeps UTF-8 in keys', () => assert.deepEqual(parseCompare(line('val("clé") = "x"')).key, Buffer.from('clé')));

    it('ignores what follows the value, as fmt.Sscanf does', () => assert.equal(parseCompare(line('mod("k") = "1" trailing')).modRevision, 1n));

    const malformed: Array<[string, string]> = [
      ['mod', 'malformed comparison: mod'],
      ['mod("k")>"5"', 'malformed comparison: mod("k")>"5"; got mod("k")  ""'],
      ['mod("k" ) > "5"', 'malformed comparison: mod("k" ) > "5"; got mod("k")  ""'],
      ['mod("k") >', 'malformed comparison: mod("k") >; got mod("k") > ""'],
      ['mod(k) > "5"', 'malformed comparison: mod(k) > "5"; got mod("")  ""'],
      ['size("k") > "5"', 'malformed comparison: size("k") > "5" (unknown target size)'],
      ['toString("k") = "5"', 'malformed comparison: toString("k") = "5" (unknown target toString)'],
      ['mod("k") constructor "5"', 'malformed comparison: mod("k") constructor "5" (unknown operator constructor)'],
      ['mod("k") > "x"', 'invalid txn compare request: mod("k") > "x"'],
      ['mod("k") >= "5"', 'malformed comparison: mod("k") >= "5" (unknown operator >=)'],
    ];
    for (const [text, message] of malformed) {
      it(`rejects ${text}`, () => fails(() => parseCompare(line(text)), message));
    }
  });

  describe('argify', () => {
    it('splits words, "double quoted" and \'single quoted\' arguments', () => {
      assert.deepEqual(argify(line(`put "a b" 'c d' e"f"`)), ['put', 'a b', 'c d', 'e"f"']);
    });

    it('unquotes Go escapes in double quotes', () => assert.deepEqual(argify(line('put k "x\\ty"')), ['put', 'k', 'x\ty']));

    it('fails on a bad escape', () => fails(() => argify(line('put "\\q" v')), 'invalid syntax'));
  });

  describe('requests', () => {
    it('reads a put with its flags', () => {
      const op = parseRequestLine(line('put k v --prev-kv --lease=1f'));
      assert.deepEqual(op.requestPut?.key, Buffer.from('k'));
      assert.deepEqual(op.requestPut?.value, Buffer.from('v'));
      assert.equal(op.requestPut?.prevKv, true);
      assert.equal(op.requestPut?.lease, 31n);
    });

    it('reads a get with range flags', () => {
      const op = parseRequestLine(line('get a --prefix --limit 2 --sort-by=VALUE --order=DESCEND --rev 4'));
      const r = op.requestRange!;
      assert.deepEqual([r.key, r.rangeEnd], [Buffer.from('a'), Buffer.from('b')]);
      assert.equal(r.limit, 2n);
      assert.equal(r.revision, 4n);
      assert.equal(r.sortTarget, RangeRequest_SortTarget.VALUE);
      assert.equal(r.sortOrder, RangeRequest_SortOrder.DESCEND);
    });

    it('reads a del of a range', () => {
      const r = parseRequestLine(line('del a z')).requestDeleteRange!;
      assert.deepEqual([r.key, r.rangeEnd], [Buffer.from('a'), Buffer.from('z')]);
    });

    it('accepts an unambiguous prefix of the command, like cobra', () => assert.ok(parseRequestLine(line('p k v')).requestPut !== undefined));

    it('rejects one-word lines, unknown commands and bad flags', () => {
      fails(() => parseRequestLine(line('get')), 'invalid txn compare request: get');
      fails(() => parseRequestLine(line('bogus k')), 'invalid txn request: bogus k');
      fails(() => parseRequestLine(line('get k --bogus')), 'invalid txn request: get k --bogus');
    });

    it('reports put/get/del argument errors with their own message and exit code', () => {
      fails(() => parseRequestLine(line('put k')), 'put command needs 1 argument and input from stdin or 2 arguments', 128);
      fails(() => parseRequestLine(line('get a b --prefix')), 'too many arguments, only accept one argument when `--prefix` or `--from-key` is set', 128);
    });
  });

  describe('reading a whole transaction', () => {
    it('reads compares, success and failure sections and prompts before each', async () => {
      const prompts: string[] = [];
      const txn = await readTxn(new TextLineSource('mod("k") > "0"\n  \nput k v\nget k\n\ndel k\n\n'), (p) => prompts.push(p));
      assert.deepEqual(prompts, ['compares:', 'success requests (get, put, del):', 'failure requests (get, put, del):']);
      assert.equal(txn.compare.length, 1);
      assert.equal(txn.success.length, 2);
      assert.equal(txn.failure.length, 1);
    });

    it('fails with EOF (exit 3) when the input ends before the last blank line', async () => {
      await assert.rejects(readTxn(new TextLineSource('mod("k") > "0"\n\nput k v\n'), () => undefined), (err: unknown) => err instanceof CliError && err.message === 'EOF' && err.exitCode === 3);
    });

    it('does not take a last line without newline', async () => {
      await assert.rejects(readTxn(new TextLineSource('\n\n'), () => undefined), { message: 'EOF' });
    });
  });
});
