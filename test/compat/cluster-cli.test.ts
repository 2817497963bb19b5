import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { serverKindsFromEnv, startHealthyCluster, waitHealthy, waitReconfigurable, type HealthyCluster } from '../support/admin-cluster.js';
import type { Cluster } from '../support/cluster.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';
import { requireRealEtcd } from '../support/real-etcd.js';
import { normalise, normaliseIds, runEtcdctl, runOurs, type CliRun } from './cli-harness.js';

/**
 * Membership, endpoint, move-leader, alarm and defrag commands: etcdctl
 * 3.4.23 and the etcdts CLI run the same command against the same 3-member
 * cluster (the real etcd, and etcdts; ETCDTS_CLUSTER_SERVER=etcd|etcdts
 * picks one) and must print the same bytes with the same exit code, once
 * what legitimately differs between two runs is normalised: which member
 * answered (header IDs), timings, and the random ID of a member added by
 * each tool. Where etcdts goes beyond etcdctl (names for member IDs, alarms
 * in health, defrag order) the tests say so.
 */
const hexId = (id: bigint): string => id.toString(16);

/** Replaces every spelling of a member ID (hex, %16x, decimal) by a placeholder. */
function hideId(text: string, id: bigint, placeholder = '<new>'): string {
  return text.split(hexId(id).padStart(16, ' ')).join(placeholder).split(hexId(id)).join(placeholder).split(id.toString()).join(placeholder);
}

/** The flat objects (no nested braces) of a JSON array text, sorted, joined again. */
function sortedObjects(arrayInner: string): string {
  return (arrayInner.match(/\{[^{}]*\}/g) ?? []).sort().join(',');
}

/** JSON arrays of members in a different order (a new member's ID is random): sort the elements. */
function sortMembers(text: string): string {
  return text.replace(/"members":\[((?:\{[^{}]*\},?)*)\]/g, (_, inner: string) => `"members":[${sortedObjects(inner)}]`);
}

