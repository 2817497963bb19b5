import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { runJs, startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { killAll, removeTempDirs, run, tempDir } from '../support/procs.js';
import { TerminalSession, tmuxAvailable } from '../support/tmux.js';

/**
 * Confirmation prompts for destructive commands: on a pseudo-terminal
 * (tmux) the question appears on the screen and the answer decides; on a
 * pipe there is never a question, and the command does what etcdctl does
 * (deletes, removes, disables, defragments) or, for a restore over a used
 * data dir, refuses as etcdctl does unless --yes. Scripts never wait.
 */
describe('confirmation prompts', function () {
  this.timeout(90000);
  let server: EtcdtsMember;
  let client: Client;
  let terminal: TerminalSession | undefined;
  let snapshot: string;

  before(async () => {
    server = await startEtcdts();
    client = await Client.connect({ endpoints: [server.endpoint] });
    snapshot = join(tempDir('prompt-snap-'), 'backup.db');
    await client.kv.put('kept', 'x');
    assert.equal((await run(process.execPath, [runJs, 'snapshot', 'save', snapshot, '--endpoints', server.endpoint])).code, 0);
  });

  after(async () => {
    client?.close();
    await killAll();
    removeTempDirs();
  });

  afterEach(async () => {
    await terminal?.close();
    terminal = undefined;
  });

  const cli = (...args: string[]): string => [process.execPath, runJs, ...args].map((a) => (a === '' ? '""' : a)).join(' ');
  const ours = (args: string[]): ReturnType<typeof run> => run(process.execPath, [runJs, ...args], { timeoutMs: 20000 });
  const keyCount = async (): Promise<bigint> => (await client.kv.get('', { prefix: true, countOnly: true })).count;

  async function fill(): Promise<void> {
    for (const k of ['a', 'b', 'c']) await client.kv.put(k, k);
  }

  async function openTerminal(): Promise<TerminalSession> {
    assert.ok(tmuxAvailable(), 'tmux is needed (CI installs it)');
    terminal = await TerminalSession.open(tempDir('prompt-home-'));
    return terminal;
  }

  it('on a terminal, del --prefix "" asks first: "no" keeps every key, "yes" deletes them', async () => {
    await fill();
    const t = await openTerminal();
    await t.enter(cli('del', '--prefix', '', '--endpoints', server.endpoint));
    await t.waitForScreen('the question', /\? Delete every key in the cluster \(4 now\)\? \(y\/N\)/);
    await t.enter('n');
    await t.waitForScreen('the refusal', /Delete every key in the cluster \(4 now\)\? No\n[\s\S]*^Error: not confirmed: nothing was deleted$/m);
    assert.equal(await keyCount(), 4n);
    await t.enter(cli('del', '--from-key', '', '--endpoints', server.endpoint));
    // An answered question is redrawn with its answer, so "(y/N)" on the screen is the open one.
    await t.waitForScreen('the question again', /\? Delete every key in the cluster \(4 now\)\? \(y\/N\)/);
    await t.enter('y');
    await t.waitForScreen('the count deleted', /^4$/m);
    assert.equal(await keyCount(), 0n);
  });

  it('on a terminal, member remove, auth disable and defrag --cluster ask; "no" changes nothing', async () => {
    const t = await openTerminal();
    const { members } = await client.cluster.memberList();
    const id = members[0]!.ID.toString(16);
    await t.enter(cli('member', 'remove', id, '--endpoints', server.endpoint));
    await t.waitForScreen('the member question', new RegExp(`\\? Remove member ${id} from the cluster\\? \\(y/N\\)`));
    await t.enter('n');
    await t.waitForScreen('the refusal', /^Error: not confirmed: the member was not removed$/m);
    assert.equal((await client.cluster.memberList()).members.length, 1);
    await t.enter(cli('auth', 'disable', '--endpoints', server.endpoint));
    await t.waitForScreen('the auth question', /\? Disable authentication\? Every client may then read and write every key\. \(y\/N\)/);
    await t.enter('n');
    await t.waitForScreen('the refusal', /^Error: not confirmed: authentication stays enabled$/m);
    await t.enter(cli('defrag', '--cluster', '--endpoints', server.endpoint));
    await t.waitForScreen('the defrag question', /\? Defragment all 1 members \(http:\/\/127\.0\.0\.1:\d+\), one after another\?/);
    await t.enter('y');
    await t.waitForScreen('the defrag', /^Finished defragmenting etcd member\[http:\/\/127\.0\.0\.1:\d+\]$/m);
  });

  it('on a terminal, snapshot restore into a used data dir asks, and "yes" replaces it whole', async () => {
    const dataDir = join(tempDir('prompt-restore-'), 'used.etcd');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'old-file'), 'old');
    const t = await openTerminal();
    await t.enter(cli('snapshot', 'restore', snapshot, '--data-dir', dataDir));
    await t.waitForScreen('the question', /\? data-dir "[^"]+used\.etcd" is not empty: replace what is in it with the restored snapshot\? \(y\/N\)/);
    await t.enter('y');
    await t.waitForScreen('the restore', /^Restored .* into .*used\.etcd/m);
    assert.deepEqual(readdirSync(dataDir), ['member']);
    assert.deepEqual(readdirSync(join(dataDir, '..')), ['used.etcd'], 'nothing left beside it');
  });

  it('on a pipe nothing is asked: del and member remove go ahead as etcdctl, restore over a used dir is refused unless --yes', async () => {
    await fill();
    const before = await keyCount();
    const del = await ours(['del', '--prefix', '', '--endpoints', server.endpoint]);
    assert.deepEqual({ code: del.code, stdout: del.stdout, stderr: del.stderr }, { code: 0, stdout: `${before}\n`, stderr: '' });
    assert.equal(await keyCount(), 0n);
    const remove = await ours(['member', 'remove', '1234', '--endpoints', server.endpoint]);
    assert.equal(remove.code, 1);
    assert.match(remove.stderr, /^Error: etcdserver: member not found\n$/, 'asked the server, not the person');
    const dataDir = join(tempDir('pipe-restore-'), 'used.etcd');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'old-file'), 'old');
    const refused = await ours(['snapshot', 'restore', snapshot, '--data-dir', dataDir]);
    assert.deepEqual({ code: refused.code, stdout: refused.stdout, stderr: refused.stderr }, { code: 1, stdout: '', stderr: `Error: data-dir "${dataDir}" exists\n` });
    assert.deepEqual(readdirSync(dataDir), ['old-file']);
    const replaced = await ours(['snapshot', 'restore', snapshot, '--data-dir', dataDir, '--yes']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(readdirSync(dataDir), ['member']);
    assert.ok(existsSync(join(dataDir, 'member', 'snap', 'db')));
    for (const r of [del, remove, refused, replaced]) assert.doesNotMatch(r.stdout + r.stderr, /\(y\/N\)/);
  });
});
