import assert from 'node:assert/strict';
import { Event_EventType, type Event } from '../../../src/proto/gen/mvccpb/kv.js';
import { WatchResponse } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { fragmentResponse } from '../../../src/server/api/watch-service.js';
import { parseGoDurationMs } from '../../../src/server/etcdserver/compactor.js';

function put(key: string, valueBytes: number, rev: bigint): Event {
  return {
    type: Event_EventType.PUT,
    kv: { key: Buffer.from(key), value: Buffer.alloc(valueBytes, 0x61), createRevision: rev, modRevision: rev, version: 1n, lease: 0n },
    prevKv: undefined,
  };
}

function response(events: Event[]): WatchResponse {
  return WatchResponse.fromPartial({ header: { clusterId: 1n, memberId: 2n, revision: 9n, raftTerm: 3n }, watchId: 4n, events });
}

const size = (r: WatchResponse) => WatchResponse.encode(r).finish().length;

describe('watch response fragmentation (etcd sendFragments)', () => {
  it('sends a response below the limit whole', () => {
    const r = response([put('a', 10, 5n), put('b', 10, 5n)]);
    assert.deepEqual(fragmentResponse(r, size(r) + 1), [r]);
  });

  it('sends a single event whole however large', () => {
    const r = response([put('a', 5000, 5n)]);
    assert.deepEqual(fragmentResponse(r, 100), [r]);
  });

  it('splits a large response into fragments under the limit, all but the last flagged, events in order', () => {
    const events = Array.from({ length: 50 }, (_, i) => put(`key-${i}`, 100 + i * 7, 5n));
    const r = response(events);
    const max = 1000;
    const parts = fragmentResponse(r, max);
    assert.ok(parts.length > 5);
    assert.deepEqual(parts.flatMap((p) => p.events), events);
    assert.deepEqual(parts.map((p) => p.fragment), [...parts.slice(1).map(() => true), false]);
    for (const p of parts) {
      assert.ok(size(p) < max || p.events.length === 1, `a fragment of ${size(p)} bytes`);
      assert.deepEqual([p.watchId, p.header], [r.watchId, r.header]);
    }
    // Each fragment is as full as allowed: the next event would have reached the limit.
    for (let i = 0; i + 1 < parts.length; i++) {
      const fuller = { ...parts[i]!, events: [...parts[i]!.events, parts[i + 1]!.events[0]!] };
      assert.ok(size(fuller) >= max);
    }
  });
});

describe('Go durations for --experimental-watch-progress-notify-interval', () => {
  it('parses etcd-style durations and refuses the rest', () => {
    const cases: Array<[string, number | undefined]> = [
      ['10m', 600_000], ['250ms', 250], ['1m30s', 90_000], ['1.5s', 1500], ['2h', 7_200_000], ['100', undefined], ['', undefined], ['5x', undefined],
    ];
    for (const [text, ms] of cases) assert.equal(parseGoDurationMs(text), ms, text);
  });
});
