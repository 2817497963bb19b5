import assert from 'node:assert/strict';
import { encodeHeaderBlock, encodeInteger, encodeString } from '../../../src/server/api/hpack.js';
import {
  E, F, RawClients, T, describeSections, frame, grpcMessage, requestFields, startServer, type RawClient, type Section, type TestServer,
} from './raw-h2.js';
import { testImplementation, testService } from './test-service.js';

/**
 * RFC 7541 (HPACK) on the wire, section by section: header blocks crafted
 * octet by octet, sent as requests. A block that does not decode is a
 * connection error of type COMPRESSION_ERROR (RFC 9113 §4.3); one that
 * decodes keeps the decoder's dynamic table in step with the encoder's,
 * which later blocks prove by referring to it.
 */

/** The request fields of an Echo call, without any dynamic-table entry: static indexes and plain literals. */
const echoFields = encodeHeaderBlock(requestFields('/t.Test/Echo'));
const indexed = (index: number) => encodeInteger(index, 7, 0x80);
/** §6.2.1 literal with incremental indexing, new name. */
const withIndexing = (name: string, value: string) => Buffer.concat([Buffer.from([0x40]), encodeString(name, false), encodeString(value, false)]);
/** §6.2.2 literal without indexing, new name. */
const withoutIndexing = (name: string, value: string) => Buffer.concat([Buffer.from([0x00]), encodeString(name, false), encodeString(value, false)]);
/** §6.2.3 literal never indexed, new name. */
const neverIndexed = (name: string, value: string) => Buffer.concat([Buffer.from([0x10]), encodeString(name, false), encodeString(value, false)]);
const sizeUpdate = (size: number) => encodeInteger(size, 5, 0x20);

/** An Echo call whose header block is `parts` (a size update first, if any) followed by the request fields. */
function call(id: number, ...parts: Buffer[]): Buffer[] {
  const updates = parts.filter((p) => (p[0] & 0xe0) === 0x20);
  const others = parts.filter((p) => (p[0] & 0xe0) !== 0x20);
  const block = Buffer.concat([...updates, echoFields, ...others]);
  return [frame(T.headers, F.endHeaders, id, block), frame(T.data, F.endStream, id, grpcMessage(Buffer.from(`call ${id}`)))];
}
/** HEADERS whose whole block is `block`, as sent. */
const raw = (block: Buffer) => [frame(T.headers, F.endHeaders, 1, block)];

