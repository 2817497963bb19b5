import assert from 'node:assert/strict';
import {
  HpackDecoder, HpackError, encodeHeaderBlock, encodeInteger, encodeString, huffmanDecode, huffmanEncode,
  type HeaderField,
} from '../../../src/server/api/hpack.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const plain = (pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value, sensitive: false }));

interface Step {
  block: string;
  headers: [string, string][];
  /** The dynamic table after the block, newest first, and its size. */
  table: [string, string][];
  tableBytes: number;
}

/** Decodes consecutive blocks of one connection, checking headers and table after each (RFC 7541 Appendix C). */
function decodesSeries(tableBytesMax: number, steps: Step[]): void {
  const decoder = new HpackDecoder(tableBytesMax, 1 << 20);
  steps.forEach((step, i) => {
    assert.deepEqual(decoder.decode(hex(step.block)), plain(step.headers), `headers of block ${i + 1}`);
    assert.deepEqual(decoder.dynamicTable(), { entries: step.table, bytes: step.tableBytes }, `table after block ${i + 1}`);
  });
}

const requests: [string, string][][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const requestTables: [string, string][][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const requestTableBytes = [57, 110, 164];

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const location = 'https://www.example.com';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const responses: [string, string][][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', location]],
  [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', location]],
  [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', location],
    ['content-encoding', 'gzip'], ['set-cookie', cookie]],
];
const responseTables: [string, string][][] = [
  [['location', location], ['date', date1], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', location], ['date', date1], ['cache-control', 'private']],
  [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
];
const responseTableBytes = [222, 222, 215];

const series = (blocks: string[], headers: [string, string][][], tables: [string, string][][], bytes: number[]): Step[] =>
  blocks.map((block, i) => ({ block, headers: headers[i], table: tables[i], tableBytes: bytes[i] }));

describe('hpack: RFC 7541 Appendix C', () => {
  describe('C.2 header field representations', () => {
    it('C.2.1 literal with indexing adds the field to the dynamic table', () => {
      decodesSeries(4096, [{
        block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
        headers: [['custom-key', 'custom-header']],
        table: [['custom-key', 'custom-header']],
        tableBytes: 55,
      }]);
    });

    it('C.2.2 literal without indexing leaves the table empty, and our encoder writes it byte for byte', () => {
      decodesSeries(4096, [{ block: '040c 2f73 616d 706c 652f 7061 7468', headers: [[':path', '/sample/path']], table: [], tableBytes: 0 }]);
      assert.deepEqual(encodeHeaderBlock(plain([[':path', '/sample/path']]), { huffman: false }), hex('040c 2f73 616d 706c 652f 7061 7468'));
    });

    it('C.2.3 never-indexed literal is decoded as sensitive and re-encoded as never indexed', () => {
      const block = hex('1008 7061 7373 776f 7264 0673 6563 7265 74');
      const decoder = new HpackDecoder(4096, 1 << 20);
      const fields = decoder.decode(block);
      assert.deepEqual(fields, [{ name: 'password', value: 'secret', sensitive: true }]);
      assert.deepEqual(decoder.dynamicTable(), { entries: [], bytes: 0 });
      assert.deepEqual(encodeHeaderBlock(fields, { huffman: false }), block);
    });

    it('C.2.4 indexed field from the static table, and our encoder uses it', () => {
      decodesSeries(4096, [{ block: '82', headers: [[':method', 'GET']], table: [], tableBytes: 0 }]);
      assert.deepEqual(encodeHeaderBlock(plain([[':method', 'GET']])), hex('82'));
    });
  });

  it('C.3 requests without Huffman coding', () => {
    decodesSeries(4096, series([
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ], requests, requestTables, requestTableBytes));
  });

  it('C.4 requests with Huffman coding', () => {
    decodesSeries(4096, series([
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ], requests, requestTables, requestTableBytes));
  });

  it('C.5 responses without Huffman coding, with evictions in a 256-octet table', () => {
    decodesSeries(256, series([
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    ], responses, responseTables, responseTableBytes));
  });

  it('C.6 responses with Huffman coding, with evictions in a 256-octet table', () => {
    decodesSeries(256, series([
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ], responses, responseTables, responseTableBytes));
  });

  it('Huffman-encodes the strings of C.4 and C.6 exactly as the RFC does', () => {
    const table: [string, string][] = [
      ['www.example.com', '8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'],
      ['no-cache', '86a8 eb10 649c bf'],
      ['custom-key', '8825 a849 e95b a97d 7f'],
      ['custom-value', '8925 a849 e95b b8e8 b4bf'],
      ['302', '8264 02'],
      ['private', '85ae c377 1a4b'],
      [date1, '96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff'],
      [location, '919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'],
    ];
    for (const [text, encoded] of table) assert.deepEqual(encodeString(text), hex(encoded), text);
  });

  it('round-trips every header list of C.3 to C.6 through the encoder without touching the table', () => {
    for (const headers of [...requests, ...responses]) {
      for (const huffman of [true, false]) {
        const decoder = new HpackDecoder(4096, 1 << 20);
        assert.deepEqual(decoder.decode(encodeHeaderBlock(plain(headers), { huffman })), plain(headers));
        assert.deepEqual(decoder.dynamicTable(), { entries: [], bytes: 0 });
      }
    }
  });
});

describe('hpack: primitives and malformed input', () => {
  it('encodes integers with an N-bit prefix as in C.1', () => {
    assert.deepEqual(encodeInteger(10, 5, 0), hex('0a'));
    assert.deepEqual(encodeInteger(1337, 5, 0), hex('1f9a 0a'));
    assert.deepEqual(encodeInteger(42, 8, 0), hex('2a'));
  });

  it('round-trips every octet value and long binary strings through Huffman coding', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
    const binary = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256));
    assert.deepEqual(huffmanDecode(huffmanEncode(binary)), binary);
  });

  it('keeps values byte-exact, latin1 and all', () => {
    const fields: HeaderField[] = [{ name: 'x-bin', value: '\u0000\u00ff\u0080é', sensitive: false }];
    assert.deepEqual(new HpackDecoder(4096, 1 << 20).decode(encodeHeaderBlock(fields)), fields);
  });

  const rejects: [string, string, RegExp][] = [
    ['index 0', '80', /index 0/],
    ['an index past both tables', 'be', /beyond the tables/],
    ['a truncated integer', '1f', /truncated integer/],
    ['an integer of many continuation octets', '1fffffffffffffff7f', /too large/],
    ['a string longer than its block', '040c 2f73', /longer than its block/],
    ['Huffman padding of more than 7 bits', '0481 ff82 ff', /padding/],
    ['Huffman padding that is not ones', '0481 0082', /padding/],
    ['the EOS symbol inside a string', '0484 ffff ffff', /EOS/],
    ['a table size above the advertised one', '3fe2 1f', /above 4096/],
    ['a table size update after a field', '82 20', /after a header field/],
  ];
  for (const [what, block, message] of rejects) {
    it(`rejects ${what}`, () => {
      assert.throws(() => new HpackDecoder(4096, 1 << 20).decode(hex(block)), (err: Error) => err instanceof HpackError && message.test(err.message));
    });
  }

  it('bounds the decoded header list, however small the block', () => {
    const decoder = new HpackDecoder(4096, 64 * 1024);
    const big = 'v'.repeat(3000);
    decoder.decode(encodeHeaderBlockWithIndexing('x-big', big));
    // Each one-octet reference to the 3 KB entry decodes to 3 KB: 30 of them pass the 64 KiB bound.
    assert.throws(() => decoder.decode(Buffer.alloc(30, 0xbe)), /header list larger than 65536/);
  });

  it('accepts size updates at the start of a block and evicts to fit', () => {
    const decoder = new HpackDecoder(4096, 1 << 20);
    decoder.decode(encodeHeaderBlockWithIndexing('a', 'b'));
    assert.equal(decoder.dynamicTable().bytes, 34);
    assert.deepEqual(decoder.decode(hex('20 3f e1 1f 82')), plain([[':method', 'GET']]));
    assert.deepEqual(decoder.dynamicTable(), { entries: [], bytes: 0 });
  });
});

/** One "literal with incremental indexing, new name" field (section 6.2.1), without Huffman. */
function encodeHeaderBlockWithIndexing(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), encodeString(name, false), encodeString(value, false)]);
}
