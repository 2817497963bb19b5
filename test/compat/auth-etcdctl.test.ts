import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startMember } from '../support/admin-cluster.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { freePort } from '../support/ports.js';
import { killAll, removeTempDirs, tempDir, waitFor } from '../support/procs.js';
import { requireRealEtcd, startRealEtcd, type RealEtcd } from '../support/real-etcd.js';
import { normalise, runEtcdctl, runOurs, type CliRun } from './cli-harness.js';

/**
 * The real etcdctl 3.4.23 drives auth on etcdts exactly as on etcd: the same
 * script, step by step, gives the same stdout, stderr and exit code on both
 * servers. Then, on etcdts: users, roles, permissions and the auth flag
 * survive a restart and a snapshot restore, and none of the passwords set
 * appears anywhere in the data dirs, the WAL, the snapshot or the logs.
 */
const passwords = ['root-Secret-1', 'alice-Secret-2', 'alice-Secret-3', 'bob-Secret-4'];

/** One etcdctl invocation: its arguments and what it reads on stdin. */
interface Step {
  args: string[];
  input?: string;
}

const root = ['--user', `root:${passwords[0]}`];
const script: Step[] = [
  { args: ['user', 'add', 'root', '--interactive=false'], input: `${passwords[0]}\n` },
  { args: ['role', 'add', 'root'] },
  { args: ['user', 'grant-role', 'root', 'root'] },
  { args: ['user', 'add', `alice:${passwords[1]}`] },
  { args: ['user', 'add', 'alice', '--new-user-password', 'again'] },
  { args: ['role', 'add', 'reader'] },
  { args: ['role', 'grant-permission', 'reader', 'read', '--prefix', 'app/'] },
  { args: ['role', 'grant-permission', 'reader', 'readwrite', 'k'] },
  { args: ['role', 'grant-permission', 'reader', 'write', 'r1', 'r5'] },
  { args: ['role', 'grant-permission', 'reader', 'read', '--from-key', 'z'] },
  { args: ['role', 'grant-permission', 'ghost', 'read', 'x'] },
  { args: ['user', 'grant-role', 'alice', 'reader'] },
  { args: ['user', 'grant-role', 'alice', 'ghost'] },
  { args: ['role', 'get', 'reader'] },
  { args: ['role', 'get', 'reader', '-w', 'json'] },
  { args: ['user', 'get', 'alice'] },
  { args: ['user', 'get', 'alice', '--detail'] },
  { args: ['user', 'list'] },
  { args: ['role', 'list'] },
  { args: ['put', 'app/x', 'v0'] },
  { args: ['auth', 'enable'] },
  { args: ['get', 'app/x'] },
  { args: [...root, 'put', 'app/x', 'v1'] },
  { args: [...root, 'put', 'zz', 'tail'] },
  { args: ['--user', `alice:${passwords[1]}`, 'get', 'app/x'] },
  { args: ['--user', `alice:${passwords[1]}`, 'put', 'app/x', 'v2'] },
  { args: ['--user', `alice:${passwords[1]}`, 'get', '--prefix', 'app/'] },
  { args: ['--user', `alice:${passwords[1]}`, 'get', '--from-key', 'z'] },
  { args: ['--user', `alice:${passwords[1]}`, 'get', '--from-key', 'y'] },
  { args: ['--user', `alice:${passwords[1]}`, 'put', 'r3', 'x'] },
  { args: ['--user', `alice:${passwords[1]}`, 'put', 'r6', 'x'] },
  { args: ['--user', 'alice:wrong', 'get', 'app/x'] },
  { args: ['--user', `alice:${passwords[1]}`, 'user', 'list'] },
  { args: ['--user', `alice:${passwords[1]}`, 'user', 'get', 'alice'] },
  { args: ['--user', `alice:${passwords[1]}`, 'role', 'get', 'reader'] },
  { args: [...root, 'user', 'passwd', 'alice', '--interactive=false'], input: `${passwords[2]}\n` },
  { args: ['--user', `alice:${passwords[1]}`, 'get', 'app/x'] },
  { args: ['--user', `alice:${passwords[2]}`, 'get', 'app/x'] },
  { args: [...root, 'role', 'revoke-permission', 'reader', 'app/', '--prefix'] },
  { args: [...root, 'role', 'revoke-permission', 'reader', 'app/', '--prefix'] },
  { args: ['--user', `alice:${passwords[2]}`, 'get', 'app/x'] },
  { args: [...root, 'user', 'add', 'bob', '--no-password'] },
  { args: [...root, 'user', 'add', `carol:${passwords[3]}`] },
  { args: ['--user', 'bob:', 'get', 'app/x'] },
  { args: [...root, 'user', 'revoke-role', 'alice', 'reader'] },
  { args: [...root, 'user', 'revoke-role', 'alice', 'reader'] },
  { args: [...root, 'user', 'revoke-role', 'root', 'root'] },
  { args: [...root, 'user', 'delete', 'root'] },
  { args: [...root, 'role', 'delete', 'root'] },
  { args: [...root, 'role', 'delete', 'reader'] },
  { args: [...root, 'user', 'delete', 'alice'] },
  { args: [...root, 'user', 'delete', 'alice'] },
  { args: [...root, 'user', 'list'] },
  { args: [...root, 'auth', 'disable'] },
  { args: ['get', 'app/x'] },
  { args: ['user', 'revoke-role', 'root', 'root'] },
  { args: ['auth', 'enable'] },
];

