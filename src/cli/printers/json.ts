import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { GoJsonObject } from '../go/json.js';
import { goJsonString } from '../go/quote.js';
import type * as watchLease from '../../proto/gen/etcdserverpb/rpc.js';
import { Printer, type HeaderOnlyResponse } from './printer.js';
import type * as admin from '../../proto/gen/etcdserverpb/rpc.js';
import * as reports from '../admin/reports.js';
import type * as auth from '../../proto/gen/etcdserverpb/rpc.js';
import type { Permission } from '../../proto/gen/authpb/auth.js';

/**
 * `-w json`: Go's json.Marshal of etcd's response structs, byte-compatible
 * with etcdctl 3.4 (snake_case names from the struct tags, omitempty, exact
 * 64-bit integers, base64 bytes). The field order of each function below is
 * the order of the Go struct.
 */
export class JsonPrinter extends Printer {
  readonly format = 'json' as const;

  // Watch and lease responses are clientv3's structs, not the protobuf
  // messages: exported Go field names without json tags (no omitempty), the
  // header embedded (its fields inline) or, for watch, a plain struct.
  override watch(r: watchLease.WatchResponse): void {
    const events = r.events.map((e) =>
      new GoJsonObject()
        .int('type', e.type)
        .message('kv', e.kv === undefined ? undefined : encodeKeyValue(e.kv))
        .message('prev_kv', e.prevKv === undefined ? undefined : encodeKeyValue(e.prevKv))
        .toString(),
    );
    this.line(
      new GoJsonObject()
        .raw('Header', encodeHeader(r.header) ?? '{}')
        .raw('Events', `[${events.join(',')}]`)
        .raw('CompactRevision', r.compactRevision.toString())
        .raw('Canceled', String(r.canceled))
        .raw('Created', String(r.created))
        .toString(),
    );
  }

  override leaseGrant(r: watchLease.LeaseGrantResponse): void {
    this.line(withHeader(r.header).raw('ID', r.ID.toString()).raw('TTL', r.TTL.toString()).raw('Error', goJsonString(r.error)).toString());
  }

  override leaseRevoke(_id: bigint, r: watchLease.LeaseRevokeResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).toString());
  }

  override leaseKeepAlive(r: watchLease.LeaseKeepAliveResponse): void {
    this.line(withHeader(r.header).raw('ID', r.ID.toString()).raw('TTL', r.TTL.toString()).toString());
  }

  override leaseTimeToLive(r: watchLease.LeaseTimeToLiveResponse): void {
    const keys = r.keys.length === 0 ? 'null' : `[${r.keys.map((k) => `"${k.toString('base64')}"`).join(',')}]`;
    this.line(
      withHeader(r.header)
        .raw('id', r.ID.toString())
        .raw('ttl', r.TTL.toString())
        .raw('granted-ttl', r.grantedTTL.toString())
        .raw('keys', keys)
        .toString(),
    );
  }

  override leaseLeases(r: watchLease.LeaseLeasesResponse): void {
    const leases = r.leases.map((l) => new GoJsonObject().raw('id', l.ID.toString()).toString());
    this.line(withHeader(r.header).raw('leases', `[${leases.join(',')}]`).toString());
  }

  override put(r: PutResponse): void {
    this.line(encodePutResponse(r));
  }

  override get(r: RangeResponse): void {
    this.line(encodeRangeResponse(r));
  }

  override del(r: DeleteRangeResponse): void {
    this.line(encodeDeleteRangeResponse(r));
  }

  override txn(r: TxnResponse): void {
    this.line(encodeTxnResponse(r));
  }

  override memberAdd(r: admin.MemberAddResponse): void {
    this.line(reports.encodeMemberAddResponse(r));
  }

  override memberRemove(_id: bigint, r: admin.MemberRemoveResponse): void {
    this.line(reports.encodeMemberResponse(r));
  }

  override memberUpdate(_id: bigint, r: admin.MemberUpdateResponse): void {
    this.line(reports.encodeMemberResponse(r));
  }

  override memberPromote(_id: bigint, r: admin.MemberPromoteResponse): void {
    this.line(reports.encodeMemberResponse(r));
  }

  override memberList(r: admin.MemberListResponse): void {
    this.line(reports.encodeMemberListResponse(r));
  }

  override endpointHealth(list: reports.EndpointHealth[]): void {
    this.line(reports.encodeEndpointHealth(list));
  }

  override endpointStatus(list: reports.EndpointStatus[]): void {
    this.line(reports.encodeEndpointStatus(list));
  }

  override endpointHashKV(list: reports.EndpointHashKV[]): void {
    this.line(reports.encodeEndpointHashKV(list));
  }

  override moveLeader(_leader: bigint, _target: bigint, r: admin.MoveLeaderResponse): void {
    this.line(reports.encodeMoveLeaderResponse(r));
  }

  override alarm(r: admin.AlarmResponse): void {
    this.line(reports.encodeAlarmResponse(r));
  }

  override snapshotStatus(s: reports.SnapshotStatus): void {
    this.line(reports.encodeSnapshotStatus(s));
  }

  // The auth responses are the protobuf messages (json tags: omitempty, and
  // authpb's own names permType and range_end).
  override authChange(_confirmation: string | Uint8Array, r: HeaderOnlyResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).toString());
  }

  override authStatus(r: auth.AuthStatusResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).bool('enabled', r.enabled).int('authRevision', r.authRevision).toString());
  }

  override userGet(_name: string, r: auth.AuthUserGetResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).strings('roles', r.roles).toString());
  }

  override userList(r: auth.AuthUserListResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).strings('users', r.users).toString());
  }

  override roleGet(_name: string, r: auth.AuthRoleGetResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).messages('perm', r.perm, encodePermission).toString());
  }

  override roleList(r: auth.AuthRoleListResponse): void {
    this.line(new GoJsonObject().message('header', encodeHeader(r.header)).strings('roles', r.roles).toString());
  }
}

