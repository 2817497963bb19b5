import { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import { LeaseRecord } from '../../proto/gen/etcdtspb/internal.js';
import { AlarmMember, Member as MemberCodec } from '../../proto/gen/etcdserverpb/rpc.js';
import { idKey } from '../membership/cluster.js';
import { clusterVersion } from '../etcdserver/server.js';
import { bytesToRevision, revisionBytesLength, revisionToBytes } from '../mvcc/revision.js';
import { authBucketConversions } from './auth-buckets.js';
import { conversionError, decodeOrFail, type BucketConversion, type Pair } from './bucket-conversion.js';

/**
 * etcd 3.4's bbolt buckets next to ours, bucket by bucket (the auth ones are
 * in auth-buckets.ts). Where the encodings are equal the entry is only
 * checked; where they differ it is converted:
 *
 * | etcd bucket (key = value)                          | ours                                      |
 * | -------------------------------------------------- | ----------------------------------------- |
 * | key: 17/18-byte revision = mvccpb.KeyValue         | the same, but a tombstone (18-byte key)   |
 * |   (a tombstone's KeyValue holds only the key)      |   also holds its mod revision             |
 * | meta: consistent_index = u64 BE                    | the same                                  |
 * | meta: scheduled/finishedCompactRev = 17-byte rev   | u64 BE main revision                      |
 * | meta: term, confState (etcd 3.5)                   | not kept (a restore starts a new Raft log)|
 * | meta: (none)                                       | conf_state: our Raft ConfState, not sent  |
 * | lease: i64 BE id = leasepb.Lease                   | the same (LeaseRecord, same fields)       |
 * | alarm: pb.AlarmMember = empty                      | member u64 BE + type u32 BE = AlarmMember |
 * | members: hex id = JSON membership.Member           | u64 BE id = etcdserverpb.Member           |
 * | members_removed: hex id = "removed"                | membersRemoved: u64 BE id = empty         |
 * | cluster: clusterVersion = "3.4.0"                  | nothing (written on export)               |
 */
const metaKeys = {
  consistentIndex: 'consistent_index',
  scheduledCompact: 'scheduledCompactRev',
  finishedCompact: 'finishedCompactRev',
};

const keyBucket: BucketConversion = {
  etcd: 'key', ours: 'key', sameKeys: true,
  fromEtcd: checkKeyValue,
  toEtcd(key, value) {
    checkKeyValue(key, value);
    if (key.length === revisionBytesLength) return [key, value];
    // etcd stores a tombstone as KeyValue{Key} alone (kvstore_txn.go); ours also
    // carries the mod revision. Readers of either take the revision from the key.
    return [key, Buffer.from(KeyValue.encode(KeyValue.fromPartial({ key: KeyValue.decode(value).key })).finish())];
  },
};

function checkKeyValue(key: Buffer, value: Buffer): Pair {
  const revisionKey = key.length === revisionBytesLength || (key.length === revisionBytesLength + 1 && key[revisionBytesLength] === 0x74);
  if (!revisionKey || key[8] !== 0x5f) throw conversionError('key', key, 'not a revision (8 bytes, "_", 8 bytes, optional "t")');
  const kv = decodeOrFail('key', key, 'mvccpb.KeyValue', () => KeyValue.decode(value));
  if (kv.key.length === 0) throw conversionError('key', key, 'a KeyValue with an empty key');
  // A tombstone holds only the key (etcd writes KeyValue{Key} for a delete).
  const { rev, tombstone } = bytesToRevision(key);
  if (!tombstone && kv.modRevision !== rev.main) throw conversionError('key', key, `a KeyValue of revision ${kv.modRevision} filed under another`);
  return [key, value];
}

const metaBucket: BucketConversion = {
  etcd: 'meta', ours: 'meta', sameKeys: false,
  fromEtcd(key, value) {
    switch (key.toString('latin1')) {
      case metaKeys.consistentIndex:
        return [key, u64Value('meta', key, value)];
      case metaKeys.scheduledCompact:
      case metaKeys.finishedCompact: {
        if (value.length !== revisionBytesLength) throw conversionError('meta', key, `expected a 17-byte revision, got ${value.length} bytes`);
        return [key, value.subarray(0, 8)];
      }
      default:
        return undefined;
    }
  },
  toEtcd(key, value) {
    switch (key.toString('latin1')) {
      case metaKeys.consistentIndex:
        return [key, u64Value('meta', key, value)];
      case metaKeys.scheduledCompact:
      case metaKeys.finishedCompact:
        return [key, revisionToBytes({ main: u64Value('meta', key, value).readBigUInt64BE(0), sub: 0 })];
      default:
        return undefined;
    }
  },
};

function u64Value(bucket: string, key: Buffer, value: Buffer): Buffer {
  if (value.length !== 8) throw conversionError(bucket, key, `expected a u64, got ${value.length} bytes`);
  return value;
}

const leaseBucket: BucketConversion = {
  etcd: 'lease', ours: 'lease', sameKeys: true,
  fromEtcd: checkLease,
  toEtcd: checkLease,
};

function checkLease(key: Buffer, value: Buffer): Pair {
  if (key.length !== 8) throw conversionError('lease', key, `a lease id of ${key.length} bytes`);
  const lease = decodeOrFail('lease', key, 'leasepb.Lease', () => LeaseRecord.decode(value));
  if (lease.ID !== key.readBigInt64BE(0)) throw conversionError('lease', key, `lease ${lease.ID} filed under another id`);
  return [key, value];
}

const alarmBucket: BucketConversion = {
  etcd: 'alarm', ours: 'alarm', sameKeys: false,
  fromEtcd(key) {
    const alarm = decodeOrFail('alarm', key, 'AlarmMember', () => AlarmMember.decode(key));
    return [ourAlarmKey(alarm), Buffer.from(AlarmMember.encode(alarm).finish())];
  },
  toEtcd(key, value) {
    const alarm = decodeOrFail('alarm', key, 'AlarmMember', () => AlarmMember.decode(value));
    return [Buffer.from(AlarmMember.encode(alarm).finish()), Buffer.alloc(0)];
  },
};

/** Our alarm bucket's key (etcdserver/alarms.ts): the member id, u64 BE, then the alarm type, u32 BE. */
function ourAlarmKey(alarm: AlarmMember): Buffer {
  const key = Buffer.alloc(12);
  key.writeBigUInt64BE(alarm.memberID, 0);
  key.writeUInt32BE(alarm.alarm, 8);
  return key;
}

const membersBucket: BucketConversion = {
  etcd: 'members', ours: 'members', sameKeys: false,
  fromEtcd(key, value) {
    const id = hexId('members', key);
    const m = parseMemberJson(key, value);
    if (m.ID !== id) throw conversionError('members', key, `member ${m.ID.toString(16)} filed under another id`);
    return [idKey(id), Buffer.from(MemberCodec.encode(m).finish())];
  },
  toEtcd(key, value) {
    const m = decodeOrFail('members', key, 'etcdserverpb.Member', () => MemberCodec.decode(value));
    return [Buffer.from(m.ID.toString(16)), Buffer.from(memberJson(m))];
  },
};

const removedBucket: BucketConversion = {
  etcd: 'members_removed', ours: 'membersRemoved', sameKeys: false,
  fromEtcd: (key) => [idKey(hexId('members_removed', key)), Buffer.alloc(0)],
  toEtcd(key) {
    if (key.length !== 8) throw conversionError('membersRemoved', key, `a member id of ${key.length} bytes`);
    return [Buffer.from(key.readBigUInt64BE(0).toString(16)), Buffer.from('removed')];
  },
};

const clusterBucket: BucketConversion = {
  etcd: 'cluster', ours: 'cluster', sameKeys: true,
  fromEtcd: () => undefined,
  toEtcd: () => undefined,
  etcdOnly: () => [[Buffer.from('clusterVersion'), Buffer.from(clusterVersion)]],
};

/** Every bucket a snapshot carries, in etcd's bucket name order (the order of its root bucket). */
export const bucketConversions: readonly BucketConversion[] = [
  alarmBucket, ...authBucketConversions, clusterBucket, keyBucket, leaseBucket, membersBucket, removedBucket, metaBucket,
].sort((a, b) => Buffer.compare(Buffer.from(a.etcd), Buffer.from(b.etcd)));

function hexId(bucket: string, key: Buffer): bigint {
  const text = key.toString('latin1');
  if (!/^[0-9a-f]{1,16}$/.test(text)) throw conversionError(bucket, key, 'not a member id in hex');
  return BigInt(`0x${text}`);
}

/**
 * etcd's members bucket holds Go's JSON of membership.Member. Its id is a
 * uint64 printed as a number, which JSON.parse would round past 2^53, so
 * it is read from the text.
 */
function parseMemberJson(key: Buffer, value: Buffer): MemberCodec {
  const text = value.toString('utf8');
  let parsed: { peerURLs?: unknown; isLearner?: unknown; name?: unknown; clientURLs?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    throw conversionError('members', key, `not a member's JSON (${(err as Error).message})`);
  }
  const id = /^\{\s*"id"\s*:\s*(\d{1,20})\s*[,}]/.exec(text)?.[1];
  const strings = (v: unknown): v is string[] | undefined => v === undefined || v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
  if (id === undefined || typeof parsed !== 'object' || parsed === null || !strings(parsed.peerURLs) || !strings(parsed.clientURLs)) {
    throw conversionError('members', key, 'not a member\'s JSON (id, peerURLs, name, clientURLs)');
  }
  return {
    ID: BigInt(id),
    name: typeof parsed.name === 'string' ? parsed.name : '',
    peerURLs: parsed.peerURLs ?? [],
    clientURLs: parsed.clientURLs ?? [],
    isLearner: parsed.isLearner === true,
  };
}

/** Go's json.Marshal of membership.Member: field order and omitempty as etcd declares them. */
function memberJson(m: MemberCodec): string {
  const fields = [`"id":${m.ID}`, `"peerURLs":${goJson(m.peerURLs)}`];
  if (m.isLearner) fields.push('"isLearner":true');
  if (m.name !== '') fields.push(`"name":${goJson(m.name)}`);
  if (m.clientURLs.length > 0) fields.push(`"clientURLs":${goJson(m.clientURLs)}`);
  return `{${fields.join(',')}}`;
}

/** JSON as Go writes it: <, > and & escaped (HTML-safe), as are U+2028 and U+2029. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