/** ETCD_INITIAL_CLUSTER lists members in ID order: sort its entries. */
function sortInitialCluster(text: string): string {
  return text.replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/, (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`);
}

/** Health output: durations differ run to run, and etcdctl prints endpoints in the order they answered. */
function normaliseHealth(run: CliRun): CliRun {
  const took = (s: string): string => s.replace(/took = \S+/g, 'took = <took>').replace(/"took":"[^"]*"/g, '"took":"<took>"');
  const sortLines = (s: string): string => s.split('\n').filter((l) => l !== '').sort().map((l) => `${l}\n`).join('');
  const sortJson = (s: string): string => (s.startsWith('[') ? `[${sortedObjects(s)}]\n` : s);
  return { code: run.code, stdout: sortJson(took(run.stdout)), stderr: sortLines(took(run.stderr)) };
}

function memberIdOf(output: string): bigint {
  const match = /Member +([0-9a-f]+) (added|removed|updated|promoted)/.exec(output);
  assert.ok(match !== null, `no member ID in ${output}`);
  return BigInt(`0x${match[1]}`);
}

for (const kind of serverKindsFromEnv()) {
  describe(`cluster administration: etcdctl and the etcdts CLI against a 3-member ${kind} cluster`, function () {
    this.timeout(120000);
    let healthy: HealthyCluster;
    let cluster: Cluster;
    /** The three members' client URLs (cluster.endpoints() leaves out killed members). */
    let endpoints: string[];
    let flags: string[];

    before(async function () {
      requireRealEtcd();
      healthy = await startHealthyCluster(kind, 3);
      cluster = healthy.cluster;
      endpoints = cluster.endpoints();
      flags = ['--endpoints', endpoints.join(',')];
    });

    after(async () => {
      await killAll();
      removeTempDirs();
    });

    const both = async (args: string[], options: { endpoints?: string[] } = {}): Promise<[CliRun, CliRun]> => {
      const withEndpoints = [...args, '--endpoints', (options.endpoints ?? endpoints).join(',')];
      const theirs = normalise(await runEtcdctl(withEndpoints));
      const ours = normalise(await runOurs(withEndpoints));
      return [theirs, ours];
    };

    describe('read-only and failing commands print what etcdctl prints', () => {
      const same: string[][] = [
        ['member', 'list'],
        ['member', 'list', '-w', 'json'],
        ['member', 'list', '-w', 'fields'],
        ['endpoint', 'status'],
        ['endpoint', 'status', '-w', 'json'],
        ['endpoint', 'status', '-w', 'fields'],
        ['endpoint', 'status', '--cluster'],
        ['endpoint', 'status', '--cluster', '-w', 'json'],
        ['endpoint', 'hashkv'],
        ['endpoint', 'hashkv', '-w', 'json'],
        ['endpoint', 'hashkv', '--cluster', '-w', 'fields'],
        ['endpoint', 'hashkv', '--rev', '1'],
        ['alarm', 'list'],
        ['alarm', 'list', '-w', 'json'],
        ['member', 'list', '-w', 'xml'],
        ['endpoint', 'status', '-w', 'protobuf'],
        ['member', 'add'],
        ['member', 'add', 'x', 'http://127.0.0.1:1'],
        ['member', 'add', 'x'],
        ['member', 'remove'],
        ['member', 'remove', 'zz'],
        ['member', 'remove', '1234'],
        ['member', 'update', '1234'],
        ['member', 'update', 'zz', '--peer-urls', 'http://127.0.0.1:1'],
        ['member', 'update', '1234', '--peer-urls', 'http://127.0.0.1:1'],
        ['member', 'promote', '1234'],
        ['move-leader'],
        ['move-leader', 'zz'],
        ['move-leader', '1234'],
        ['alarm', 'list', 'x'],
        ['alarm', 'disarm', 'x'],
        // Last: a defragmentation changes the database sizes the status lines show.
        ['defrag'],
      ];
      for (const args of same) {
        it(args.join(' '), async () => {
          const [theirs, ours] = await both(args);
          assert.deepEqual(ours, theirs);
        });
      }

      it('endpoint health (json and simple; timings and etcdctl\'s answer order aside)', async () => {
        for (const args of [['endpoint', 'health'], ['endpoint', 'health', '-w', 'json'], ['endpoint', 'health', '--cluster']]) {
          const [theirs, ours] = await both(args);
          assert.deepEqual(normaliseHealth(ours), normaliseHealth(theirs), args.join(' '));
          assert.equal(ours.code, 0);
        }
      });

      it('an unreachable endpoint: one failure line each, exit 1', async () => {
        await settled(endpoints);
        const withDead = [endpoints[0]!, '127.0.0.1:1'];
        for (const args of [['endpoint', 'status'], ['endpoint', 'hashkv'], ['defrag']]) {
          const [theirs, ours] = await both([...args, '--command-timeout', '1s'], { endpoints: withDead });
          assert.deepEqual(ours, theirs, args.join(' '));
          assert.equal(ours.code, 1);
        }
        const [theirs, ours] = await both(['endpoint', 'health', '--command-timeout', '1s'], { endpoints: withDead });
        assert.deepEqual(normaliseHealth(ours), normaliseHealth(theirs));
        assert.match(ours.stderr, /127\.0\.0\.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n/);
      });

      it('move-leader without the leader among the endpoints', async () => {
        const follower = await followerEndpoint(endpoints);
        const [theirs, ours] = await both(['move-leader', '1234'], { endpoints: [follower] });
        assert.deepEqual(ours, theirs);
        assert.deepEqual(ours, { code: 128, stdout: '', stderr: `Error: no leader endpoint given at [${follower}]\n` });
      });
    });

    describe('membership changes', () => {
      before(async () => {
        await waitReconfigurable(healthy);
      });

      it('member add --learner and member remove: same lines, the new member\'s ID and URL aside', async () => {
        // Each tool adds its own peer URL: etcd derives a new member's ID from its URLs and the time in
        // seconds, and refuses to add again, within the same second, the ID of a member just removed.
        const runs: Array<{ add: CliRun; remove: CliRun }> = [];
        for (const tool of [runEtcdctl, runOurs]) {
          const peerUrl = `http://127.0.0.1:${await freePort()}`;
          const add = normalise(await tool(['member', 'add', 'newbie', `--peer-urls=${peerUrl}`, '--learner', ...flags]));
          assert.equal(add.code, 0, `${tool.name}: ${add.stderr}`);
          const id = memberIdOf(add.stdout);
          const remove = normalise(await tool(['member', 'remove', hexId(id), ...flags]));
          const hide = (text: string): string => hideId(text, id).split(peerUrl).join('<url>');
          runs.push({ add: { ...add, stdout: sortInitialCluster(hide(add.stdout)) }, remove: { ...remove, stdout: hide(remove.stdout) } });
        }
        assert.deepEqual(runs[1], runs[0]);
        assert.match(runs[1]!.add.stdout, /^Member <new> added to cluster [0-9a-f ]{16}\n\nETCD_NAME="newbie"\nETCD_INITIAL_CLUSTER=".*newbie=<url>.*"\nETCD_INITIAL_ADVERTISE_PEER_URLS="<url>"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/);
      });

      it('member add, update and remove with -w json', async () => {
        const runs: string[][] = [];
        for (const tool of [runEtcdctl, runOurs]) {
          const [url1, url2] = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
          const add = await tool(['member', 'add', 'j', `--peer-urls=${url1}`, '--learner', '-w', 'json', ...flags]);
          assert.equal(add.code, 0, `${tool.name}: ${add.stderr}`);
          const id = BigInt(/"member":\{"ID":(\d+)/.exec(add.stdout)![1]!);
          const update = await tool(['member', 'update', hexId(id), `--peer-urls=${url2}`, '-w', 'json', ...flags]);
          const remove = await tool(['member', 'remove', hexId(id), '-w', 'json', ...flags]);
          const hide = (text: string): string => hideId(text, id).split(url1).join('<url1>').split(url2).join('<url2>');
          runs.push([add, update, remove].map((r) => `${r.code}|${sortMembers(normaliseIds(hide(r.stdout)))}`));
        }
        assert.deepEqual(runs[1], runs[0]);
      });

      it('a peer URL already in use is refused the same way', async () => {
        const [theirs, ours] = await both(['member', 'add', 'dup', `--peer-urls=${cluster.members[0]!.peerUrl}`]);
        assert.deepEqual(ours, theirs);
        assert.equal(ours.stderr, 'Error: etcdserver: Peer URLs already exists\n');
      });

      it('a learner started with the printed settings catches up, is promoted and removed by name (beyond etcdctl)', async () => {
        const peerPort = await freePort();
        const peerUrl = `http://127.0.0.1:${peerPort}`;
        const add = await runOurs(['member', 'add', 'learner1', `--peer-urls=${peerUrl}`, '--learner', ...flags]);
        assert.equal(add.code, 0, add.stderr);
        const settings = Object.fromEntries([...add.stdout.matchAll(/^(ETCD_[A-Z_]+)="(.*)"$/gm)].map((m) => [m[1]!, m[2]!]));
        const learner = await cluster.join(settings.ETCD_NAME!, settings.ETCD_INITIAL_ADVERTISE_PEER_URLS!, settings.ETCD_INITIAL_CLUSTER!);
        assert.equal(settings.ETCD_INITIAL_CLUSTER_STATE, 'existing');
        // The server refuses to promote a learner that has not caught up yet: retry, as every tool must.
        const promote = await waitFor('the learner to be promoted', async () => {
          const r = await runOurs(['member', 'promote', 'learner1', ...flags]);
          if (r.code !== 0 && !r.stderr.includes('in sync with leader')) throw new Error(r.stderr);
          return r.code === 0 ? r : undefined;
        }, 60000, 500);
        const id = memberIdOf(promote.stdout);
        assert.match(promote.stdout, new RegExp(`^Member ${hexId(id).padStart(16, ' ')} promoted in cluster [0-9a-f ]{16}\\n$`));
        const list = await runOurs(['member', 'list', ...flags]);
        assert.match(list.stdout, new RegExp(`^${hexId(id)}, started, learner1, ${peerUrl}, ${learner.clientUrl}, false$`, 'm'));
        const remove = await runOurs(['member', 'remove', 'learner1', ...flags]);
        assert.equal(remove.code, 0, remove.stderr);
        assert.match(remove.stdout, new RegExp(`^Member ${hexId(id).padStart(16, ' ')} removed from cluster`));
        await cluster.kill('learner1');
        await waitHealthy(endpoints);
      });
    });

    describe('leadership', () => {
      it('move-leader hands leadership to the given member, both tools', async () => {
        for (const tool of [runEtcdctl, runOurs]) {
          const { leader, followers } = await leadership(endpoints);
          const target = followers[0]!;
          const r = await tool(['move-leader', hexId(target), ...flags]);
          assert.deepEqual({ ...r, stderr: normalise(r).stderr }, { code: 0, stdout: `Leadership transferred from ${hexId(leader)} to ${hexId(target)}\n`, stderr: '' });
          assert.equal((await leadership(endpoints)).leader, target);
        }
      });

      it('defrag --cluster: etcdctl\'s lines, the leader\'s last (beyond etcdctl)', async () => {
        const [theirs, ours] = await both(['defrag', '--cluster']);
        const sorted = (r: CliRun): string[] => r.stdout.split('\n').filter((l) => l !== '').sort();
        assert.deepEqual({ code: ours.code, lines: sorted(ours) }, { code: theirs.code, lines: sorted(theirs) });
        const { leader } = await leadership(endpoints);
        const leaderUrl = endpoints[(await memberIds(endpoints)).indexOf(leader)]!;
        assert.equal(ours.stdout.trim().split('\n').pop(), `Finished defragmenting etcd member[${leaderUrl}]`);
      });
    });

    describe('alarms', () => {
      let client: Client;
      const raiseNospace = async (): Promise<void> => {
        const [memberId] = await memberIds(endpoints);
        await client.maintenance.alarm({ action: AlarmRequest_AlarmAction.ACTIVATE, memberID: memberId!, alarm: AlarmType.NOSPACE });
      };

      before(async () => {
        client = await Client.connect({ endpoints });
      });

      after(() => client?.close());

      it('list, status and disarm print what etcdctl prints', async () => {
        await raiseNospace();
        await settled(endpoints);
        for (const args of [['alarm', 'list'], ['alarm', 'list', '-w', 'json'], ['endpoint', 'status'], ['endpoint', 'status', '-w', 'json']]) {
          const [theirs, ours] = await both(args);
          assert.deepEqual(ours, theirs, args.join(' '));
        }
        const theirs = normalise(await runEtcdctl(['alarm', 'disarm', ...flags]));
        await raiseNospace();
        const ours = normalise(await runOurs(['alarm', 'disarm', ...flags]));
        assert.deepEqual(ours, theirs);
        assert.match(ours.stdout, /^memberID:\d+ alarm:NOSPACE \n$/);
        assert.deepEqual(normalise(await runOurs(['alarm', 'list', ...flags])), { code: 0, stdout: '', stderr: '' });
      });

      it('endpoint health reports an active NOSPACE alarm as unhealthy (etcdctl 3.4 says healthy)', async () => {
        await raiseNospace();
        try {
          const theirs = await runEtcdctl(['endpoint', 'health', ...flags]);
          const ours = await runOurs(['endpoint', 'health', ...flags]);
          assert.equal(theirs.code, 0);
          assert.equal(ours.code, 1);
          for (const endpoint of endpoints) {
            assert.ok(ours.stderr.includes(`${endpoint} is unhealthy: failed to commit proposal: Active Alarm(s): NOSPACE \n`), ours.stderr);
          }
          assert.match(ours.stderr, /Error: unhealthy cluster\n$/);
        } finally {
          await runOurs(['alarm', 'disarm', ...flags]);
        }
      });
    });

    describe('with a member down (runs last)', () => {
      before(async () => {
        await cluster.kill('m3');
      });

      it('health and status fail for it, exit 1, as etcdctl', async () => {
        await settled(endpoints.slice(0, 2));
        const [theirs, ours] = await both(['endpoint', 'health', '--command-timeout', '2s']);
        assert.deepEqual(normaliseHealth(ours), normaliseHealth(theirs));
        assert.equal(ours.code, 1);
        const [theirStatus, ourStatus] = await both(['endpoint', 'status', '--command-timeout', '2s']);
        assert.deepEqual(ourStatus, theirStatus);
        assert.match(ourStatus.stderr, new RegExp(`^Failed to get the status of endpoint ${endpoints[2]} \\(context deadline exceeded\\)\\n$`));
      });
    });
  });
}

