import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs, tempDir, waitFor } from '../support/procs.js';
import { requireRealEtcd } from '../support/real-etcd.js';
import { runEtcdctl, runOurs, type CliRun } from '../compat/cli-harness.js';

/**
 * `cluster up` as the acceptance asks: three real members started
 * in the background, driven with the real etcdctl through the printed
 * endpoints; killing the leader with `cluster kill` gets a new leader, the
 * old one comes back with `cluster start` and catches up, `cluster down`
 * leaves no process behind, and `cluster up` on the folder brings the data
 * back. Every pid a test saw is checked gone (and killed by pid if not).
 */
interface Layout {
  members: Array<{ name: string; clientPort: number }>;
}

describe('cluster up / kill / start / down', function () {
  this.timeout(180000);
  const seenPids = new Set<number>();
  const folders: string[] = [];

  before(function () {
    requireRealEtcd();
  });

  after(async () => {
    for (const dir of folders) await runOurs(['cluster', 'down', '--data-dir', dir]).catch(() => undefined);
    for (const pid of seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    removeTempDirs();
  });

  function pidsOf(dir: string, layout: Layout): number[] {
    const pids = layout.members.map((m) => join(dir, m.name, 'member.pid')).filter(existsSync).map((f) => Number.parseInt(readFileSync(f, 'utf8'), 10));
    for (const pid of pids) seenPids.add(pid);
    return pids;
  }

  const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));

  /** The printed `export NAME=value ...` lines as an environment. */
  function exportsOf(run: CliRun): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of run.stdout.trim().split('\n')) {
      assert.match(line, /^export /);
      for (const assignment of line.slice('export '.length).split(' ')) {
        const eq = assignment.indexOf('=');
        env[assignment.slice(0, eq)] = assignment.slice(eq + 1).replace(/^'|'$/g, '');
      }
    }
    return env;
  }

  /** Which member leads, by the real etcdctl's endpoint status over the given endpoints. */
  async function leaderOf(endpoints: string[], env: Record<string, string>): Promise<string | undefined> {
    // etcdctl refuses ETCDCTL_ENDPOINTS and --endpoints together.
    const { ETCDCTL_ENDPOINTS: _shadowed, ...rest } = env;
    const r = await runEtcdctl(['endpoint', 'status', '-w', 'json', '--endpoints', endpoints.join(',')], { env: rest });
    if (r.code !== 0) return undefined;
    const statuses = JSON.parse(r.stdout) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
    return statuses.find((s) => s.Status.leader !== 0 && String(s.Status.leader) === String(s.Status.header.member_id))?.Endpoint;
  }

  it('three members: etcdctl works through the printed endpoints, the leader is killed, replaced, restarted, and down leaves nothing', async () => {
    const dir = join(tempDir('cluster-up-'), 'demo');
    folders.push(dir);
    const up = await runOurs(['cluster', 'up', '--members', '3', '--data-dir', dir]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /^NAME +CLIENT URL +PEER URL +PID +STATUS +LEADER\n/);
    assert.equal(up.stderr.split('\n').filter((l) => /^m\d /.test(l)).length, 3);
    assert.equal(up.stderr.split('\n').filter((l) => / \*$/.test(l)).length, 1, 'one leader marked');
    const env = exportsOf(up);
    const layout = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as Layout;
    const endpoints = env.ETCDCTL_ENDPOINTS!.split(',');
    assert.deepEqual(endpoints, layout.members.map((m) => `http://127.0.0.1:${m.clientPort}`));
    const pids = pidsOf(dir, layout);
    assert.equal(pids.length, 3);
    assert.ok(pids.every(alive), 'the members outlive `cluster up`');

    assert.equal((await runEtcdctl(['put', 'greeting', 'hello'], { env })).stdout, 'OK\n');
    const oldLeaderUrl = await waitFor('a leader', () => leaderOf(endpoints, env), 20000, 200);
    const oldLeader = layout.members.find((m) => oldLeaderUrl.endsWith(`:${m.clientPort}`))!.name;

    const kill = await runOurs(['cluster', 'kill', oldLeader, '--data-dir', dir]);
    assert.equal(kill.code, 0, kill.stderr);
    assert.match(kill.stdout, new RegExp(`^Killed ${oldLeader} \\(pid \\d+\\) with SIGKILL\\n$`));
    const rest = endpoints.filter((e) => e !== oldLeaderUrl);
    const newLeaderUrl = await waitFor('a new leader among the other two', () => leaderOf(rest, env), 30000, 200);
    assert.notEqual(newLeaderUrl, oldLeaderUrl);
    assert.equal((await runEtcdctl(['put', 'greeting', 'while one was down'], { env: { ...env, ETCDCTL_ENDPOINTS: rest.join(',') } })).code, 0);
    const status = await runOurs(['cluster', 'status', '--data-dir', dir]);
    assert.match(status.stdout, new RegExp(`^${oldLeader} .* - +stopped\\s*$`, 'm'));

    const start = await runOurs(['cluster', 'start', oldLeader, '--data-dir', dir]);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, new RegExp(`^${oldLeader} .* \\d+ +running`, 'm'));
    const caughtUp = await waitFor('the restarted member to catch up', async () => {
      const r = await runEtcdctl(['get', 'greeting', '--print-value-only', '--consistency', 's', '--endpoints', oldLeaderUrl]);
      return r.stdout === 'while one was down\n' ? r : undefined;
    }, 30000, 200);
    assert.equal(caughtUp.code, 0);

    const allPids = pidsOf(dir, layout);
    const down = await runOurs(['cluster', 'down', '--data-dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, 'm1: stopped\nm2: stopped\nm3: stopped\n');
    for (const pid of [...pids, ...allPids]) assert.equal(alive(pid), false, `pid ${pid} is gone`);

    // Up again on the same folder: the same members and ports, with the data.
    const again = await runOurs(['cluster', 'up', '--data-dir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(exportsOf(again), env);
    pidsOf(dir, layout);
    assert.equal((await runEtcdctl(['get', 'greeting', '--print-value-only'], { env })).stdout, 'while one was down\n');
    assert.equal((await runOurs(['cluster', 'down', '--data-dir', dir])).code, 0);
    for (const pid of seenPids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
  });

  it('--tls: a CA and certificates for the cluster, and the printed lines make etcdctl use them', async () => {
    const dir = join(tempDir('cluster-tls-'), 'secure');
    folders.push(dir);
    const up = await runOurs(['cluster', 'up', '--members', '1', '--tls', '--data-dir', dir]);
    assert.equal(up.code, 0, up.stderr);
    const env = exportsOf(up);
    assert.match(env.ETCDCTL_ENDPOINTS!, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual([env.ETCDCTL_CACERT, env.ETCDCTL_CERT, env.ETCDCTL_KEY], ['ca.crt', 'client.crt', 'client.key'].map((f) => join(dir, 'tls', f)));
    pidsOf(dir, JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as Layout);
    assert.equal((await runEtcdctl(['put', 'secure', 'yes'], { env })).stdout, 'OK\n');
    assert.equal((await runOurs(['get', 'secure', '--print-value-only'], { env })).stdout, 'yes\n');
    const plain = await runEtcdctl(['get', 'secure', '--endpoints', env.ETCDCTL_ENDPOINTS!, '--dial-timeout', '1s', '--command-timeout', '2s']);
    assert.notEqual(plain.code, 0, 'no client certificate, no access');
    assert.equal((await runOurs(['cluster', 'down', '--data-dir', dir])).stdout, 'm1: stopped\n');
  });

  it('refuses what it cannot do with one line: no cluster, an unknown member, a member running already', async () => {
    const empty = tempDir('no-cluster-');
    const none = await runOurs(['cluster', 'status', '--data-dir', empty]);
    assert.deepEqual({ code: none.code, stderr: none.stderr }, { code: 1, stderr: `Error: no cluster in ${empty} (no cluster.json): start one with \`etcdts cluster up --data-dir ${empty}\`\n` });
    const dir = join(tempDir('cluster-one-'), 'one');
    folders.push(dir);
    assert.equal((await runOurs(['cluster', 'up', '--members', '1', '--data-dir', dir])).code, 0);
    pidsOf(dir, JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as Layout);
    const unknown = await runOurs(['cluster', 'kill', 'm9', '--data-dir', dir]);
    assert.deepEqual({ code: unknown.code, stderr: unknown.stderr }, { code: 128, stderr: `Error: no member "m9" in ${dir} (members: m1)\n` });
    const twice = await runOurs(['cluster', 'start', 'm1', '--data-dir', dir]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^Error: member m1 is running already \(pid \d+\)\n$/);
    const bad = await runOurs(['cluster', 'up', '--members', '0', '--data-dir', join(dir, 'other')]);
    assert.deepEqual({ code: bad.code, stderr: bad.stderr }, { code: 128, stderr: 'Error: --members must be between 1 and 9, not 0\n' });
    assert.equal((await runOurs(['cluster', 'down', '--data-dir', dir])).code, 0);
  });
});