function encodePermission(p: Permission): string {
  return new GoJsonObject().int('permType', p.permType).bytes('key', p.key).bytes('range_end', p.rangeEnd).toString();
}

/** A clientv3 struct that embeds *ResponseHeader: the header's fields first, inline. */
function withHeader(h: ResponseHeader | undefined): GoJsonObject {
  const object = new GoJsonObject();
  if (h === undefined) return object;
  return object.int('cluster_id', h.clusterId).int('member_id', h.memberId).int('revision', h.revision).int('raft_term', h.raftTerm);
}

export function encodeHeader(h: ResponseHeader | undefined): string | undefined {
  if (h === undefined) return undefined;
  return new GoJsonObject()
    .int('cluster_id', h.clusterId)
    .int('member_id', h.memberId)
    .int('revision', h.revision)
    .int('raft_term', h.raftTerm)
    .toString();
}

export function encodeKeyValue(kv: KeyValue): string {
  return new GoJsonObject()
    .bytes('key', kv.key)
    .int('create_revision', kv.createRevision)
    .int('mod_revision', kv.modRevision)
    .int('version', kv.version)
    .bytes('value', kv.value)
    .int('lease', kv.lease)
    .toString();
}

export function encodeRangeResponse(r: RangeResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .messages('kvs', r.kvs, encodeKeyValue)
    .bool('more', r.more)
    .int('count', r.count)
    .toString();
}

export function encodePutResponse(r: PutResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .message('prev_kv', r.prevKv === undefined ? undefined : encodeKeyValue(r.prevKv))
    .toString();
}

export function encodeDeleteRangeResponse(r: DeleteRangeResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .int('deleted', r.deleted)
    .messages('prev_kvs', r.prevKvs, encodeKeyValue)
    .toString();
}

export function encodeTxnResponse(r: TxnResponse): string {
  return new GoJsonObject()
    .message('header', encodeHeader(r.header))
    .bool('succeeded', r.succeeded)
    .messages('responses', r.responses, encodeResponseOp)
    .toString();
}

/**
 * A ResponseOp is a Go struct holding the oneof as an interface field named
 * `Response` (no json tag, so no omitempty: null when unset) whose value is a
 * wrapper struct with one untagged field such as `ResponseRange`.
 */
function encodeResponseOp(op: ResponseOp): string {
  let inner = 'null';
  if (op.responseRange !== undefined) inner = wrap('ResponseRange', encodeRangeResponse(op.responseRange));
  else if (op.responsePut !== undefined) inner = wrap('ResponsePut', encodePutResponse(op.responsePut));
  else if (op.responseDeleteRange !== undefined) inner = wrap('ResponseDeleteRange', encodeDeleteRangeResponse(op.responseDeleteRange));
  else if (op.responseTxn !== undefined) inner = wrap('ResponseTxn', encodeTxnResponse(op.responseTxn));
  return new GoJsonObject().raw('Response', inner).toString();
}

function wrap(name: string, encoded: string): string {
  return new GoJsonObject().message(name, encoded).toString();
}
