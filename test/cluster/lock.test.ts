import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { clientTlsOptions, overEachTransport } from '../support/transport-mode.js';
import { startCluster, type Cluster, type ServerKind } from '../support/cluster.js';
import { runJs } from '../support/etcdts.js';
import { killAll, removeTempDirs, start, tempDir, waitFor, type Spawned } from '../support/procs.js';
import { requireRealEtcd } from '../support/real-etcd.js';

/**
 * `etcdts lock` as shell scripts use it, on a 3-member cluster: many
 * processes contending for one lock, each appending to a shared file under
 * the lock with its fencing token, and a holder whose member is killed.
 * The file is the witness: exclusion and order are checked on it, never on
 * timings (the waits below only bound how long the test may take).
 *
 * ETCDTS_CLUSTER_SERVER=etcd also runs the scenarios against a real etcd
 * 3.4.23 cluster (our CLI against etcd); the default is etcdts only.
 */
const kinds: ServerKind[] = process.env.ETCDTS_CLUSTER_SERVER === 'etcd' ? ['etcd'] : process.env.ETCDTS_CLUSTER_SERVER === 'both' ? ['etcdts', 'etcd'] : ['etcdts'];

/** `etcdts lock <args>` in the background, with its own stdout and stderr. */
function lock(args: string[]): Spawned & { stderr(): string } {
  const proc = start(process.execPath, [runJs, 'lock', ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  let err = '';
  proc.child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return Object.assign(proc, { stderr: () => err });
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => l !== '') : [];
}

for (const kind of kinds) {
  overEachTransport(`lock on a 3-member ${kind} cluster`, function () {
    this.timeout(300000);
    let cluster: Cluster;
    let dir: string;

    before(async function () {
      if (kind === 'etcd') requireRealEtcd();
      cluster = await startCluster({ size: 3, kind });
      dir = tempDir('lock-cluster-');
      const client = await Client.connect({ endpoints: cluster.endpoints(), dialTimeoutMs: 10000, ...clientTlsOptions() });
      // The cluster is ready once a write commits.
      await waitFor('a working quorum', () => client.kv.put('ready', 'yes', { timeoutMs: 2000 }).then(() => true), 60000, 200);
      client.close();
    });

    after(async () => {
      await killAll();
      removeTempDirs();
    });

    it('many shell processes take turns: never two holders, everyone runs, exit codes pass through', async () => {
      const file = join(dir, 'turns');
      const endpoints = cluster.endpoints();
      const runs = Array.from({ length: 8 }, (_, i) => {
        // Spread the contenders over the members, each with all of them for failover.
        const mine = [...endpoints.slice(i % 3), ...endpoints.slice(0, i % 3)].join(',');
        const section = `echo "start $ETCD_LOCK_REV ${i}" >> ${file}; sleep 0.05; echo "end $ETCD_LOCK_REV ${i}" >> ${file}; exit ${i % 4}`;
        return lock(['jobs', '--endpoints', mine, '--', 'sh', '-c', section]);
      });
      const codes = await Promise.all(runs.map((r) => r.exited));
      assert.deepEqual(codes, runs.map((_, i) => i % 4), runs.map((r) => r.stderr()).join(''));
      const log = lines(file);
      assert.equal(log.length, 16, log.join('\n'));
      const tokens: bigint[] = [];
      for (let i = 0; i < log.length; i += 2) {
        const [what, token, who] = log[i]!.split(' ');
        assert.equal(what, 'start');
        assert.equal(log[i + 1], `end ${token} ${who}`, `two holders at once:\n${log.join('\n')}`);
        tokens.push(BigInt(token!));
      }
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `fencing tokens increase: ${tokens.join(' ')}`);
      const turns = log.filter((l) => l.startsWith('start')).map((l) => Number(l.split(' ')[2])).sort((a, b) => a - b);
      assert.deepEqual(turns, [0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('the holder\'s member dies: its command is told it lost the lock, and the waiter proceeds only after the lease expired', async () => {
      const file = join(dir, 'lost');
      const [holderMember, ...others] = cluster.members.filter((m) => m.proc !== undefined);
      const holderScript = `echo "A $ETCD_LOCK_REV $ETCD_LOCK_KEY" >> ${file}; trap 'echo A-terminated >> ${file}; exit 0' TERM; while :; do sleep 0.1; done`;
      const holder = lock(['lost', '--ttl', '3', '--endpoints', holderMember!.clientUrl, '--', 'sh', '-c', holderScript]);
      await waitFor('the holder runs its command', () => lines(file).length === 1, 60000);
      const [, holderToken, holderKey] = lines(file)[0]!.split(' ');
      const otherEndpoints = others.map((m) => m.clientUrl);
      const waiter = lock(['lost', '--endpoints', otherEndpoints.join(','), '--', 'sh', '-c', `echo "B $ETCD_LOCK_REV" >> ${file}`]);
      const client = await Client.connect({ endpoints: otherEndpoints, dialTimeoutMs: 10000, ...clientTlsOptions() });
      try {
        await waitFor('the waiter queued', async () => (await client.kv.get('lost/', { prefix: true, countOnly: true })).count === 2n, 60000);
        await cluster.kill(holderMember!.name);

        assert.equal(await holder.exited, 125, holder.stderr());
        assert.match(holder.stderr(), /^Error: lock lost: the session's lease [0-9a-f]{16} could not be renewed within its TTL \(3s\): the cluster did not answer; sent SIGTERM to the command\n$/);
        assert.equal(await waiter.exited, 0, waiter.stderr());
        const log = lines(file);
        assert.ok(log.includes('A-terminated'), `the holder's command was signalled:\n${log.join('\n')}`);
        const waiterToken = BigInt(log.find((l) => l.startsWith('B '))!.split(' ')[1]!);
        assert.ok(waiterToken > BigInt(holderToken!));

        // The holder never released the lock: its key went with its lease, and only then did the waiter get it.
        const history = client.watch(holderKey!, { startRevision: BigInt(holderToken!) });
        let deletedAt = 0n;
        for await (const response of history) {
          const deleted = response.events.find((e) => e.type === 1);
          if (deleted !== undefined) {
            deletedAt = deleted.kv!.modRevision;
            break;
          }
        }
        assert.ok(deletedAt > 0n && waiterToken >= deletedAt, `the waiter (token ${waiterToken}) got the lock once the holder's key was deleted at ${deletedAt}`);
        const leaseHex = holderKey!.split('/')[1]!;
        assert.equal((await client.lease.timeToLive(BigInt(`0x${leaseHex}`))).TTL, -1n, 'the holder\'s lease expired');
      } finally {
        client.close();
        await cluster.restart(holderMember!.name);
      }
    });

    it('a holder that can reach another member keeps its lock when its member dies', async () => {
      const release = join(dir, 'release');
      const file = join(dir, 'kept');
      const script = `echo "A $ETCD_LOCK_REV" >> ${file}; while [ ! -e ${release} ]; do sleep 0.1; done; echo "A done" >> ${file}`;
      const first = cluster.members[0]!;
      const endpoints = [first.clientUrl, ...cluster.members.slice(1).map((m) => m.clientUrl)];
      const holder = lock(['kept', '--ttl', '6', '--endpoints', endpoints.join(','), '--', 'sh', '-c', script]);
      await waitFor('the holder runs its command', () => lines(file).length === 1, 60000);
      await cluster.kill(first.name);
      const killedAt = Date.now();
      const client = await Client.connect({ endpoints: endpoints.slice(1), dialTimeoutMs: 10000, ...clientTlsOptions() });
      try {
        // Past the TTL with the member down, the lock must still be the holder's.
        const key = (await client.kv.get('kept/', { prefix: true })).kvs[0]!;
        const lease = key.lease;
        await waitFor('two TTLs pass', async () => {
          const ttl = await client.lease.timeToLive(lease);
          assert.ok(ttl.TTL > 0n, 'the holder\'s lease is kept alive through the other members');
          return Date.now() - killedAt > 12000;
        }, 60000, 500);
        writeFileSync(release, '');
        assert.equal(await holder.exited, 0, holder.stderr());
        assert.deepEqual(lines(file).slice(1), ['A done']);
      } finally {
        client.close();
        await cluster.restart(first.name);
      }
    });
  });
}
