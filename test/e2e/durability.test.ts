import assert from 'node:assert/strict';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, kill9, removeTempDirs, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';

interface Acked {
  key: string;
  value: string;
  revision: bigint;
}

/**
 * Many concurrent writers; the member is killed with SIGKILL mid-stream; after
 * a restart every write that was acknowledged must be there, at the revision
 * its acknowledgement named.
 */
describe('durability: kill -9 under concurrent writes loses no acknowledged write', function () {
  this.timeout(120000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('keeps every acknowledged write across three kill -9 cycles', async () => {
    const member = await startEtcdts();
    const acked: Acked[] = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      const clients = Array.from({ length: 4 }, () => new RawKv(member.endpoint, 3000));
      let stop = false;
      const writers = Array.from({ length: 32 }, async (_, w) => {
        for (let seq = 0; !stop; seq++) {
          const key = `c${cycle}/w${w}/${seq}`;
          const value = `${key}@${Date.now()}`;
          try {
            const resp = await clients[w % clients.length]!.put({ key, value: Buffer.from(value) });
            acked.push({ key, value, revision: resp.header!.revision });
          } catch {
            return; // The member is gone: outcome unknown, not acknowledged.
          }
        }
      });
      // Kill mid-load: once this cycle has had some writes acknowledged, a different number each cycle.
      const target = acked.length + 60 + cycle * 30;
      await waitFor(`cycle ${cycle} to get writes acknowledged`, () => acked.length >= target, 30000, 5);
      await kill9(member.proc);
      stop = true;
      await Promise.all(writers);
      for (const c of clients) c.close();
      await member.restart();
    }
    assert.ok(acked.length > 100, `too few writes acknowledged (${acked.length}) for the test to mean anything`);
    const revisions = new Set(acked.map((a) => a.revision));
    assert.equal(revisions.size, acked.length, 'two acknowledged puts share a revision');
    const kv = new RawKv(member.endpoint);
    const all = await kv.range({ key: 'c', rangeEnd: 'd' });
    const stored = new Map(all.kvs.map((kv) => [kv.key.toString(), kv]));
    for (const a of acked) {
      const kvNow = stored.get(a.key);
      assert.ok(kvNow !== undefined, `acknowledged write ${a.key} (revision ${a.revision}) was lost`);
      assert.equal(kvNow.value.toString(), a.value);
      assert.equal(kvNow.modRevision, a.revision, `${a.key} is at revision ${kvNow.modRevision}, acknowledged at ${a.revision}`);
    }
    const maxAcked = acked.reduce((m, a) => (a.revision > m ? a.revision : m), 0n);
    assert.ok(all.header!.revision >= maxAcked, 'the store revision went back below an acknowledged write');
    kv.close();
    await member.stop();
  });
});
