import assert from 'node:assert/strict';
import { runJs, startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { killAll, removeTempDirs, run, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';

describe('leases on a single member (driven by the etcdts CLI)', function () {
  this.timeout(60000);
  let member: EtcdtsMember;
  let kv: RawKv;
  const ctl = (...args: string[]) => run(process.execPath, [runJs, '--endpoints', member.endpoint, ...args]);

  before(async () => {
    member = await startEtcdts();
    kv = new RawKv(member.endpoint);
  });
  after(async () => {
    kv?.close();
    await killAll();
    removeTempDirs();
  });

  async function grant(ttl: number): Promise<string> {
    const r = await ctl('lease', 'grant', String(ttl));
    assert.equal(r.code, 0, r.stderr);
    const m = /^lease ([0-9a-f]+) granted with TTL\((\d+)s\)$/.exec(r.stdout.trim());
    assert.ok(m, r.stdout);
    return m[1]!;
  }

  it('deletes every attached key in one revision when the lease expires, not before its TTL', async () => {
    const id = await grant(3);
    const started = Date.now();
    assert.equal((await ctl('put', '--lease', id, 'lk/a', '1')).code, 0);
    assert.equal((await ctl('put', '--lease', id, 'lk/b', '2')).code, 0);
    const before = (await kv.range({ key: 'lk/', rangeEnd: 'lk0' })).header!.revision;
    await waitFor('the lease to expire', async () => (await kv.range({ key: 'lk/', rangeEnd: 'lk0', countOnly: true })).count === 0n, 15000, 100);
    assert.ok(Date.now() - started >= 3000, 'the keys vanished before the TTL');
    const after = (await kv.range({ key: 'lk/', rangeEnd: 'lk0' })).header!.revision;
    assert.equal(after, before + 1n, 'the attached keys were not deleted in one revision');
    const ttl = await ctl('lease', 'timetolive', id);
    assert.equal(ttl.stdout.trim(), `lease ${id} already expired`);
  });

  it('keeps a lease alive while keep-alives arrive', async () => {
    const id = await grant(3);
    const granted = Date.now();
    await ctl('put', '--lease', id, 'alive', 'yes');
    // Keep-alives back to back (each one is a CLI run) for twice the TTL.
    while (Date.now() - granted < 6000) {
      const r = await ctl('lease', 'keep-alive', '--once', id);
      assert.equal(r.stdout.trim(), `lease ${id} keepalived with TTL(3)`);
    }
    assert.equal((await kv.range({ key: 'alive' })).kvs[0]?.value.toString(), 'yes');
  });

  it('revokes a lease and its keys on request, and lists and describes leases', async () => {
    const id = await grant(100);
    await ctl('put', '--lease', id, 'rk1', 'v');
    const list = await ctl('lease', 'list');
    assert.match(list.stdout, new RegExp(`^${id}$`, 'm'));
    const ttl = await ctl('lease', 'timetolive', '--keys', id);
    assert.match(ttl.stdout, new RegExp(`^lease ${id} granted with TTL\\(100s\\), remaining\\(\\d+s\\), attached keys\\(\\[rk1\\]\\)$`, 'm'));
    assert.equal((await ctl('lease', 'revoke', id)).stdout.trim(), `lease ${id} revoked`);
    assert.equal((await kv.range({ key: 'rk1' })).kvs.length, 0);
    const again = await ctl('lease', 'revoke', id);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /etcdserver: requested lease not found/);
  });

  it('keeps leases and their keys across a restart', async () => {
    const id = await grant(60);
    await ctl('put', '--lease', id, 'survivor', 'v');
    await member.restart();
    const ttl = await ctl('lease', 'timetolive', '--keys', id);
    assert.match(ttl.stdout, /attached keys\(\[survivor\]\)/);
  });
});
