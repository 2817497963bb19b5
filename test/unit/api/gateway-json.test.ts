import assert from 'node:assert/strict';
import * as rpc from '../../../src/proto/gen/etcdserverpb/rpc.js';
import * as kv from '../../../src/proto/gen/mvccpb/kv.js';
import * as authpb from '../../../src/proto/gen/authpb/auth.js';
import * as lockpb from '../../../src/proto/gen/v3lockpb/v3lock.js';
import * as electionpb from '../../../src/proto/gen/v3electionpb/v3election.js';
import { GoJsonError, JsonStreamDecoder, checkValid } from '../../../src/server/api/gateway/go-json.js';
import { goBase64Decode } from '../../../src/server/api/gateway/go-base64.js';
import { defaultMessage, marshalMessage, unmarshalMessage } from '../../../src/server/api/gateway/jsonpb.js';
import { messageSchema } from '../../../src/server/api/gateway/schema.js';
import { parseGatewayTimeoutMs } from '../../../src/server/api/gateway/limits.js';
import { cleanPath } from '../../../src/server/api/http-handler.js';

/**
 * The gateway's JSON, piece by piece: Go's decoder (the error texts are
 * encoding/json's, checked against etcd 3.4.23 in
 * test/compat/gateway-vs-etcd.test.ts), encoding/base64's decoding, jsonpb's
 * reading and writing over the generated message shapes.
 */

function decodeOne(text: string): string {
  const d = new JsonStreamDecoder();
  d.push(Buffer.from(text, 'latin1'));
  const next = d.next(true);
  return next.kind === 'value' ? Buffer.from(next.value.buf).toString('latin1') : next.kind;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GoJsonError, `not a Go error: ${String(err)}`);
    return err.message;
  }
  return 'no error';
}

const range = messageSchema('etcdserverpb.RangeRequest');
const read = (text: string, schema = range): Record<string, unknown> => {
  const buf = Buffer.from(text, 'utf8');
  return unmarshalMessage(schema, { buf, start: 0, end: buf.length });
};

