import assert from 'node:assert/strict';
import { leaderOf, startCluster, reservePeerUrl, type Cluster } from '../support/cluster.js';
import { runJs } from '../support/etcdts.js';
import { killAll, removeTempDirs, run, sleep, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';
import { overEachTransport } from '../support/transport-mode.js';

/**
 * etcdts's own CLI (it takes the TLS pass's ETCDCTL_* variables from the environment): these
 * tests are of etcdts alone; test/compat drives it with the real etcdctl.
 */
const etcdts = (args: string[]) => run(process.execPath, [runJs, ...args]);

interface Acked {
  key: string;
  value: string;
  revision: bigint;
}

/** Resolves once `count` more writes than now have been acknowledged: traffic went on meanwhile. */
function moreAcked(acked: Acked[], count: number, what: string): Promise<unknown> {
  const target = acked.length + count;
  return waitFor(what, () => acked.length >= target, 60000, 20);
}

/** Writes unique keys from several clients spread over the endpoints until stopped; records acknowledgements. */
function writeLoad(endpoints: string[], prefix: string, acked: Acked[]): { stop: () => Promise<void> } {
  let stopped = false;
  const clients = endpoints.map((e) => new RawKv(e, 3000));
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let seq = 0; !stopped; seq++) {
      const key = `${prefix}/w${w}/${seq}`;
      const value = `${key}@${seq}`;
      try {
        const resp = await clients[(w + seq) % clients.length]!.put({ key, value });
        acked.push({ key, value, revision: resp.header!.revision });
      } catch {
        // The member may be down or electing: back off a little before the next write.
        await sleep(50);
      }
    }
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(writers);
      for (const c of clients) c.close();
    },
  };
}


async function assertAllAcked(endpoint: string, acked: Acked[], prefix: string): Promise<void> {
  const kv = new RawKv(endpoint, 10000);
  const all = await kv.range({ key: `${prefix}/`, rangeEnd: `${prefix}0` });
  const stored = new Map(all.kvs.map((k) => [k.key.toString(), k]));
  for (const a of acked) {
    const got = stored.get(a.key);
    assert.ok(got !== undefined, `acknowledged write ${a.key} at revision ${a.revision} was lost`);
    assert.equal(got.value.toString(), a.value);
    assert.equal(got.modRevision, a.revision);
  }
  kv.close();
}

/** Waits until every live member reports the same HashKV at the same revision. */
async function assertConverged(cluster: Cluster): Promise<void> {
  await waitFor('members to converge', async () => {
    const live = cluster.members.filter((m) => m.proc !== undefined);
    const kvs = live.map((m) => new RawKv(m.clientUrl, 3000));
    try {
      const statuses = await Promise.all(kvs.map((k) => k.status()));
      const applied = statuses.map((s) => s.raftAppliedIndex);
      if (!applied.every((a) => a === applied[0])) return false;
      const rev = (await kvs[0]!.range({ key: 'x', serializable: true })).header!.revision;
      const values = await Promise.all(kvs.map((k) => k.hashKV(rev)));
      return values.every((v) => v === values[0]);
    } catch {
      return false;
    } finally {
      for (const k of kvs) k.close();
    }
  }, 60000, 250);
}

