import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { Election } from '../../src/client/concurrency/election.js';
import { Session } from '../../src/client/concurrency/session.js';
import { clientTlsOptions, overEachTransport } from '../support/transport-mode.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';

/**
 * What the lock and election recipes stand on, when the member a client
 * talks to dies: a watch resumes on another member from the revision after
 * the last event it delivered (no gap, no duplicate), a session's keep-alive
 * moves over and the lease survives, and an election observer keeps
 * following. Run on a 3-member etcdts cluster.
 */
/**
 * A put that was in flight when the leader died can time out ("request timed
 * out", as in etcd: the proposal went to the dead leader). It is retried only
 * if it did not land, so that every value is written exactly once. Values are
 * unique and writes sequential, so reading the key back tells.
 */
async function putThroughFailover(client: Client, key: string, value: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.kv.put(key, value, { timeoutMs: 10000 });
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      const landed = await client.kv.get(key, { timeoutMs: 10000 }).then((r) => r.kvs[0]?.value.toString() === value, () => false);
      if (landed) return;
    }
  }
}

overEachTransport('watch, keep-alive and observe across a member\'s death (3-member etcdts cluster)', function () {
  this.timeout(300000);
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ size: 3, kind: 'etcdts' });
    const client = await Client.connect({ endpoints: cluster.endpoints(), dialTimeoutMs: 10000, ...clientTlsOptions() });
    await waitFor('a working quorum', () => client.kv.put('ready', 'yes', { timeoutMs: 2000 }).then(() => true), 60000, 200);
    client.close();
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('a watcher resumes on another member without a gap or a duplicate, and a session outlives the member', async () => {
    const [m1, m2, m3] = cluster.members;
    // The watching client prefers m1; the writer never uses it.
    const watching = await Client.connect({ endpoints: [m1!.clientUrl, m2!.clientUrl, m3!.clientUrl], dialTimeoutMs: 10000, ...clientTlsOptions() });
    const writer = await Client.connect({ endpoints: [m2!.clientUrl, m3!.clientUrl], dialTimeoutMs: 10000, ...clientTlsOptions() });
    try {
      const session = await Session.create(watching, { ttl: 5 });
      const from = (await writer.kv.get('resume/')).header!.revision + 1n;
      const watcher = watching.watch('resume/', { prefix: true, startRevision: from });
      const seen: Array<{ value: number; revision: bigint }> = [];
      const reading = (async () => {
        for await (const response of watcher) {
          for (const e of response.events) seen.push({ value: Number(e.kv!.value.toString()), revision: e.kv!.modRevision });
        }
      })();
      const total = 300;
      for (let i = 0; i < total; i++) {
        if (i === 100) {
          await waitFor('the watcher is live', () => seen.length > 50, 60000);
          await cluster.kill(m1!.name);
        }
        await putThroughFailover(writer, `resume/${i % 7}`, String(i));
      }
      await waitFor('every event delivered', () => seen.length >= total, 60000);
      watcher.cancel();
      await reading;
      assert.deepEqual(seen.map((s) => s.value), Array.from({ length: total }, (_, i) => i));
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision);
      assert.equal(session.lost, undefined, 'the session\'s keep-alive moved to a live member');
      assert.ok((await writer.lease.timeToLive(session.lease)).TTL > 0n);
      await session.close();
    } finally {
      watching.close();
      writer.close();
      await cluster.restart(m1!.name);
    }
  });

  it('an election observer keeps following the leadership after its member dies', async () => {
    const [m1, m2, m3] = cluster.members;
    const observing = await Client.connect({ endpoints: [m1!.clientUrl, m2!.clientUrl, m3!.clientUrl], dialTimeoutMs: 10000, ...clientTlsOptions() });
    const voting = await Client.connect({ endpoints: [m2!.clientUrl, m3!.clientUrl], dialTimeoutMs: 10000, ...clientTlsOptions() });
    try {
      const controller = new AbortController();
      const values: string[] = [];
      const observing$ = (async () => {
        for await (const o of new Election(observing, 'failover-vote').observe({ signal: controller.signal })) values.push(o.kv.value.toString());
      })().catch(() => undefined);
      const sessions = await Promise.all([1, 2, 3].map(() => Session.create(voting, { ttl: 10 })));
      const elections = sessions.map((s) => new Election(s, 'failover-vote'));
      await elections[0]!.campaign('a');
      await waitFor('observed a', () => values.length === 1, 60000);
      const b = elections[1]!.campaign('b');
      await cluster.kill(m1!.name);
      await elections[0]!.resign();
      await b;
      await elections[1]!.proclaim('b2');
      const c = elections[2]!.campaign('c');
      await elections[1]!.resign();
      await c;
      await waitFor('observed every leadership', () => values.length >= 4, 60000);
      controller.abort();
      await observing$;
      assert.deepEqual(values, ['a', 'b', 'b2', 'c']);
      await Promise.all(sessions.map((s) => s.close()));
    } finally {
      observing.close();
      voting.close();
      await cluster.restart(m1!.name);
    }
  });
});
