import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Event_EventType, KeyValue, type Event } from '../../../src/proto/gen/mvccpb/kv.js';
import { PutRequest, WatchResponse } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { encodeWatchResponse } from '../../../src/proto/fast/watch-response.js';
import { Entry, EntryType } from '../../../src/proto/gen/etcdtspb/raft.js';
import { InternalRaftRequest } from '../../../src/proto/gen/etcdtspb/internal.js';
import { encodeEntry, encodeInternalPut, encodeKeyValue } from '../../../src/proto/fast/codecs.js';

const int64 = fc.oneof(
  fc.constantFrom(0n, 1n, 127n, 128n, 16383n, 16384n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, -1n, -(2n ** 63n)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const uint64 = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 53n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const bytes = fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), fc.constant(Buffer.alloc(20000, 1)));
const same = (a: Uint8Array, b: Uint8Array) => assert.equal(Buffer.from(a).toString('hex'), Buffer.from(b).toString('hex'));

describe('hand-written protobuf encoders produce the generated encoders\' bytes', () => {
  it('KeyValue', () => {
    fc.assert(fc.property(bytes, int64, int64, int64, bytes, int64, (key, c, m, v, value, lease) => {
      const kv = { key, createRevision: c, modRevision: m, version: v, value, lease };
      same(encodeKeyValue(kv), KeyValue.encode(kv).finish());
    }), { numRuns: 2000 });
  });

  it('InternalRaftRequest of a put', () => {
    fc.assert(fc.property(uint64, bytes, bytes, int64, fc.boolean(), fc.boolean(), fc.boolean(), (id, key, value, lease, prevKv, ignoreValue, ignoreLease) => {
      const put: PutRequest = { key, value, lease, prevKv, ignoreValue, ignoreLease };
      const generated = InternalRaftRequest.encode({ header: { ID: id, username: '', authRevision: 0n, fromMember: false }, put }).finish();
      same(encodeInternalPut(id, put), generated);
      assert.deepEqual(InternalRaftRequest.decode(encodeInternalPut(id, put)).put, put);
    }), { numRuns: 2000 });
  });

  it('Entry', () => {
    fc.assert(fc.property(uint64, uint64, fc.constantFrom(EntryType.EntryNormal, EntryType.EntryConfChange), bytes, (term, index, type, data) => {
      const e = { term, index, type, data };
      same(encodeEntry(e), Entry.encode(e).finish());
    }), { numRuns: 2000 });
  });

  it('WatchResponse, with events and member ids shared between responses (their bytes are cached)', () => {
    const kv = fc.record({ key: bytes, createRevision: int64, modRevision: int64, version: int64, value: bytes, lease: int64 });
    const event: fc.Arbitrary<Event> = fc.record({
      type: fc.constantFrom(Event_EventType.PUT, Event_EventType.DELETE),
      kv: fc.option(kv, { nil: undefined }),
      prevKv: fc.option(kv, { nil: undefined }),
    });
    // One member's responses share its cluster and member ids (whose bytes are cached too).
    const header = (clusterId: bigint, memberId: bigint) =>
      fc.option(fc.record({ clusterId: fc.constant(clusterId), memberId: fc.constant(memberId), revision: int64, raftTerm: uint64 }), { nil: undefined });
    const response = (events: Event[], clusterId: bigint, memberId: bigint) => fc.record({
      header: header(clusterId, memberId), watchId: int64, created: fc.boolean(), canceled: fc.boolean(), compactRevision: int64,
      cancelReason: fc.oneof(fc.constant(''), fc.string(), fc.constant('etcdserver: mvcc: required revision has been compacted')),
      fragment: fc.boolean(), events: fc.constant(events),
    });
    const responses = fc.tuple(fc.array(event, { maxLength: 5 }), uint64, uint64)
      .chain(([events, clusterId, memberId]) => fc.array(response(events, clusterId, memberId), { minLength: 1, maxLength: 3 }));
    fc.assert(fc.property(responses, (rs) => {
      for (const r of rs) same(encodeWatchResponse(r), WatchResponse.encode(r).finish());
    }), { numRuns: 500 });
  });
});