overEachTransport('Raft cluster: 3 members on loopback started with etcd\'s flags', function () {
  this.timeout(240000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('replicates writes: any member serves reads and forwards writes to the leader', async () => {
    const cluster = await startCluster({ size: 3 });
    const [a, b, c] = cluster.members.map((m) => new RawKv(m.clientUrl));
    await a!.put({ key: 'k', value: 'from-a' });
    assert.equal((await b!.range({ key: 'k' })).kvs[0]?.value.toString(), 'from-a');
    await c!.put({ key: 'k', value: 'from-c' });
    assert.equal((await a!.range({ key: 'k' })).kvs[0]?.value.toString(), 'from-c', 'a linearizable read sees a write acknowledged by another member');
    const list = await etcdts(['--endpoints', cluster.endpoints().join(','), 'member', 'list']);
    assert.equal(list.stdout.trim().split('\n').length, 3, list.stdout);
    for (const kv of [a, b, c]) kv!.close();
    await cluster.stopAll();
  });

  it('elects a new leader when the leader is killed under write load, loses no acknowledged write, and the old leader catches up', async () => {
    const cluster = await startCluster({ size: 3 });
    const acked: Acked[] = [];
    const load = writeLoad(cluster.endpoints(), 'failover', acked);
    await moreAcked(acked, 20, 'writes before the kill');
    const leader = await leaderOf(cluster);
    await cluster.kill(leader);
    // leaderOf asks the live members only: it waits until one of them has won an election.
    const newLeader = await leaderOf(cluster);
    assert.notEqual(newLeader, leader);
    await moreAcked(acked, 20, 'writes under the new leader');
    await cluster.restart(leader);
    await moreAcked(acked, 20, 'writes after the old leader came back');
    await load.stop();
    assert.ok(acked.length > 50, `only ${acked.length} writes acknowledged`);
    for (const m of cluster.members) await assertAllAcked(m.clientUrl, acked, 'failover');
    await assertConverged(cluster);
    await cluster.stopAll();
  });

  it('adds a learner, promotes it once caught up, and removes a member while writes continue', async () => {
    const cluster = await startCluster({ size: 3 });
    const acked: Acked[] = [];
    const load = writeLoad(cluster.endpoints(), 'reconfig', acked);
    const eps = cluster.endpoints().join(',');
    const peerUrl = await reservePeerUrl();
    const added = await etcdts(['--endpoints', eps, 'member', 'add', 'm4', '--peer-urls', peerUrl, '--learner']);
    assert.equal(added.code, 0, added.stderr);
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)?.[1];
    assert.ok(initialCluster, added.stdout);
    assert.match(added.stdout, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    const m4 = await cluster.join('m4', peerUrl, initialCluster);
    const leaderName = await leaderOf(cluster);
    // etcdctl prints the id with Go's %16x: an id under 16 hex digits is padded with spaces.
    const id = /Member +([0-9a-f]+) added/.exec(added.stdout)![1]!;
    // Sent to a follower on purpose: it must forward the promotion to the leader, as etcd does.
    const follower = cluster.members.find((m) => m.name !== 'm4' && m.proc !== undefined && m.name !== leaderName)!;
    await waitFor('the learner to be promoted', async () => (await etcdts(['--endpoints', follower.clientUrl, 'member', 'promote', id])).code === 0, 60000, 500);
    const list = await etcdts(['--endpoints', eps, 'member', 'list', '-w', 'json']);
    assert.doesNotMatch(list.stdout, /"isLearner":true/);
    // Remove one of the original members while writes continue (ids from the simple output: hex, exact).
    const victim = cluster.members[0]!;
    const simple = await etcdts(['--endpoints', eps, 'member', 'list']);
    const victimId = simple.stdout.split('\n').find((line) => line.split(', ')[2] === victim.name)?.split(', ')[0];
    assert.ok(victimId, simple.stdout);
    const removed = await etcdts(['--endpoints', cluster.members.slice(1).map((m) => m.clientUrl).join(','), 'member', 'remove', victimId]);
    assert.equal(removed.code, 0, removed.stderr);
    await waitFor('the removed member to stop itself', () => victim.proc?.child.exitCode !== null, 30000, 200);
    victim.proc = undefined;
    await moreAcked(acked, 20, 'writes after the removal');
    await load.stop();
    await assertAllAcked(m4.clientUrl, acked, 'reconfig');
    await assertConverged(cluster);
    await cluster.stopAll();
  });

  it('catches up a member that was down past a snapshot by sending it the snapshot', async () => {
    const cluster = await startCluster({ size: 3, logLevel: 'info', extraArgs: ['--snapshot-count', '100', '--experimental-snapshot-catchup-entries', '50'] });
    const follower = (await leaderOf(cluster)) === 'm3' ? 'm2' : 'm3';
    await cluster.kill(follower);
    const live = cluster.members.filter((m) => m.name !== follower).map((m) => new RawKv(m.clientUrl));
    await Promise.all(live.map(async (kv, c) => {
      for (let i = c; i < 800; i += live.length) await kv.put({ key: `snap/${i % 300}`, value: `v${i}` });
    }));
    await cluster.restart(follower);
    await assertConverged(cluster);
    const member = cluster.members.find((m) => m.name === follower)!;
    assert.match(member.proc!.output(), /"msg":"applied snapshot"/, 'the member caught up without a snapshot');
    const back = new RawKv(member.clientUrl);
    assert.equal((await back.range({ key: 'snap/', rangeEnd: 'snap0', serializable: true, countOnly: true })).count, 300n);
    for (const kv of [...live, back]) kv.close();
    await cluster.stopAll();
  });

  it('recovers a single member from a lost quorum with --force-new-cluster, keeping every committed write', async () => {
    const cluster = await startCluster({ size: 3 });
    const kv = new RawKv(cluster.members[0]!.clientUrl);
    const acked: Acked[] = [];
    for (let i = 0; i < 200; i++) {
      const resp = await kv.put({ key: `force/${i}`, value: `v${i}` });
      acked.push({ key: `force/${i}`, value: `v${i}`, revision: resp.header!.revision });
    }
    kv.close();
    // --force-new-cluster keeps what the chosen member has, so an operator picks an up-to-date one:
    // a write acknowledged by a quorum may not have reached every member yet.
    await waitFor('every member to hold the last write', async () => {
      for (const m of cluster.members) {
        const member = new RawKv(m.clientUrl, 3000);
        const got = await member.range({ key: 'force/199', serializable: true }).catch(() => undefined);
        member.close();
        if (got?.kvs.length !== 1) return false;
      }
      return true;
    }, 30000, 100);
    for (const m of cluster.members) await cluster.kill(m.name);
    const survivor = cluster.members[1]!;
    survivor.args.push('--force-new-cluster');
    await cluster.restart(survivor.name);
    await assertAllAcked(survivor.clientUrl, acked, 'force');
    const alone = new RawKv(survivor.clientUrl);
    const after = await alone.put({ key: 'force/after', value: 'alone' });
    assert.ok(after.header!.revision > acked[acked.length - 1]!.revision);
    const list = await etcdts(['--endpoints', survivor.clientUrl, 'member', 'list']);
    assert.equal(list.stdout.trim().split('\n').length, 1, list.stdout);
    alone.close();
    await cluster.stopAll();
  });

  it('answers endpoint status --cluster and endpoint health --cluster', async () => {
    const cluster = await startCluster({ size: 3 });
    const eps = cluster.endpoints()[0]!;
    const status = await etcdts(['--endpoints', eps, 'endpoint', 'status', '--cluster', '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const rows = JSON.parse(status.stdout) as Array<{ Status: { leader: number } }>;
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => r.Status.leader === rows[0]!.Status.leader && r.Status.leader !== 0));
    const health = await etcdts(['--endpoints', eps, 'endpoint', 'health', '--cluster']);
    assert.equal(health.code, 0, health.stderr);
    await cluster.stopAll();
  });
});
