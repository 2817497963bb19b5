import assert from 'node:assert/strict';
import { bucketConversions } from '../../../src/server/snapshot/etcd-buckets.js';
import { SnapshotConversionError } from '../../../src/server/snapshot/bucket-conversion.js';
import { KeyValue } from '../../../src/proto/gen/mvccpb/kv.js';
import { LeaseRecord } from '../../../src/proto/gen/etcdtspb/internal.js';
import { AlarmMember, AlarmType, Member } from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { Role, User } from '../../../src/proto/gen/authpb/auth.js';
import { revisionToBytes } from '../../../src/server/mvcc/revision.js';

const conversion = (etcd: string) => bucketConversions.find((c) => c.etcd === etcd)!;
const b = (s: string): Buffer => Buffer.from(s);
const u64 = (n: bigint): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(n);
  return out;
};
const hexPair = (pair: [Buffer, Buffer] | undefined): [string, string] | undefined => (pair === undefined ? undefined : [pair[0].toString('hex'), pair[1].toString('hex')]);

/** Values as etcd 3.4 writes them (Go's encodings), next to ours. */
describe('etcd\'s snapshot buckets and ours', () => {
  it('lists etcd\'s buckets in the order of its root bucket', () => {
    assert.deepEqual(bucketConversions.map((c) => c.etcd), ['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'key', 'lease', 'members', 'members_removed', 'meta']);
  });

  it('a member: Go\'s JSON under the hex id, ours as etcdserverpb.Member under the u64 id, ids past 2^53 exact', () => {
    const id = 0xfedcba9876543210n;
    const json = `{"id":${id},"peerURLs":["http://10.0.0.1:2380"],"name":"m1","clientURLs":["http://10.0.0.1:2379"]}`;
    const ours = conversion('members').fromEtcd(b(id.toString(16)), b(json))!;
    assert.deepEqual(ours[0], u64(id));
    assert.deepEqual(Member.decode(ours[1]), { ID: id, name: 'm1', peerURLs: ['http://10.0.0.1:2380'], clientURLs: ['http://10.0.0.1:2379'], isLearner: false });
    assert.deepEqual(hexPair(conversion('members').toEtcd(...ours)), hexPair([b('fedcba9876543210'), b(json)]));
    const learner = Buffer.from(Member.encode({ ID: 5n, name: '', peerURLs: ['http://a<b>'], clientURLs: [], isLearner: true }).finish());
    assert.equal(conversion('members').toEtcd(u64(5n), learner)![1].toString(), '{"id":5,"peerURLs":["http://a\\u003cb\\u003e"],"isLearner":true}');
  });

  it('removed members, alarms, compaction revisions and the cluster version, converted both ways', () => {
    assert.deepEqual(hexPair(conversion('members_removed').fromEtcd(b('1f'), b('removed'))), hexPair([u64(0x1fn), Buffer.alloc(0)]));
    assert.deepEqual(hexPair(conversion('members_removed').toEtcd(u64(0x1fn), Buffer.alloc(0))), hexPair([b('1f'), b('removed')]));
    const alarm = Buffer.from(AlarmMember.encode({ memberID: 7n, alarm: AlarmType.NOSPACE }).finish());
    const ours = conversion('alarm').fromEtcd(alarm, Buffer.alloc(0))!;
    assert.equal(ours[0].toString('hex'), '000000000000000700000001');
    assert.deepEqual(hexPair(conversion('alarm').toEtcd(...ours)), hexPair([alarm, Buffer.alloc(0)]));
    const meta = conversion('meta');
    const rev17 = revisionToBytes({ main: 42n, sub: 0 });
    assert.deepEqual(hexPair(meta.fromEtcd(b('finishedCompactRev'), rev17)), hexPair([b('finishedCompactRev'), u64(42n)]));
    assert.deepEqual(hexPair(meta.toEtcd(b('scheduledCompactRev'), u64(42n))), hexPair([b('scheduledCompactRev'), rev17]));
    assert.equal(meta.fromEtcd(b('term'), u64(3n)), undefined, 'etcd 3.5\'s term starts over with a restore');
    assert.equal(meta.toEtcd(b('conf_state'), b('x')), undefined, 'our Raft conf state stays ours');
    assert.deepEqual(conversion('cluster').etcdOnly!().map(hexPair), [hexPair([b('clusterVersion'), b('3.4.0')])]);
  });

  it('keys and leases pass through checked; a tombstone is written as etcd writes it (the key alone)', () => {
    const put = Buffer.from(KeyValue.encode(KeyValue.fromPartial({ key: b('a'), value: b('1'), createRevision: 2n, modRevision: 2n, version: 1n })).finish());
    assert.deepEqual(hexPair(conversion('key').fromEtcd(revisionToBytes({ main: 2n, sub: 0 }), put)), hexPair([revisionToBytes({ main: 2n, sub: 0 }), put]));
    const ourTombstone = Buffer.from(KeyValue.encode(KeyValue.fromPartial({ key: b('a'), modRevision: 3n })).finish());
    const etcdTombstone = Buffer.from(KeyValue.encode(KeyValue.fromPartial({ key: b('a') })).finish());
    assert.deepEqual(hexPair(conversion('key').toEtcd(revisionToBytes({ main: 3n, sub: 0 }, true), ourTombstone)), hexPair([revisionToBytes({ main: 3n, sub: 0 }, true), etcdTombstone]));
    const lease = Buffer.from(LeaseRecord.encode({ ID: 9n, TTL: 60n, remainingTTL: 0n }).finish());
    assert.deepEqual(hexPair(conversion('lease').fromEtcd(u64(9n), lease)), hexPair([u64(9n), lease]));
  });

  it('auth state passes through as etcd stores it', () => {
    const user = Buffer.from(User.encode({ name: b('root'), password: b('$2a$10$hash'), roles: ['root'], options: undefined }).finish());
    const role = Buffer.from(Role.encode({ name: b('app'), keyPermission: [{ permType: 2, key: b('app/'), rangeEnd: b('app0') }] }).finish());
    for (const [bucket, key, value] of [['authUsers', b('root'), user], ['authRoles', b('app'), role], ['auth', b('authEnabled'), Buffer.from([1])], ['auth', b('authRevision'), u64(12n)]] as const) {
      assert.deepEqual(hexPair(conversion(bucket).fromEtcd(key, value)), hexPair([key, value]), `${bucket} from etcd`);
      assert.deepEqual(hexPair(conversion(bucket).toEtcd(key, value)), hexPair([key, value]), `${bucket} to etcd`);
    }
  });

  const malformed: Array<[string, Buffer, Buffer, RegExp]> = [
    ['key', b('short'), b(''), /not a revision/],
    ['key', revisionToBytes({ main: 2n, sub: 0 }), b('\xff\xff\xff'), /not a valid mvccpb.KeyValue/],
    ['key', revisionToBytes({ main: 2n, sub: 0 }), Buffer.from(KeyValue.encode(KeyValue.fromPartial({ key: b('a'), modRevision: 5n })).finish()), /revision 5 filed under another/],
    ['lease', b('1234'), b(''), /lease id of 4 bytes/],
    ['members', b('zz'), b('{}'), /not a member id in hex/],
    ['members', b('1'), b('{"id":2,"peerURLs":[]}'), /member 2 filed under another id/],
    ['members', b('1'), b('not json'), /not a member's JSON/],
    ['meta', b('finishedCompactRev'), u64(1n), /expected a 17-byte revision/],
    ['auth', b('authEnabled'), Buffer.from([7]), /one byte 0 or 1/],
    ['authUsers', b('root'), Buffer.from(User.encode({ name: b('other'), password: b(''), roles: [], options: undefined }).finish()), /is named "other", not its key/],
  ];
  for (const [bucket, key, value, message] of malformed) {
    it(`refuses a malformed ${bucket} entry: ${message.source}`, () => {
      assert.throws(() => conversion(bucket).fromEtcd(key, value), (err: Error) => err instanceof SnapshotConversionError && message.test(err.message));
    });
  }
});