async function play(endpoint: string): Promise<CliRun[]> {
  const runs: CliRun[] = [];
  for (const step of script) runs.push(normalise(await runEtcdctl(['--endpoints', endpoint, ...step.args], { input: step.input })));
  return runs;
}

/** Every regular file under dir (the member's private unix socket is not one). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return filesUnder(path);
    return stat.isFile() ? [path] : [];
  });
}

describe('auth with the real etcdctl: etcdts answers as etcd 3.4.23 does', function () {
  this.timeout(180_000);
  let member: EtcdtsMember;
  let etcd: RealEtcd;
  let ours: CliRun[] = [];

  before(async function () {
    requireRealEtcd();
    // debug logs too: no password may reach them either.
    member = await startEtcdts({ extraArgs: ['--bcrypt-cost', '4', '--debug'] });
    etcd = await startRealEtcd(['--bcrypt-cost', '4']);
    ours = await play(member.endpoint);
  });

  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it(`every step of a ${script.length}-step script prints and exits the same on both`, async () => {
    const theirs = await play(etcd.endpoint);
    const differences = script.flatMap((step, i) => (JSON.stringify(ours[i]) === JSON.stringify(theirs[i]) ? [] : [`etcdctl ${step.args.join(' ')}\n  etcd:   ${JSON.stringify(theirs[i])}\n  etcdts: ${JSON.stringify(ours[i])}`]));
    assert.deepEqual(differences, []);
    // And the script did what it says (not, say, fail the same way on both).
    const at = (...args: string[]): CliRun => ours[script.findIndex((st) => JSON.stringify(st.args) === JSON.stringify(args))]!;
    assert.equal(at('role', 'get', 'reader').stdout, 'Role reader\nKV Read:\n\t[app/, app0) (prefix app/)\n\tk\n\t[z, <open ended>\nKV Write:\n\t[k, ...)\n'.replace('[k, ...)', 'k\n\t[r1, r5)'));
    assert.deepEqual(at('--user', `alice:${passwords[1]}`, 'get', 'app/x'), { code: 0, stdout: 'app/x\nv1\n', stderr: '' });
    assert.equal(at('--user', `alice:${passwords[1]}`, 'put', 'app/x', 'v2').stderr, 'Error: etcdserver: permission denied\n');
    assert.equal(at('--user', 'alice:wrong', 'get', 'app/x').stderr, 'Error: etcdserver: authentication failed, invalid user ID or password\n');
  });

  it('auth on, users, roles and permissions survive a restart', async () => {
    // The script left auth off and root without its role: give it back, and carol a role, then enable.
    for (const args of [['user', 'grant-role', 'root', 'root'], ['role', 'add', 'survivor'], ['role', 'grant-permission', 'survivor', 'read', '--prefix', 'app/'], ['user', 'grant-role', 'carol', 'survivor'], ['auth', 'enable']]) {
      const r = await runEtcdctl(['--endpoints', member.endpoint, ...args]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    await member.stop();
    await member.restart();
    const read = await waitFor('carol reads app/x after the restart', async () => {
      const r = await runEtcdctl(['--endpoints', member.endpoint, '--user', `carol:${passwords[3]}`, 'get', 'app/x', '--print-value-only']);
      return r.code === 0 ? r : undefined;
    }, 30_000, 200);
    assert.equal(read.stdout, 'v1\n');
    const denied = normalise(await runEtcdctl(['--endpoints', member.endpoint, '--user', `carol:${passwords[3]}`, 'put', 'app/x', 'no']));
    assert.deepEqual(denied, { code: 1, stdout: '', stderr: 'Error: etcdserver: permission denied\n' });
    const anonymous = normalise(await runEtcdctl(['--endpoints', member.endpoint, 'get', 'app/x']));
    assert.deepEqual(anonymous, { code: 1, stdout: '', stderr: 'Error: etcdserver: user name is empty\n' });
  });

  it('a snapshot restored into a new member keeps auth on, its users and their permissions', async () => {
    const saved = join(tempDir('auth-snap-'), 'auth.db');
    const save = await runEtcdctl(['--endpoints', member.endpoint, ...root, 'snapshot', 'save', saved]);
    assert.equal(save.code, 0, save.stderr);
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const dataDir = join(tempDir('auth-restored-'), 'r1.etcd');
    const restore = await runOurs(['snapshot', 'restore', saved, '--name', 'r1', '--data-dir', dataDir, '--initial-cluster', `r1=${peerUrl}`, '--initial-cluster-token', 'restored', '--initial-advertise-peer-urls', peerUrl]);
    assert.equal(restore.code, 0, restore.stderr);
    const restored = startMember('etcdts', { name: 'r1', peerUrl, clientPort: await freePort(), initialCluster: `r1=${peerUrl}`, state: 'new', token: 'restored', dataDir, extraArgs: ['--debug'] });
    const read = await waitFor('carol reads app/x on the restored member', async () => {
      const r = await runEtcdctl(['--endpoints', restored.clientUrl, '--user', `carol:${passwords[3]}`, 'get', 'app/x', '--print-value-only']);
      return r.code === 0 ? r : undefined;
    }, 30_000, 200);
    assert.equal(read.stdout, 'v1\n');
    assert.equal(normalise(await runEtcdctl(['--endpoints', restored.clientUrl, 'get', 'app/x'])).stderr, 'Error: etcdserver: user name is empty\n');
    const users = await runEtcdctl(['--endpoints', restored.clientUrl, ...root, 'user', 'list']);
    assert.deepEqual(users.stdout.split('\n').filter(Boolean), ['bob', 'carol', 'root']);
    await restored.stop();
    // The grep below reads everything this member wrote as well.
    snapshotPaths.push(saved, dataDir);
    logs.push(() => restored.proc!.output());
  });

  const snapshotPaths: string[] = [];
  const logs: Array<() => string> = [];

  it('no password set or changed appears in any data dir, WAL, snapshot or log', async () => {
    await member.stop();
    const files = [member.dataDir, ...snapshotPaths].flatMap((p) => (statSync(p).isDirectory() ? filesUnder(p) : [p]));
    assert.ok(files.some((f) => f.includes('wal')), 'the WAL was searched');
    const texts = [...files.map((f) => ({ where: f, bytes: readFileSync(f) })), { where: 'etcdts logs', bytes: Buffer.from(member.proc.output() + logs.map((l) => l()).join('')) }];
    const found = texts.flatMap(({ where, bytes }) => passwords.filter((pw) => bytes.includes(Buffer.from(pw))).map((pw) => `${pw} in ${where}`));
    assert.deepEqual(found, []);
    // The search finds what is there: the user names are in the same files.
    assert.ok(texts.some(({ bytes }) => bytes.includes(Buffer.from('carol'))));
  });
});
