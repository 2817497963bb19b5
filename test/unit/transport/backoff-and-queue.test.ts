import assert from 'node:assert/strict';
import { Message, MessageType } from '../../../src/proto/gen/etcdtspb/raft.js';
import { Backoff } from '../../../src/server/transport/backoff.js';
import { MessageQueue } from '../../../src/server/transport/message-queue.js';
import { SnapshotChunk } from '../../../src/proto/gen/etcdtspb/peer.js';
import { decodeSnapshotChunk, estimateMessageBytes } from '../../../src/server/transport/wire.js';

describe('reconnection backoff', () => {
  const table: { name: string; random: number; waits: number[] }[] = [
    { name: 'no jitter (random 0.999…) doubles from 50 ms and stops at 2 s', random: 0.9999, waits: [50, 100, 200, 400, 800, 1600, 2000, 2000] },
    { name: 'full jitter (random 0) halves every wait', random: 0, waits: [25, 50, 100, 200, 400, 800, 1000, 1000] },
  ];
  for (const { name, random, waits } of table) {
    it(name, () => {
      const b = new Backoff(50, 2000, () => random);
      assert.deepEqual(waits.map(() => b.next()), waits);
    });
  }

  it('starts over after a success, and waits longest after a refusal', () => {
    const b = new Backoff(50, 2000, () => 0.9999);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 50);
    assert.equal(b.longest(), 2000);
  });
});

function app(index: number, dataBytes = 0): Message {
  return Message.fromPartial({ type: MessageType.MsgApp, to: 2n, index: BigInt(index), entries: dataBytes > 0 ? [{ data: Buffer.alloc(dataBytes) }] : [] });
}

describe('bounded message queue', () => {
  it('keeps the oldest messages and refuses the newest when full', () => {
    const q = new MessageQueue(3, 1 << 20);
    const accepted = [1, 2, 3, 4, 5].map((i) => q.maybePush(app(i)));
    assert.deepEqual(accepted, [true, true, true, false, false]);
    assert.deepEqual(q.takeBatch(1 << 20).map((m) => m.index), [1n, 2n, 3n]);
    assert.equal(q.length, 0);
    assert.equal(q.bytes, 0);
  });

  it('bounds queued bytes but always takes one message, however large', () => {
    const q = new MessageQueue(100, 10_000);
    assert.equal(q.maybePush(app(1, 50_000)), true, 'an empty queue takes an oversized message');
    assert.equal(q.maybePush(app(2, 10)), false);
    assert.deepEqual(q.takeBatch(1000).map((m) => m.index), [1n]);
  });

  it('cuts batches at the byte cap, keeping order', () => {
    const q = new MessageQueue(100, 1 << 20);
    for (let i = 1; i <= 10; i++) q.maybePush(app(i, 1000));
    const per = estimateMessageBytes(app(0, 1000));
    const sizes: number[] = [];
    const order: bigint[] = [];
    while (q.length > 0) {
      const batch = q.takeBatch(per * 4);
      sizes.push(batch.length);
      order.push(...batch.map((m) => m.index));
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual(order, [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
  });

  it('stays correct across many push/take cycles (compaction)', () => {
    const q = new MessageQueue(100_000, 1 << 30);
    let next = 1;
    let expect = 1;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) assert.ok(q.maybePush(app(next++)));
      for (const m of q.takeBatch(2000 * estimateMessageBytes(app(0)))) assert.equal(m.index, BigInt(expect++));
    }
    while (q.length > 0) for (const m of q.takeBatch(1 << 30)) assert.equal(m.index, BigInt(expect++));
    assert.equal(expect, next);
  });

  it('estimates a message no smaller than its encoding', () => {
    for (const m of [app(1), app(2, 1), app(3, 100_000), Message.fromPartial({ type: MessageType.MsgHeartbeat, to: 2n ** 64n - 1n, from: 2n ** 63n, term: 2n ** 60n, commit: 2n ** 62n, context: Buffer.alloc(8) })]) {
      assert.ok(estimateMessageBytes(m) >= Message.encode(m).finish().length);
    }
  });
});

describe('snapshot chunk decoding', () => {
  const cases: { name: string; chunk: SnapshotChunk }[] = [
    { name: 'a data-only chunk', chunk: { header: undefined, message: undefined, totalBytes: 0n, data: Buffer.from('hello world') } },
    { name: 'a large data-only chunk', chunk: { header: undefined, message: undefined, totalBytes: 0n, data: Buffer.alloc(300_000, 9) } },
    { name: 'the first chunk', chunk: { header: { clusterId: 1n, from: 2n, to: 3n }, message: Message.fromPartial({ type: MessageType.MsgSnap, to: 3n }), totalBytes: 5n, data: Buffer.alloc(0) } },
    { name: 'an empty chunk', chunk: { header: undefined, message: undefined, totalBytes: 0n, data: Buffer.alloc(0) } },
    { name: 'data then total bytes', chunk: { header: undefined, message: undefined, totalBytes: 7n, data: Buffer.from('xy') } },
  ];
  for (const { name, chunk } of cases) {
    it(`reads ${name} like the generated decoder`, () => {
      const bytes = Buffer.from(SnapshotChunk.encode(chunk).finish());
      assert.deepEqual(decodeSnapshotChunk(bytes), SnapshotChunk.decode(bytes));
    });
  }
});
