import assert from 'node:assert/strict';
import { ClientBudgets } from '../../../src/server/api/grpc-server/client-budgets.js';
import { TokenBucket } from '../../../src/server/api/grpc-server/token-bucket.js';

/**
 * The budgets' arithmetic on a clock of our own: what the wire tests
 * cannot show in real time (grpc-go's 5 s and 2 h keepalive windows, the
 * token buckets refilling over seconds).
 */

const etcdPolicy = { minTimeMs: 5000, permitWithoutStream: false };
const s = 1000;
const h = 3600 * s;

describe('grpc-server: client budgets', () => {
  describe('keepalive enforcement (grpc-go handlePing, etcd --grpc-keepalive-min-time 5s)', () => {
    /** PINGs at these times (ms), a stream open or not, our DATA written before some of them; the answer to each. */
    const cases: [string, { at: number; streams?: boolean; wrote?: boolean }[], boolean[]][] = [
      ['every 5 s with a stream open: never a strike', [0, 5, 10, 15, 20].map((t) => ({ at: t * s, streams: true })), [true, true, true, true, true]],
      ['every 4999 ms with a stream open: the third strike is too many', [0, 4.999, 9.998, 14.997].map((t) => ({ at: t * s, streams: true })), [true, true, true, false]],
      ['strikes need not be in a row: 5 s pings between them do not wipe them', [0, 1, 6, 7, 12, 13].map((t) => ({ at: t * s, streams: true })), [true, true, true, true, true, false]],
      ['our HEADERS or DATA since the last PING wipe the strikes', [0, 1, 2, 3, 4, 5].map((t) => ({ at: t * s, streams: true, wrote: t % 2 === 1 })), [true, true, true, true, true, true]],
      ['no stream open: even every 5 s is a strike (2 h without streams)', [0, 5, 10, 15].map((t) => ({ at: t * s })), [true, true, true, false]],
      ['no stream open: every 2 h is fine', [0, 2, 4, 6, 8].map((t) => ({ at: t * h })), [true, true, true, true, true]],
    ];
    for (const [name, pings, answers] of cases) {
      it(name, () => {
        const budgets = new ClientBudgets(etcdPolicy, 0);
        assert.deepEqual(pings.map((p) => budgets.ping(p.at, p.streams ?? false, p.wrote ?? false)), answers);
      });
    }

    it('PermitWithoutStream: the minimum time applies with no stream open too', () => {
      const budgets = new ClientBudgets({ minTimeMs: 2000, permitWithoutStream: true }, 0);
      assert.deepEqual([0, 2, 4, 6, 8].map((t) => budgets.ping(t * s, false, false)), [true, true, true, true, true]);
      assert.deepEqual([8.5, 9, 9.5].map((t) => budgets.ping(t * s, false, false)), [true, true, false]);
    });
  });

  describe('token buckets (nghttp2 ratelim: 1000 at once, then 33 a second)', () => {
    it('1000 resets at once, then none until time refills them at 33 a second', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let i = 0; i < 1000; i++) assert(budgets.reset(0));
      assert.equal(budgets.reset(0), false);
      assert.equal(budgets.reset(29), false, 'less than one token after 29 ms');
      assert.equal(budgets.reset(31), true, 'one token after 1000/33 ms');
      const refilled = Array.from({ length: 40 }, () => budgets.reset(1031)).filter(Boolean).length;
      assert.equal(refilled, 33, '33 tokens a second');
    });

    it('a steady 33 resets a second never run out', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let t = 0; t < 600 * s; t += 1000 / 33) assert(budgets.reset(t));
    });

    it('requests earn glitch credit, up to the burst', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let i = 0; i < 1000; i++) assert(budgets.glitch(0));
      assert.equal(budgets.glitch(0), false);
      budgets.request();
      assert.deepEqual([1, 2, 3, 4, 5].map(() => budgets.glitch(0)), [true, true, true, true, false]);
      const bucket = new TokenBucket(10, 1, 0);
      bucket.give(100);
      assert.equal(bucket.available, 10);
    });
  });

  describe('counts', () => {
    it('refused streams: 100 in a row, and an accepted request starts the count over', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let i = 0; i < 100; i++) assert(budgets.refused());
      budgets.request();
      for (let i = 0; i < 100; i++) assert(budgets.refused());
      assert.equal(budgets.refused(), false);
    });

    it('ACKs owed: 1000 until the socket takes them', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let i = 0; i < 1000; i++) assert(budgets.ack());
      budgets.acksTaken();
      for (let i = 0; i < 1000; i++) assert(budgets.ack());
      assert.equal(budgets.ack(), false);
    });

    it('the first SETTINGS and the first GOAWAY are free, later ones are glitches', () => {
      const budgets = new ClientBudgets(etcdPolicy, 0);
      for (let i = 0; i < 999; i++) assert(budgets.glitch(0));
      assert(budgets.settings(0) && budgets.goAway(0));
      assert(budgets.settings(0), 'the last glitch token');
      assert.equal(budgets.goAway(0), false);
    });
  });
});
