import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { checkOwnEntry, parseInitialCluster } from '../../../src/cli/admin/initial-cluster.js';
import { onMember, pickByName } from '../../../src/cli/admin/member-ref.js';
import { revisionBatches } from '../../../src/cli/admin/mirror.js';
import { loadModel, perfLoads, perfVerdict, randomKey, summarize } from '../../../src/cli/admin/perf.js';
import { hasChecksum, SnapshotSaveError, TrailingSha256 } from '../../../src/cli/admin/snapshot-save.js';
import { CliError } from '../../../src/cli/errors.js';
import type { Client } from '../../../src/client/client.js';
import { MemberNotFoundError } from '../../../src/client/errors.js';
import { Member } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { Event, Event_EventType } from '../../../src/proto/gen/mvccpb/kv.js';

/** Splits `data` into random chunks, as a gRPC stream may deliver it. */
function chunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(Math.random() * 5000);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

function snapshotBytes(dbBytes: number): Buffer {
  const db = randomBytes(dbBytes);
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

describe('cluster administration helpers', () => {
  describe('snapshot save: the trailing SHA-256', () => {
    it('accepts db || sha256(db) however the stream is chunked', () => {
      const file = snapshotBytes(512 * 40);
      for (let round = 0; round < 20; round++) {
        const hash = new TrailingSha256();
        for (const c of chunks(file)) hash.update(c);
        assert.equal(hash.verify(), createHash('sha256').update(file.subarray(0, file.length - 32)).digest('hex'));
      }
    });

    it('refuses a stream whose size has no room for a hash, with etcdctl\'s message', () => {
      const hash = new TrailingSha256();
      hash.update(randomBytes(4096));
      assert.throws(() => hash.verify(), (e: Error) => e instanceof SnapshotSaveError && e.message === 'sha256 checksum not found [bytes: 4096]');
    });

    it('refuses a stream whose data does not match its hash', () => {
      const file = snapshotBytes(512 * 8);
      file[100] ^= 0x01;
      const hash = new TrailingSha256();
      hash.update(file);
      assert.throws(() => hash.verify(), /snapshot integrity check failed/);
    });

    it('uses etcd\'s size rule', () => {
      assert.deepEqual([hasChecksum(4096 + 32), hasChecksum(4096), hasChecksum(50000)], [true, false, false]);
    });
  });

  describe('--initial-cluster', () => {
    it('reads names with one or several peer URLs', () => {
      assert.deepEqual(
        [...parseInitialCluster('a=http://1.1.1.1:2380,b=https://h:2380,a=http://2.2.2.2:2380').entries()],
        [['a', ['http://1.1.1.1:2380', 'http://2.2.2.2:2380']], ['b', ['https://h:2380']]],
      );
    });

    const bad: Array<[string, RegExp]> = [
      ['a=ftp://h:1', /^URL scheme must be http, https, unix, or unixs: ftp:\/\/h:1$/],
      ['a=http://h', /^URL address does not have the form "host:port": http:\/\/h$/],
      ['a=http://h:1/x', /^URL must not contain a path: http:\/\/h:1\/x$/],
      ['a', /^URL scheme must be/],
    ];
    for (const [text, message] of bad) {
      it(`refuses ${text}`, () => assert.throws(() => parseInitialCluster(text), (e: CliError) => e.exitCode === 1 && message.test(e.message)));
    }

    it('needs the member\'s own entry, matching its advertised URLs', () => {
      const cluster = parseInitialCluster('default=http://localhost:2380');
      const message = (re: RegExp) => (e: Error) => re.test(e.message);
      assert.throws(() => checkOwnEntry(cluster, 'x', ['http://localhost:2380']), message(/^couldn't find local name "x" in the initial cluster configuration$/));
      assert.throws(() => checkOwnEntry(cluster, 'default', ['http://10.0.0.1:2380']), message(/^--initial-cluster has default=http:\/\/localhost:2380 but/));
      checkOwnEntry(cluster, 'default', ['http://localhost:2380']);
    });
  });

  describe('member by ID or name', () => {
    const members = [
      Member.fromPartial({ ID: 0x10n, name: 'infra1' }),
      Member.fromPartial({ ID: 0x20n, name: 'twin' }),
      Member.fromPartial({ ID: 0x30n, name: 'twin' }),
      Member.fromPartial({ ID: 0x40n, name: 'abc' }),
      Member.fromPartial({ ID: 0x50n, name: '' }),
    ];
    /** A client that knows the members above and fails actions on unknown IDs as etcd does. */
    const fakeClient = { cluster: { memberList: async () => ({ header: undefined, members }) } } as unknown as Client;
    const act = async (id: bigint): Promise<string> => {
      if (!members.some((m) => m.ID === id)) throw new MemberNotFoundError();
      return `acted on ${id.toString(16)}`;
    };

    it('takes a hex ID as etcdctl does', async () => {
      assert.deepEqual(await onMember(fakeClient, '20', {}, act), { id: 0x20n, result: 'acted on 20' });
    });

    it('takes a unique name', async () => {
      assert.deepEqual(await onMember(fakeClient, 'infra1', {}, act), { id: 0x10n, result: 'acted on 10' });
    });

    it('takes a name made of hex digits once no member has that ID', async () => {
      assert.deepEqual(await onMember(fakeClient, 'abc', {}, act), { id: 0x40n, result: 'acted on 40' });
    });

    it('refuses an ambiguous name and names the candidates', async () => {
      await assert.rejects(onMember(fakeClient, 'twin', {}, act), (e: CliError) => e.exitCode === 128 && /"twin" is ambiguous: 2 members .*\(20, 30\)/.test(e.message));
    });

    it('keeps etcdctl\'s error for a word that is neither', async () => {
      await assert.rejects(onMember(fakeClient, 'zz', {}, act), (e: CliError) => e.exitCode === 128 && e.message === 'bad member ID arg (strconv.ParseUint: parsing "zz": invalid syntax), expecting ID in Hex');
      await assert.rejects(onMember(fakeClient, 'ff', {}, act), MemberNotFoundError);
    });

    it('never matches the empty name of unstarted members', () => {
      assert.equal(pickByName(members, ''), undefined);
    });
  });

  describe('check perf', () => {
    const load = perfLoads.s!;

    it('accepts etcdctl\'s load names and aliases only', () => {
      assert.deepEqual(['s', 'small', 'm', 'medium', 'l', 'large', 'xl', 'xLarge'].map(loadModel), ['s', 's', 'm', 'm', 'l', 'l', 'xl', 'xl']);
      assert.throws(() => loadModel('XL'), (e: CliError) => e.exitCode === 4 && e.message === 'unknown load option XL');
    });

    it('prints etcdctl\'s PASS lines', () => {
      const stats = summarize(Array.from({ length: 9000 }, () => 0.002), new Map(), 60);
      assert.deepEqual(perfVerdict(stats, load).lines, ['PASS: Throughput is 151 writes/s', 'PASS: Slowest request took 0.002000s', 'PASS: Stddev is 0.000000s', 'PASS']);
    });

    it('prints etcdctl\'s FAIL lines', () => {
      const stats = summarize([0.001, 0.9], new Map([['etcdserver: request timed out', 3]]), 60);
      const verdict = perfVerdict(stats, load);
      assert.equal(verdict.ok, false);
      assert.deepEqual(verdict.lines, [
        'FAIL: too many errors',
        'FAIL: ERROR(etcdserver: request timed out) -> 3',
        'FAIL: Throughput too low: 1 writes/s',
        'Slowest request took too long: 0.900000s',
        'Stddev too high: 0.449500s',
        'FAIL',
      ]);
    });

    it('makes long distinct keys under the prefix', () => {
      const a = randomKey('/p/', 256);
      const b = randomKey('/p/', 256);
      assert.equal(a.length, 259);
      assert.ok(a.subarray(0, 3).equals(Buffer.from('/p/')));
      assert.notDeepEqual(a, b);
    });
  });

  describe('make-mirror', () => {
    const event = (type: Event_EventType, key: string, rev: bigint): Event =>
      Event.fromPartial({ type, kv: { key: Buffer.from(key), value: Buffer.from('v'), modRevision: rev } });

    it('replays one source revision as one txn, in order', () => {
      const events = [
        event(Event_EventType.PUT, 'a', 5n),
        event(Event_EventType.PUT, 'b', 6n),
        event(Event_EventType.DELETE, 'c', 6n),
        event(Event_EventType.PUT, 'a', 7n),
      ];
      assert.deepEqual(
        revisionBatches(events).map((batch) => batch.map((e) => `${e.kv!.modRevision}:${e.kv!.key.toString()}`)),
        [['5:a'], ['6:b', '6:c'], ['7:a']],
      );
    });
  });
});
