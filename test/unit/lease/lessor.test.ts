import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { Lessor, type Clock } from '../../../src/server/lease/lessor.js';
import { LeaseExistsError, LeaseNotFoundError, LeaseTtlTooLargeError, NotPrimaryError } from '../../../src/server/lease/errors.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

class FakeClock implements Clock {
  now = 1_000_000;
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}

interface World {
  dir: string;
  clock: FakeClock;
  store: KVStore;
  lessor: Lessor;
}

function world(dir = tempDir('lessor-'), clock = new FakeClock()): World {
  const store = new KVStore(Backend.open(join(dir, 'db')));
  const lessor = new Lessor(store.backend, store, clock, 2n);
  store.setLeaseTracker(lessor);
  store.reattachLeases();
  return { dir, clock, store, lessor };
}

function putWithLease(store: KVStore, key: string, lease: bigint): void {
  const txn = store.write();
  txn.put(Buffer.from(key), Buffer.from('v'), lease);
  txn.end();
}

const liveKeys = (store: KVStore) => store.read().range({ start: '\u0000', end: null }).kvs.map((kv) => kv.key.toString());

describe('Lessor', () => {
  after(removeTempDirs);

  it('raises a TTL below the minimum and refuses bad grants', () => {
    const { lessor } = world();
    assert.equal(lessor.grant(1n, 1n).ttlSeconds, 2n);
    assert.equal(lessor.grant(2n, 60n).ttlSeconds, 60n);
    assert.throws(() => lessor.grant(1n, 10n), LeaseExistsError);
    assert.throws(() => lessor.grant(0n, 10n), LeaseNotFoundError);
    assert.throws(() => lessor.grant(3n, 9_000_000_001n), LeaseTtlTooLargeError);
  });

  it('deletes every attached key in one revision when revoked', () => {
    const { store, lessor } = world();
    lessor.grant(7n, 10n);
    putWithLease(store, 'a', 7n);
    putWithLease(store, 'b', 7n);
    putWithLease(store, 'c', 0n);
    const before = store.currentRev;
    lessor.revoke(7n);
    assert.equal(store.currentRev, before + 1n);
    assert.deepEqual(liveKeys(store), ['c']);
    assert.equal(lessor.lookup(7n), undefined);
    assert.throws(() => lessor.revoke(7n), LeaseNotFoundError);
  });

  it('moves a key to its new lease when it is written again', () => {
    const { store, lessor } = world();
    lessor.grant(1n, 10n);
    lessor.grant(2n, 10n);
    putWithLease(store, 'k', 1n);
    putWithLease(store, 'k', 2n);
    assert.deepEqual([...lessor.lookup(1n)!.keys], []);
    assert.deepEqual([...lessor.lookup(2n)!.keys], ['k']);
    lessor.revoke(1n);
    assert.deepEqual(liveKeys(store), ['k']);
  });

  it('only lets the primary expire leases, never before the TTL', () => {
    const { clock, lessor } = world();
    lessor.grant(1n, 5n);
    clock.advance(60_000);
    assert.deepEqual(lessor.expired(10), [], 'a follower never expires leases');
    lessor.promote(1000);
    clock.advance(5_999);
    assert.deepEqual(lessor.expired(10), [], 'TTL plus the election timeout has not passed');
    clock.advance(1);
    assert.deepEqual(lessor.expired(10), [1n]);
  });

  it('restarts the TTL on renew and stops counting after demotion', async () => {
    const { clock, lessor } = world();
    lessor.promote(0);
    lessor.grant(1n, 5n);
    clock.advance(4_000);
    assert.equal(await lessor.renew(1n), 5n);
    clock.advance(4_000);
    assert.deepEqual(lessor.expired(10), []);
    assert.equal(lessor.remainingSeconds(1n), 1n);
    lessor.demote();
    await assert.rejects(lessor.renew(1n), NotPrimaryError);
    clock.advance(100_000);
    assert.deepEqual(lessor.expired(10), []);
  });

  it('answers a keep-alive of an expired lease with not-found once it is revoked', async () => {
    const { clock, lessor } = world();
    lessor.promote(0);
    lessor.grant(1n, 2n);
    clock.advance(3_000);
    const renewal = lessor.renew(1n);
    lessor.revoke(1n);
    await assert.rejects(renewal, LeaseNotFoundError);
  });

  it('tells a keep-alive of an expired lease to retry when no revoke arrives (leadership may have moved)', async () => {
    const { clock, lessor } = world();
    lessor.promote(0);
    lessor.grant(1n, 2n);
    clock.advance(3_000);
    // The lease may still be alive under a new leader: "not found" would make the client give it up.
    await assert.rejects(lessor.renew(1n), NotPrimaryError);
    assert.ok(lessor.lookup(1n) !== undefined);
  });

  it('comes back after a restart with leases and their keys', async () => {
    const first = world();
    first.lessor.grant(9n, 30n);
    putWithLease(first.store, 'kept', 9n);
    await first.store.backend.close();
    const again = world(first.dir);
    assert.equal(again.lessor.lookup(9n)?.ttlSeconds, 30n);
    assert.deepEqual([...again.lessor.lookup(9n)!.keys], ['kept']);
    again.lessor.revoke(9n);
    assert.deepEqual(liveKeys(again.store), []);
  });

  it('spreads the expiry of many leases so revocations stay under the rate limit', () => {
    const { clock, lessor } = world();
    for (let i = 1; i <= 3000; i++) lessor.grant(BigInt(i), 10n);
    lessor.promote(1000);
    clock.advance(11_000);
    const firstSecond = lessor.expired(10_000).length;
    assert.ok(firstSecond <= 750, `${firstSecond} leases expire in the first second`);
    clock.advance(10_000);
    assert.equal(lessor.expired(10_000).length, 3000, 'every lease still expires eventually');
  });
});
