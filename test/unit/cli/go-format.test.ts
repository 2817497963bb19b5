import assert from 'node:assert/strict';
import { goFormatDuration, goParseDuration } from '../../../src/cli/go/duration.js';
import { goJsonString, goQuote, goQuoteRune } from '../../../src/cli/go/quote.js';
import { RuneReader, scanQuoted } from '../../../src/cli/go/scan.js';
import { goParseBool, goParseInt } from '../../../src/cli/go/strconv.js';

const bytes = (...b: number[]): Buffer => Buffer.from(b);

describe('Go formatting helpers', () => {
  describe('goQuote (strconv.Quote, fmt %q)', () => {
    const cases: Array<[string, string | Buffer, string]> = [
      ['plain text', 'foo', '"foo"'],
      ['quote and backslash', 'a"b\\c', '"a\\"b\\\\c"'],
      ['short escapes', '\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
      ['other control bytes and DEL', bytes(0x00, 0x01, 0x7f), '"\\x00\\x01\\x7f"'],
      ['printable non-ASCII stays', 'é日本', '"é日本"'],
      ['invalid UTF-8 byte', bytes(0x76, 0xff, 0x61), '"v\\xffa"'],
      ['a truncated sequence is escaped byte by byte', bytes(0xe6, 0x97), '"\\xe6\\x97"'],
      ['no-break space and soft hyphen are not printable', '\u00a0\u00ad', '"\\u00a0\\u00ad"'],
      ['line separator', '\u2028', '"\\u2028"'],
      ['astral non-printable', '\u{e0001}', '"\\U000e0001"'],
      ['the value etcdctl printed', bytes(0x76, 0x01, 0x0a, 0x09, 0xff, 0xc3, 0xa9, 0x3c, 0x3e, 0x26), '"v\\x01\\n\\t\\xffé<>&"'],
    ];
    for (const [name, input, expected] of cases) {
      it(name, () => assert.equal(goQuote(input), expected));
    }

    it('quotes runes with single quotes', () => {
      assert.equal(goQuoteRune('x'.codePointAt(0)!), "'x'");
      assert.equal(goQuoteRune("'".codePointAt(0)!), "'\\''");
    });
  });

  describe('goJsonString (encoding/json)', () => {
    const cases: Array<[string, string | Buffer, string]> = [
      ['plain', 'abc', '"abc"'],
      ['HTML characters are escaped', '<a&b>', '"\\u003ca\\u0026b\\u003e"'],
      ['Go 1.19 writes \\b and \\f as \\u escapes', '\b\f\n\r\t', '"\\u0008\\u000c\\n\\r\\t"'],
      ['invalid UTF-8 becomes \\ufffd', bytes(0x61, 0xff), '"a\\ufffd"'],
      ['line and paragraph separators', '\u2028\u2029', '"\\u2028\\u2029"'],
      ['non-ASCII stays', 'héllo', '"héllo"'],
    ];
    for (const [name, input, expected] of cases) {
      it(name, () => assert.equal(goJsonString(input), expected));
    }
  });

  describe('goParseInt (strconv.ParseInt)', () => {
    const ok: Array<[string, number, bigint]> = [
      ['42', 10, 42n],
      ['-42', 10, -42n],
      ['+7', 10, 7n],
      ['007', 10, 7n],
      ['0x10', 0, 16n],
      ['010', 0, 8n],
      ['0b101', 0, 5n],
      ['0o17', 0, 15n],
      ['1_000', 0, 1000n],
      ['7fffffffffffffff', 16, 9223372036854775807n],
      ['-9223372036854775808', 10, -9223372036854775808n],
    ];
    for (const [text, base, value] of ok) {
      it(`parses ${text} in base ${base}`, () => assert.equal(goParseInt(text, base), value));
    }
    const bad: Array<[string, number, string]> = [
      ['abc', 0, 'strconv.ParseInt: parsing "abc": invalid syntax'],
      ['', 10, 'strconv.ParseInt: parsing "": invalid syntax'],
      ['1.5', 0, 'strconv.ParseInt: parsing "1.5": invalid syntax'],
      ['1_000', 10, 'strconv.ParseInt: parsing "1_000": invalid syntax'],
      ['_1', 0, 'strconv.ParseInt: parsing "_1": invalid syntax'],
      ['0x10', 16, 'strconv.ParseInt: parsing "0x10": invalid syntax'],
      ['99999999999999999999', 0, 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
      ['ffffffffffffffff', 16, 'strconv.ParseInt: parsing "ffffffffffffffff": value out of range'],
      ['9223372036854775808', 10, 'strconv.ParseInt: parsing "9223372036854775808": value out of range'],
    ];
    for (const [text, base, message] of bad) {
      it(`rejects ${JSON.stringify(text)} in base ${base}`, () => assert.throws(() => goParseInt(text, base), { message }));
    }
  });

  it('goParseBool accepts Go\'s spellings only', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(goParseBool(t), true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(goParseBool(f), false);
    assert.throws(() => goParseBool('yes'), { message: 'strconv.ParseBool: parsing "yes": invalid syntax' });
  });

  describe('goParseDuration (time.ParseDuration)', () => {
    const ok: Array<[string, bigint]> = [
      ['2s', 2_000_000_000n],
      ['500ms', 500_000_000n],
      ['1m30s', 90_000_000_000n],
      ['1.5h', 5_400_000_000_000n],
      ['-1s', -1_000_000_000n],
      ['0', 0n],
      ['1ns', 1n],
      ['3us', 3000n],
      ['3µs', 3000n],
      ['.5s', 500_000_000n],
    ];
    for (const [text, nanos] of ok) {
      it(`parses ${text}`, () => assert.equal(goParseDuration(text), nanos));
    }
    const bad: Array<[string, string]> = [
      ['abc', 'time: invalid duration "abc"'],
      ['', 'time: invalid duration ""'],
      ['5', 'time: missing unit in duration "5"'],
      ['5x', 'time: unknown unit "x" in duration "5x"'],
      ['.s', 'time: invalid duration ".s"'],
      ['9999999999h', 'time: invalid duration "9999999999h"'],
    ];
    for (const [text, message] of bad) {
      it(`rejects ${JSON.stringify(text)}`, () => assert.throws(() => goParseDuration(text), { message }));
    }
  });

  it('goFormatDuration writes Duration.String', () => {
    const cases: Array<[bigint, string]> = [
      [0n, '0s'],
      [2_000_000_000n, '2s'],
      [500_000_000n, '500ms'],
      [90_000_000_000n, '1m30s'],
      [3_600_000_000_000n, '1h0m0s'],
      [1_500_000_000n, '1.5s'],
      [1_500n, '1.5µs'],
      [7n, '7ns'],
      [-2_000_000_000n, '-2s'],
    ];
    for (const [nanos, text] of cases) assert.equal(goFormatDuration(nanos), text);
  });

  describe('scanQuoted (fmt %q scanning)', () => {
    const scan = (input: string): string => scanQuoted(new RuneReader(Buffer.from(input, 'utf8').toString('latin1')));
    it('reads escapes as bytes', () => assert.equal(Buffer.from(scan('"a\\x00\\xff\\u00e9\\101"'), 'latin1').toString('hex'), '6100ffc3a941'));
    it('reads back-quoted strings raw', () => assert.equal(scan('`a\\n`'), 'a\\n'));
    it('skips leading spaces', () => assert.equal(scan('  "k"'), 'k'));
    it('rejects a bad escape', () => assert.throws(() => scan('"\\q"'), { message: 'invalid syntax' }));
    it('rejects an unterminated string', () => assert.throws(() => scan('"abc'), { message: 'unexpected EOF' }));
    it('rejects a bare word', () => assert.throws(() => scan('abc'), { message: 'expected quoted string' }));
  });
});