async function memberIds(endpoints: string[]): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (const endpoint of endpoints) {
    const r = await runEtcdctl(['endpoint', 'status', '-w', 'json', '--endpoints', endpoint]);
    ids.push(BigInt(/"member_id":(\d+)/.exec(r.stdout)![1]!));
  }
  return ids;
}

/** The leader's ID and the followers' IDs, from the members' own status. */
async function leadership(endpoints: string[]): Promise<{ leader: bigint; followers: bigint[] }> {
  return waitFor('one leader', async () => {
    const r = await runEtcdctl(['endpoint', 'status', '-w', 'json', '--endpoints', endpoints.join(',')]);
    const leaders = new Set([...r.stdout.matchAll(/"leader":(\d+)/g)].map((m) => BigInt(m[1]!)));
    if (leaders.size !== 1) return undefined;
    const [leader] = [...leaders];
    const ids = [...r.stdout.matchAll(/"member_id":(\d+)/g)].map((m) => BigInt(m[1]!));
    return { leader: leader!, followers: ids.filter((id) => id !== leader) };
  }, 20000, 200);
}

async function followerEndpoint(endpoints: string[]): Promise<string> {
  const { followers } = await leadership(endpoints);
  return endpoints[(await memberIds(endpoints)).indexOf(followers[0]!)]!;
}

/**
 * Waits until the members' status stops changing: a member may still be
 * committing the last write to its backend (etcdts batches commits), which
 * changes the database size between two otherwise identical runs.
 */
async function settled(endpoints: string[]): Promise<void> {
  let last = '';
  await waitFor('the members to settle', async () => {
    const now = (await runEtcdctl(['endpoint', 'status', '-w', 'json', '--endpoints', endpoints.join(',')])).stdout;
    const same = now === last;
    last = now;
    return same;
  }, 10000, 300);
}
