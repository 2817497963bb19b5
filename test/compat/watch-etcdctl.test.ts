import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startEtcdts } from '../support/etcdts.js';
import { etcdctlBinary, requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs, sleep } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';

interface Captured {
  stdout: Buffer;
  stderr: string;
  /** Exit code, or 'running' when the watch was still waiting for events and got killed. */
  code: number | 'running';
}

/**
 * Runs `etcdctl <args>` (a watch never ends by itself) until it exits or its
 * output has `expectBytes` bytes (when known) and then stays unchanged for a
 * moment; kills it and returns what it printed.
 */
async function watchOutput(endpoint: string, args: string[], expectBytes?: number, during?: () => Promise<void>): Promise<Captured> {
  const child = spawn(etcdctlBinary, ['--endpoints', endpoint, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: '3' } });
  const out: Buffer[] = [];
  let stderr = '';
  let code: number | 'running' = 'running';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', (c) => {
    code = c ?? -1;
    resolve();
  }));
  await during?.();
  const bytes = () => out.reduce((n, c) => n + c.length, 0);
  const deadline = Date.now() + 15_000;
  let last = -1;
  while (code === 'running' && Date.now() < deadline) {
    const now = bytes();
    if (now === last && now > 0 && (expectBytes === undefined || now >= expectBytes)) break;
    last = now;
    await sleep(expectBytes === undefined ? 800 : 300);
  }
  if (code === 'running') {
    child.kill('SIGKILL');
    await exited;
    code = 'running';
  }
  return { stdout: Buffer.concat(out), stderr, code };
}

/** The same writes on both servers: revisions 2..9. */
async function writeHistory(kv: RawKv): Promise<void> {
  await kv.put({ key: 'foo', value: 'bar' });
  await kv.put({ key: 'foo', value: 'baz' });
  await kv.put({ key: 'foo2', value: 'two words' });
  await kv.put({ key: 'zoo', value: 'z' });
  await kv.deleteRange({ key: 'foo' });
  await kv.txn({
    success: [
      { requestPut: { key: Buffer.from('foo'), value: Buffer.from('t1') } },
      { requestPut: { key: Buffer.from('foo3'), value: Buffer.from([0xff, 0x00, 0x41]) } },
    ],
  });
  await kv.put({ key: 'foo', value: 'line1\nline2' });
  await kv.deleteRange({ key: 'foo', rangeEnd: 'fop' });
}

async function liveWrites(kv: RawKv): Promise<void> {
  await kv.put({ key: 'live/a', value: '1' });
  await kv.put({ key: 'live/b', value: '2' });
  await kv.put({ key: 'live/a', value: '3' });
  await kv.txn({ success: [{ requestDeleteRange: { key: Buffer.from('live/a'), rangeEnd: Buffer.from('live/c') } }, { requestPut: { key: Buffer.from('live/c'), value: Buffer.from('4') } }] });
}

/** Header fields that differ between any two clusters by design. */
function normaliseJson(text: string): string {
  return text.replace(/"cluster_id":\d+/g, '"cluster_id":0').replace(/"member_id":\d+/g, '"member_id":0').replace(/"raft_term":\d+/g, '"raft_term":0');
}

const variants: Array<{ name: string; args: string[]; json?: boolean }> = [
  { name: 'one key', args: ['watch', 'foo', '--rev', '2'] },
  { name: '--prefix', args: ['watch', 'foo', '--prefix', '--rev', '2'] },
  { name: '--prev-kv', args: ['watch', 'foo', '--prev-kv', '--rev', '2'] },
  { name: '--prefix --prev-kv', args: ['watch', '--prefix', '--prev-kv', 'foo', '--rev', '2'] },
  { name: 'a range [foo, zoo]', args: ['watch', 'foo', 'zoo', '--rev', '2'] },
  { name: 'a later --rev', args: ['watch', 'foo', '--prefix', '--rev', '7'] },
  { name: '--hex', args: ['--hex', 'watch', 'foo', '--prefix', '--rev', '2'] },
  { name: '-w json', args: ['-w', 'json', 'watch', 'foo', '--prefix', '--prev-kv', '--rev', '2'], json: true },
  { name: 'exec per event', args: ['watch', 'foo', '--prefix', '--rev', '2', '--', 'sh', '-c', 'echo "$ETCD_WATCH_REVISION $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"'] },
];

describe('etcdctl watch: etcdts prints exactly what real etcd 3.4.23 prints', function () {
  this.timeout(180_000);
  let real: RawKv;
  let ours: RawKv;
  let realEndpoint: string;
  let ourEndpoint: string;

  before(async function () {
    requireRealEtcd();
    const [r, o] = await Promise.all([startRealEtcd(), startEtcdts()]);
    realEndpoint = r.endpoint;
    ourEndpoint = o.endpoint;
    real = new RawKv(realEndpoint);
    ours = new RawKv(ourEndpoint);
    await Promise.all([writeHistory(real), writeHistory(ours)]);
  });
  after(async () => {
    real?.close();
    ours?.close();
    await killAll();
    removeTempDirs();
  });

  for (const v of variants) {
    it(`watch ${v.name}`, async () => {
      const expected = await watchOutput(realEndpoint, v.args);
      // JSON headers carry ids of different lengths: wait for quiet output instead of a byte count.
      const got = await watchOutput(ourEndpoint, v.args, v.json ? undefined : expected.stdout.length);
      assert.ok(expected.stdout.length > 0, 'real etcd printed something');
      if (v.json) assert.equal(normaliseJson(got.stdout.toString()), normaliseJson(expected.stdout.toString()));
      else assert.equal(got.stdout.toString('latin1'), expected.stdout.toString('latin1'));
      assert.deepEqual([got.stderr, got.code], [expected.stderr, expected.code]);
    });
  }

  it('watch live events (--prefix --prev-kv from the next revision)', async () => {
    const realNext = (await real.range({ key: 'x' })).header!.revision + 1n;
    const ourNext = (await ours.range({ key: 'x' })).header!.revision + 1n;
    assert.equal(ourNext, realNext);
    const args = ['watch', 'live/', '--prefix', '--prev-kv', '--rev', String(realNext)];
    const expected = await watchOutput(realEndpoint, args, undefined, () => liveWrites(real));
    const got = await watchOutput(ourEndpoint, args, expected.stdout.length, () => liveWrites(ours));
    assert.equal(got.stdout.toString('latin1'), expected.stdout.toString('latin1'));
  });

  it('watch from a compacted revision: the same cancellation message and exit code', async () => {
    await Promise.all([real, ours].map(async (kv) => kv.compact({ revision: (await kv.range({ key: 'x' })).header!.revision, physical: true })));
    const args = ['watch', 'foo', '--rev', '2'];
    const expected = await watchOutput(realEndpoint, args);
    const got = await watchOutput(ourEndpoint, args);
    assert.notEqual(expected.code, 'running', 'etcdctl exits when the server cancels the watch');
    assert.deepEqual([got.stdout.toString(), got.stderr, got.code], [expected.stdout.toString(), expected.stderr, expected.code]);
  });
});
