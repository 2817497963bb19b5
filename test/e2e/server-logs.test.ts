import assert from 'node:assert/strict';
import { startEtcdts, runJs, type EtcdtsMember } from '../support/etcdts.js';
import { leaderOf, reservePeerUrl, startCluster } from '../support/cluster.js';
import { killAll, removeTempDirs, run, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';

type Line = Record<string, unknown>;

/** Every line of a member's output, each checked to be one of etcd's zap JSON lines. */
function zapLines(output: string): Line[] {
  return output.split('\n').filter((l) => l !== '').map((text) => {
    const line = JSON.parse(text) as Line;
    assert.deepEqual(Object.keys(line).slice(0, 4), ['level', 'ts', 'caller', 'msg'], text);
    assert.match(String(line['level']), /^(debug|info|warn|error|panic|fatal)$/, text);
    assert.match(String(line['ts']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$/, text);
    assert.match(String(line['caller']), /^[\w.-]+\/[\w.-]+\.js:\d+$/, text);
    return line;
  });
}

function find(lines: Line[], msg: string | RegExp): Line | undefined {
  return lines.find((l) => (typeof msg === 'string' ? l['msg'] === msg : msg.test(String(l['msg']))));
}

function expectMessages(output: string, messages: Array<string | RegExp>): Line[] {
  const lines = zapLines(output);
  const missing = messages.filter((m) => find(lines, m) === undefined);
  assert.deepEqual(missing, [], `missing from the log:\n${output.slice(-4000)}`);
  return lines;
}

describe("etcd's log messages, in etcd's JSON shape (docs/log-messages.md)", function () {
  this.timeout(120000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('one member: start-up, readiness, leadership, snapshots, compaction, alarms and shutdown', async () => {
    const member: EtcdtsMember = await startEtcdts({ extraArgs: ['--log-level', 'info', '--snapshot-count', '5', '--experimental-snapshot-catchup-entries', '2', '--quota-backend-bytes', String(256 * 1024)] });
    const kv = new RawKv(member.endpoint);
    for (let i = 0; i < 12; i++) await kv.put({ key: `k${i}`, value: Buffer.from(String(i)) });
    const { header } = await kv.range({ key: 'k0' });
    await kv.compact({ revision: header!.revision, physical: true });
    // Past the quota: NOSPACE is raised through Raft.
    await kv.put({ key: 'big', value: Buffer.alloc(400 * 1024, 1) }).catch(() => undefined);
    kv.close();
    await waitFor('the alarm in the log', () => member.proc.output().includes('"msg":"alarm raised"'), 20000, 100);
    await waitFor('a snapshot in the log', () => member.proc.output().includes('"msg":"saved snapshot"'), 20000, 100);
    member.proc.child.kill('SIGTERM');
    assert.equal(await member.proc.exited, 0);
    const id = (find(zapLines(member.proc.output()), 'starting local member')?.['local-member-id']) as string;
    const lines = expectMessages(member.proc.output(), [
      'configuring peer listeners', 'configuring client listeners', 'starting an etcd server', 'opened backend db', 'starting local member',
      'starting etcd server', 'now serving peer/client/metrics', 'serving peer traffic', 'started as single-node; fast-forwarding election ticks',
      `${id} became leader at term 2`, `raft.node: ${id} elected leader ${id} at term 2`, 'added member', 'applied a configuration change through raft',
      'published local member to cluster through raft', 'ready to serve client requests', 'serving client traffic insecurely; this is strongly discouraged!',
      'enabled capabilities for version', 'triggering snapshot', 'saved snapshot', 'compacted Raft logs', 'finished scheduled compaction', 'alarm raised',
      'received signal; shutting down', 'closing etcd server', 'stopping serving peer traffic', 'stopped serving peer traffic', 'closed etcd server',
    ]);
    assert.equal(find(lines, 'starting local member')?.['cluster-id'], find(lines, 'added member')?.['cluster-id']);
    assert.deepEqual(find(lines, 'alarm raised')?.['alarm'], 'NOSPACE');
    assert.equal(find(lines, 'received signal; shutting down')?.['signal'], 'terminated');
  });

  it('three members: elections, a leader lost and re-elected, members added and removed', async () => {
    const cluster = await startCluster({ size: 3, logLevel: 'info' });
    const leader = await leaderOf(cluster);
    const follower = cluster.members.find((m) => m.name !== leader)!;
    const peerUrl = await reservePeerUrl();
    const add = await run(process.execPath, [runJs, '--endpoints', follower.clientUrl, 'member', 'add', 'm4', '--peer-urls', peerUrl]);
    assert.equal(add.code, 0, add.stderr);
    const added = /Member ([0-9a-f]+) added/.exec(add.stdout)![1]!;
    const remove = await run(process.execPath, [runJs, '--endpoints', follower.clientUrl, 'member', 'remove', added]);
    assert.equal(remove.code, 0, remove.stderr);
    await cluster.kill(leader);
    await waitFor('a new leader', () => leaderOf(cluster), 30000, 200);
    await waitFor(`${follower.name} to log the change of leader`, () => /raft\.node: [0-9a-f]+ (lost leader|changed leader)/.test(follower.proc!.output()), 20000, 100);
    const lines = expectMessages(follower.proc!.output(), [
      'starting local member', /^raft\.node: [0-9a-f]+ elected leader [0-9a-f]+ at term \d+$/,
      'added member', 'removed member', 'published local member to cluster through raft', 'ready to serve client requests',
      /^raft\.node: [0-9a-f]+ (lost leader|changed leader from) [0-9a-f]+/,
    ]);
    // Whichever survivor's election timer fired first started the election; the other may only have voted.
    const survivors = cluster.members.filter((m) => m.proc !== undefined && m.name !== leader);
    assert.ok(survivors.some((m) => /is starting a new election at term/.test(m.proc!.output())), 'no survivor logged the start of an election');
    const adds = lines.filter((l) => l['msg'] === 'added member');
    assert.ok(adds.some((l) => l['added-peer-id'] === added && JSON.stringify(l['added-peer-peer-urls']) === JSON.stringify([peerUrl])), 'the new member is named with its peer URL');
    assert.ok(lines.some((l) => l['msg'] === 'removed member' && l['removed-remote-peer-id'] === added));
  });
});
