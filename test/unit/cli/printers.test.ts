import assert from 'node:assert/strict';
import {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  TxnResponse,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { KeyValue } from '../../../src/proto/gen/mvccpb/kv.js';
import { CliError } from '../../../src/cli/errors.js';
import { MemorySink } from '../../../src/cli/output.js';
import { createPrinter, type Printer } from '../../../src/cli/printers/index.js';

/** IDs from a real etcd: both above 2^53, where a JS number would lose digits. */
const header = ResponseHeader.fromPartial({
  clusterId: 15118495548433857066n,
  memberId: 13668033151171901709n,
  revision: 2n,
  raftTerm: 2n,
});

const kv = (key: string | Buffer, value: string | Buffer, rev: bigint, extra: Partial<KeyValue> = {}): KeyValue =>
  KeyValue.fromPartial({ key: Buffer.from(key), value: Buffer.from(value), createRevision: rev, modRevision: rev, version: 1n, ...extra });

const foo = kv('foo', 'bar', 2n);
const getFoo = RangeResponse.fromPartial({ header, kvs: [foo], count: 1n });

async function print(format: string, use: (p: Printer) => void, hex = false): Promise<string> {
  const sink = new MemorySink();
  use(await createPrinter(format, { hex, out: sink }));
  return sink.bytes().toString('latin1');
}

describe('printers', () => {
  describe('json (byte-compatible with etcdctl 3.4)', () => {
    it('prints a get response as etcdctl does, 64-bit IDs exact', async () => {
      assert.equal(
        await print('json', (p) => p.get(getFoo)),
        '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":2,"raft_term":2},' +
          '"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}\n',
      );
    });

    it('leaves out zero fields, prints more and a lease above 2^53', async () => {
      const leased = kv('k', '', 7n, { lease: 7587869370069394188n });
      const r = RangeResponse.fromPartial({ header: { revision: 9n }, kvs: [leased], more: true, count: 2n });
      assert.equal(
        await print('json', (p) => p.get(r)),
        '{"header":{"revision":9},"kvs":[{"key":"aw==","create_revision":7,"mod_revision":7,"version":1,"lease":7587869370069394188}],"more":true,"count":2}\n',
      );
    });

    it('prints an empty result as just the header', async () => {
      assert.equal(
        await print('json', (p) => p.get(RangeResponse.fromPartial({ header }))),
        '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":2,"raft_term":2}}\n',
      );
    });

    it('prints put and delete responses', async () => {
      const put = PutResponse.fromPartial({ header: { revision: 3n }, prevKv: foo });
      assert.equal(await print('json', (p) => p.put(put)), '{"header":{"revision":3},"prev_kv":{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}}\n');
      const del = DeleteRangeResponse.fromPartial({ header: { revision: 4n }, deleted: 1n, prevKvs: [foo] });
      assert.equal(await print('json', (p) => p.del(del)), '{"header":{"revision":4},"deleted":1,"prev_kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}]}\n');
    });

    it('prints a txn response with Go\'s oneof wrappers', async () => {
      const txn = TxnResponse.fromPartial({
        header: { ...header, revision: 7n },
        succeeded: true,
        responses: [
          { responseRange: { header: { revision: 6n }, kvs: [foo], count: 1n } },
          { responsePut: { header: { revision: 7n } } },
          { responseDeleteRange: { header: { revision: 7n } } },
          {},
        ],
      });
      assert.equal(
        await print('json', (p) => p.txn(txn)),
        '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":7,"raft_term":2},"succeeded":true,"responses":[' +
          '{"Response":{"ResponseRange":{"header":{"revision":6},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}}},' +
          '{"Response":{"ResponsePut":{"header":{"revision":7}}}},' +
          '{"Response":{"ResponseDeleteRange":{"header":{"revision":7}}}},' +
          '{"Response":null}]}\n',
      );
    });

    it('ignores --hex, as etcdctl does', async () => {
      assert.equal(await print('json', (p) => p.get(getFoo), true), await print('json', (p) => p.get(getFoo)));
    });
  });

  describe('simple', () => {
    it('prints keys and values as raw bytes', async () => {
      const binary = kv(Buffer.from([0x6b, 0x00]), Buffer.from([0xff, 0x0a]), 3n);
      const out = await print('simple', (p) => p.get(RangeResponse.fromPartial({ header, kvs: [foo, binary] })));
      assert.equal(out, 'foo\nbar\nk\x00\n\xff\n\n');
    });

    it('prints \\x escapes with --hex', async () => {
      assert.equal(await print('simple', (p) => p.get(getFoo), true), '\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n');
    });

    it('prints only values with --print-value-only', async () => {
      assert.equal(await print('simple', (p) => p.get(getFoo, { valueOnly: true })), 'bar\n');
    });

    it('prints the count for --count-only', async () => {
      assert.equal(await print('simple', (p) => p.get(RangeResponse.fromPartial({ header, count: 12n }), { countOnly: true })), '12\n');
    });

    it('prints put, del and txn like etcdctl', async () => {
      assert.equal(await print('simple', (p) => p.put(PutResponse.fromPartial({ header, prevKv: foo }))), 'OK\nfoo\nbar\n');
      assert.equal(await print('simple', (p) => p.del(DeleteRangeResponse.fromPartial({ header, deleted: 2n, prevKvs: [foo] }))), '2\nfoo\nbar\n');
      const txn = TxnResponse.fromPartial({
        header,
        succeeded: false,
        responses: [{ responseRange: { header, kvs: [foo] } }, { responsePut: { header } }, { responseDeleteRange: { header } }],
      });
      assert.equal(await print('simple', (p) => p.txn(txn)), 'FAILURE\n\nfoo\nbar\n\nOK\n\n0\n');
    });
  });

  describe('fields', () => {
    it('prints a get response as etcdctl does', async () => {
      const value = kv('q"k', Buffer.from([0x76, 0x01, 0x0a, 0x09, 0xff, 0xc3, 0xa9, 0x3c, 0x3e, 0x26]), 10n);
      const out = await print('fields', (p) => p.get(RangeResponse.fromPartial({ header: { ...header, revision: 10n }, kvs: [value], count: 1n })));
      assert.equal(
        Buffer.from(out, 'latin1').toString('utf8'),
        [
          '"ClusterID" : 15118495548433857066',
          '"MemberID" : 13668033151171901709',
          '"Revision" : 10',
          '"RaftTerm" : 2',
          '"Key" : "q\\"k"',
          '"CreateRevision" : 10',
          '"ModRevision" : 10',
          '"Version" : 1',
          '"Value" : "v\\x01\\n\\t\\xffé<>&"',
          '"Lease" : 0',
          '"More" : false',
          '"Count" : 1',
          '',
        ].join('\n'),
      );
    });

    it('prefixes previous key-values with Prev', async () => {
      const out = await print('fields', (p) => p.put(PutResponse.fromPartial({ header, prevKv: foo })));
      assert.match(out, /"PrevKey" : "foo"\n"PrevCreateRevision" : 2\n/);
    });
  });

  describe('table', () => {
    it('prints one row per key, binary bytes quoted', async () => {
      const binary = kv('bin', Buffer.from([0x01, 0xff]), 3n, { lease: 0x694d7a3b4e8e5e0dn });
      const out = Buffer.from(await print('table', (p) => p.get(RangeResponse.fromPartial({ header, kvs: [foo, binary], count: 2n }))), 'latin1').toString('utf8');
      assert.match(out, /│ foo +│ bar +│ 2 +│ 2 +│ 1 +│ +│/);
      assert.match(out, /│ bin +│ "\\x01\\xff" +│ 3 +│ 3 +│ 1 +│ 694d7a3b4e8e5e0d │/);
      assert.match(out, /2 of 2 keys at revision 2\n$/);
    });
  });

  describe('protobuf', () => {
    it('writes the wire encoding and nothing else', async () => {
      const out = await print('protobuf', (p) => p.get(getFoo));
      assert.deepEqual(RangeResponse.decode(Buffer.from(out, 'latin1')), getFoo);
    });
  });

  it('rejects an unknown format with etcdctl\'s message and exit code 4', async () => {
    await assert.rejects(createPrinter('xml', { hex: false, out: new MemorySink() }), (err: unknown) => err instanceof CliError && err.exitCode === 4 && err.message === 'unsupported output format');
  });
});