describe('gateway JSON: Go\'s decoder', () => {
  const cases: Array<[input: string, expected: string]> = [
    ['  {"a":1} rest', '{"a":1}'],
    ['123abc', '123'],
    ['"s"', '"s"'],
    ['7', '7'],
    ['', 'eof'],
    ['   \n\t', 'eof'],
    ['{"key":', 'unexpected EOF'],
    ['tru', 'unexpected EOF'],
    ['x', "invalid character 'x' looking for beginning of value"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b"}', 'invalid character \'"\' after object key:value pair'],
    ['[1 2]', "invalid character '2' after array element"],
    ['{,}', "invalid character ',' looking for beginning of object key string"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ['[1,]', "invalid character ']' looking for beginning of value"],
    ['"a\u0001"', "invalid character '\\x01' in string literal"],
    ['"\\q"', "invalid character 'q' in string escape code"],
    ['"\\u12x4"', "invalid character 'x' in \\u hexadecimal character escape"],
    ['-x', "invalid character 'x' in numeric literal"],
    ['1.x', "invalid character 'x' after decimal point in numeric literal"],
    ['1ex', "invalid character 'x' in exponent of numeric literal"],
    ['nul!', "invalid character '!' in literal null (expecting 'l')"],
    ["'", "invalid character '\\'' looking for beginning of value"],
    ['\u00e9', "invalid character 'é' looking for beginning of value"],
  ];
  for (const [input, expected] of cases) {
    it(`reads ${JSON.stringify(input)} as ${expected}`, () => {
      let got: string;
      try {
        got = decodeOne(input);
      } catch (err) {
        got = (err as Error).message;
      }
      assert.equal(got, expected);
    });
  }

  it('scans each byte once however the stream is split, and hands values out one by one', () => {
    const d = new JsonStreamDecoder();
    const text = '{"a":"x"} {"b":[1,2]}';
    const values: string[] = [];
    for (const ch of text) {
      d.push(Buffer.from(ch));
      for (let next = d.next(false); next.kind === 'value'; next = d.next(false)) values.push(Buffer.from(next.value.buf).toString());
    }
    assert.deepEqual(values, ['{"a":"x"}', '{"b":[1,2]}']);
    assert.deepEqual(d.next(true), { kind: 'eof' });
  });

  it('refuses nesting deeper than Go does', () => {
    assert.equal(errorOf(() => decodeOne('['.repeat(10_001))), "invalid character '[' exceeded max depth");
  });

  it('checks a complete text as json.Unmarshal does (a lone space after it is fine, anything else is not)', () => {
    assert.equal(errorOf(() => checkValid(Buffer.from(''))), 'unexpected end of JSON input');
    assert.equal(errorOf(() => checkValid(Buffer.from('tru'))), "invalid character ' ' in literal true (expecting 'e')");
    assert.equal(errorOf(() => checkValid(Buffer.from('1 x'))), "invalid character 'x' after top-level value");
    assert.equal(errorOf(() => checkValid(Buffer.from(' 5 '))), 'no error');
  });
});

describe('gateway JSON: encoding/base64', () => {
  const cases: Array<[string, string]> = [
    ['Zm9v', 'foo'], ['Zm8=', 'fo'], ['Zg==', 'f'], ['', ''], ['Zm\r\n9v', 'foo'],
    ['Zm9', 'illegal base64 data at input byte 0'], ['Zg=', 'illegal base64 data at input byte 3'],
    ['Z===', 'illegal base64 data at input byte 1'], ['Zm=v', 'illegal base64 data at input byte 2'], ['Zm8=Zm8=', 'illegal base64 data at input byte 4'],
    ['!!', 'illegal base64 data at input byte 0'], ['Zm9v-', 'illegal base64 data at input byte 4'],
  ];
  for (const [input, expected] of cases) {
    it(`decodes ${JSON.stringify(input)}`, () => {
      let got: string;
      try {
        got = goBase64Decode(Buffer.from(input)).toString();
      } catch (err) {
        got = (err as Error).message;
      }
      assert.equal(got, expected);
    });
  }
});

describe('gateway JSON: jsonpb over the generated messages', () => {
  it('knows every message\'s fields by the names the generated code uses, with its defaults', () => {
    const modules: Array<[string, Record<string, unknown>]> = [['etcdserverpb', rpc], ['mvccpb', kv], ['authpb', authpb], ['v3lockpb', lockpb], ['v3electionpb', electionpb]];
    let checked = 0;
    for (const [pkg, mod] of modules) {
      for (const [name, value] of Object.entries(mod)) {
        const fns = value as { fromPartial?: (o: object) => object; encode?: unknown };
        if (typeof fns?.fromPartial !== 'function' || fns.encode === undefined) continue;
        assert.deepEqual(defaultMessage(messageSchema(`${pkg}.${name.replaceAll('_', '.')}`)), fns.fromPartial({}), name);
        checked++;
      }
    }
    assert.ok(checked > 80, `only ${checked} messages checked`);
  });

  it('reads proto and camelCase names, the camel one winning, and the last of repeated members', () => {
    assert.deepEqual(read('{"key":"YQ==","range_end":"Yg==","rangeEnd":"Yw==","limit":"5","limit":6}'), {
      ...defaultMessage(range), key: Buffer.from('a'), rangeEnd: Buffer.from('c'), limit: 6n,
    });
  });

  it('reads enums by name or number and refuses unknown names with jsonpb\'s message', () => {
    assert.equal(read('{"sort_order":"DESCEND"}').sortOrder, rpc.RangeRequest_SortOrder.DESCEND);
    assert.equal(read('{"sort_order":2}').sortOrder, 2);
    assert.equal(errorOf(() => read('{"sort_order":"down"}')), 'unknown value "down" for enum etcdserverpb.RangeRequest_SortOrder');
    assert.equal(errorOf(() => read('{"sort_order":1.5}')), 'json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder');
  });

  it('keeps 64-bit numbers exact, quoted or not, and refuses what Go\'s strconv refuses', () => {
    assert.equal(read('{"revision":"9223372036854775807"}').revision, 9223372036854775807n);
    assert.equal(read('{"revision":9223372036854775807}').revision, 9223372036854775807n);
    assert.equal(errorOf(() => read('{"revision":9223372036854775808}')), 'json: cannot unmarshal number 9223372036854775808 into Go value of type int64');
    assert.equal(errorOf(() => read('{"revision":"1e3"}')), 'json: cannot unmarshal number 1e3 into Go value of type int64');
    const member = messageSchema('etcdserverpb.MemberRemoveRequest');
    assert.equal(read('{"ID":"18446744073709551615"}', member).ID, 18446744073709551615n);
    assert.equal(errorOf(() => read('{"ID":-1}', member)), 'json: cannot unmarshal number -1 into Go value of type uint64');
  });

  it('reads oneofs: the member set, a null message member as unset, a scalar member even when null', () => {
    const compare = messageSchema('etcdserverpb.Compare');
    assert.equal(read('{"version":null}', compare).version, 0n);
    assert.equal(read('{"value":"YQ=="}', compare).value!.toString(), 'a');
    assert.equal(errorOf(() => read('{"target_union":1}', compare)), 'json: cannot unmarshal number into Go value of type etcdserverpb.isCompare_TargetUnion');
    const op = messageSchema('etcdserverpb.RequestOp');
    assert.deepEqual(read('{"request_range":null}', op), defaultMessage(op));
  });

  it('writes jsonpb\'s JSON: proto names, 64-bit integers quoted, defaults left out, enums by name', () => {
    const response = rpc.RangeResponse.fromPartial({
      header: { clusterId: 1n, memberId: 0n, revision: 5n, raftTerm: 2n },
      kvs: [{ key: Buffer.from('a'), createRevision: 5n, modRevision: 5n, version: 1n, value: Buffer.alloc(0), lease: 0n }],
      count: 1n,
    });
    assert.equal(marshalMessage(messageSchema('etcdserverpb.RangeResponse'), response as never),
      '{"header":{"cluster_id":"1","revision":"5","raft_term":"2"},"kvs":[{"key":"YQ==","create_revision":"5","mod_revision":"5","version":"1"}],"count":"1"}');
    const event = kv.Event.fromPartial({ type: kv.Event_EventType.DELETE, kv: { key: Buffer.from('<&>') } });
    assert.equal(marshalMessage(messageSchema('mvccpb.Event'), event as never), '{"type":"DELETE","kv":{"key":"PCY+"}}');
    const user = rpc.AuthUserGetResponse.fromPartial({ roles: ['<admin>'] });
    assert.equal(marshalMessage(messageSchema('etcdserverpb.AuthUserGetResponse'), user as never), '{"roles":["\\u003cadmin\\u003e"]}');
    assert.equal(marshalMessage(messageSchema('etcdserverpb.Compare'), rpc.Compare.fromPartial({ version: 0n }) as never), '{"version":"0"}');
  });
});

describe('gateway HTTP details', () => {
  it('reads Grpc-Timeout as grpc-gateway does', () => {
    assert.equal(parseGatewayTimeoutMs(undefined), undefined);
    assert.equal(parseGatewayTimeoutMs('5S'), 5000);
    assert.equal(parseGatewayTimeoutMs('300m'), 300);
    assert.equal(parseGatewayTimeoutMs('1n'), 1);
    assert.equal(parseGatewayTimeoutMs('0S'), undefined);
    for (const bad of ['5', 'S', '5x', '1.5S', 'xS']) assert.equal(parseGatewayTimeoutMs(bad), 'invalid', bad);
  });

  it('cleans paths as Go\'s ServeMux does, keeping a trailing slash', () => {
    const cases: Array<[string, string]> = [['/v3/kv/range', '/v3/kv/range'], ['//health', '/health'], ['/v3/kv//range', '/v3/kv/range'], ['/v3/./kv/', '/v3/kv/'], ['/a/../b', '/b'], ['/..', '/'], ['/', '/']];
    for (const [input, expected] of cases) assert.equal(cleanPath(input), expected, input);
  });
});