type Expect = 'compression error' | { served: number[] };
const sections: Section<Expect>[] = [
  ['RFC 7541 §2.3.3 Index Address Space', [
    ['the last static index (61) is a field', () => call(1, indexed(61)), { served: [1] }],
    ['an index past the static table with an empty dynamic table', () => call(1, indexed(62)), 'compression error'],
    ['an index past the dynamic table', () => [...call(1, withIndexing('x-a', '1')), ...call(3, indexed(63))], 'compression error'],
  ]],
  ['RFC 7541 §4.1 Calculating Table Size', [
    // Two entries of 3 + 2013 + 32 = 2048 octets fill the 4096-octet table exactly: both stay.
    ['entries count their octets plus 32: two of 2048 fill 4096 exactly and both stay', () => [
      ...call(1, withIndexing('x-a', 'a'.repeat(2013)), withIndexing('x-b', 'b'.repeat(2013))), ...call(3, indexed(62), indexed(63)),
    ], { served: [1, 3] }],
  ]],
  ['RFC 7541 §4.2 Maximum Table Size', [
    ['a size update to the SETTINGS_HEADER_TABLE_SIZE we allow is accepted', () => call(1, sizeUpdate(4096)), { served: [1] }],
    ['a size update above it', () => call(1, sizeUpdate(4097)), 'compression error'],
    ['two size updates (the smallest, then the final size) are accepted', () => call(1, sizeUpdate(0), sizeUpdate(4096)), { served: [1] }],
    ['a third size update in one block', () => call(1, sizeUpdate(0), sizeUpdate(100), sizeUpdate(4096)), 'compression error'],
  ]],
  ['RFC 7541 §4.4 Entry Eviction When Adding New Entries', [
    ['adding an entry evicts the oldest until it fits', () => [
      ...call(1, withIndexing('x-a', 'a'.repeat(2013)), withIndexing('x-b', 'b'.repeat(2013))),
      ...call(3, withIndexing('x-c', 'c')), ...call(5, indexed(62), indexed(63)),
    ], { served: [1, 3, 5] }],
    ['the evicted entry is gone', () => [
      ...call(1, withIndexing('x-a', 'a'.repeat(2013)), withIndexing('x-b', 'b'.repeat(2013))), ...call(3, withIndexing('x-c', 'c')), ...call(5, indexed(64)),
    ], 'compression error'],
    ['an entry larger than the table empties it and is not added', () => [...call(1, withIndexing('x-a', '1')), ...call(3, withIndexing('x-big', 'v'.repeat(4100))), ...call(5, indexed(62))], 'compression error'],
  ]],
  ['RFC 7541 §5.1 Integer Representation', [
    ['an integer continued past the prefix is decoded', () => call(1, withoutIndexing('x-long', 'v'.repeat(300))), { served: [1] }],
    ['an integer of more continuation octets than any value we take needs (the NaN of 0x80 runs)', () => raw(Buffer.from([0x3f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])), 'compression error'],
    ['an integer above 2^28', () => raw(encodeInteger(2 ** 28 + 1, 7, 0x80)), 'compression error'],
    ['an integer cut by the end of the block', () => raw(Buffer.from([0x82, 0xff])), 'compression error'],
  ]],
  ['RFC 7541 §5.2 String Literal Representation', [
    ['raw and Huffman-coded strings both decode', () => [
      frame(T.headers, F.endHeaders, 1, encodeHeaderBlock(requestFields('/t.Test/Echo', [['x-h', 'huffman text']]), { huffman: true })),
      frame(T.data, F.endStream, 1, grpcMessage(Buffer.from('call 1'))),
      frame(T.headers, F.endHeaders, 3, encodeHeaderBlock(requestFields('/t.Test/Echo', [['x-r', 'raw text']]), { huffman: false })),
      frame(T.data, F.endStream, 3, grpcMessage(Buffer.from('call 3'))),
    ], { served: [1, 3] }],
    ['a string longer than its block', () => raw(Buffer.concat([Buffer.from([0x00, 0x0c]), Buffer.from('short')])), 'compression error'],
    ['the EOS symbol inside a Huffman string', () => raw(Buffer.from([0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61])), 'compression error'],
    ['Huffman padding longer than 7 bits', () => raw(Buffer.from([0x00, 0x82, 0x1f, 0xff, 0x01, 0x61])), 'compression error'],
    ['Huffman padding that is not the most significant bits of EOS', () => raw(Buffer.from([0x00, 0x81, 0x00, 0x01, 0x61])), 'compression error'],
  ]],
  ['RFC 7541 §6.1 Indexed Header Field Representation', [
    ['index 0', () => raw(Buffer.from([0x80])), 'compression error'],
  ]],
  ['RFC 7541 §6.2.1 Literal Header Field with Incremental Indexing', [
    ['the field is added to the dynamic table: the next block may refer to it', () => [...call(1, withIndexing('x-a', '1')), ...call(3, indexed(62))], { served: [1, 3] }],
  ]],
  ['RFC 7541 §6.2.2 Literal Header Field without Indexing', [
    ['the field is not added to the dynamic table', () => [...call(1, withoutIndexing('x-a', '1')), ...call(3, indexed(62))], 'compression error'],
  ]],
  ['RFC 7541 §6.2.3 Literal Header Field Never Indexed', [
    ['the field is not added to the dynamic table', () => [...call(1, neverIndexed('x-a', '1')), ...call(3, indexed(62))], 'compression error'],
  ]],
  ['RFC 7541 §6.3 Dynamic Table Size Update', [
    ['a size update after a header field', () => raw(Buffer.concat([indexed(2), sizeUpdate(0)])), 'compression error'],
    ['a size update to 0 evicts every entry', () => [...call(1, withIndexing('x-a', '1')), ...call(3, sizeUpdate(0), indexed(62))], 'compression error'],
    ['a size update in a later block applies from there on', () => [...call(1, withIndexing('x-a', '1')), ...call(3, sizeUpdate(0), sizeUpdate(4096)), ...call(5, withIndexing('x-b', '2'), indexed(62))], { served: [1, 3, 5] }],
  ]],
];

describe('grpc-server conformance: RFC 7541', function () {
  this.timeout(20000);
  let server: TestServer;
  const clients = new RawClients();

  before(async () => {
    server = await startServer([[testService, testImplementation().implementation]]);
  });
  afterEach(() => clients.closeAll());
  after(() => server.close());

  async function expectAnswer(client: RawClient, expect: Expect): Promise<void> {
    if (expect === 'compression error') {
      assert.equal(await client.goAwayCode(), E.compression);
      return;
    }
    for (const id of expect.served) assert.deepEqual((await client.status(id)).messages.map(String), [`call ${id}`]);
    assert(!client.frames.some((f) => f.type === T.goAway));
  }

  describeSections(sections, () => server.port, clients, expectAnswer);
});
