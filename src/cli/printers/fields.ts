import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { goQuote } from '../go/quote.js';
import type * as watchLease from '../../proto/gen/etcdserverpb/rpc.js';
import { eventTypeName } from './simple.js';
import { Printer } from './printer.js';
import type * as admin from '../../proto/gen/etcdserverpb/rpc.js';
import { alarmTypeName, goStringSlice } from '../admin/go-format.js';
import type * as reports from '../admin/reports.js';
import type * as auth from '../../proto/gen/etcdserverpb/rpc.js';
import type { HeaderOnlyResponse } from './printer.js';
import { permissionTypeName } from '../auth/permissions.js';

/**
 * `-w fields`: one `"Name" : value` line per field, as etcdctl's
 * printer_fields.go writes them (strings and bytes Go-quoted, numbers in
 * decimal). --hex does not apply, as in etcdctl.
 */
export class FieldsPrinter extends Printer {
  readonly format = 'fields' as const;

  override watch(r: watchLease.WatchResponse): void {
    this.header(r.header);
    for (const e of r.events) {
      this.line(`"Type" : ${eventTypeName(e.type)}`);
      if (e.prevKv !== undefined) this.kv('Prev', e.prevKv);
      if (e.kv !== undefined) this.kv('', e.kv);
    }
  }

  override leaseGrant(r: watchLease.LeaseGrantResponse): void {
    this.header(r.header);
    this.field('ID', r.ID);
    this.field('TTL', r.TTL);
  }

  override leaseRevoke(_id: bigint, r: watchLease.LeaseRevokeResponse): void {
    this.header(r.header);
  }

  override leaseKeepAlive(r: watchLease.LeaseKeepAliveResponse): void {
    this.header(r.header);
    this.field('ID', r.ID);
    this.field('TTL', r.TTL);
  }

  override leaseTimeToLive(r: watchLease.LeaseTimeToLiveResponse): void {
    this.header(r.header);
    this.field('ID', r.ID);
    this.field('TTL', r.TTL);
    this.field('GrantedTTL', r.grantedTTL);
    for (const key of r.keys) this.line(`"Key" : ${goQuote(key)}`);
  }

  override leaseLeases(r: watchLease.LeaseLeasesResponse): void {
    this.header(r.header);
    for (const lease of r.leases) this.field('ID', lease.ID);
  }

  override put(r: PutResponse): void {
    this.header(r.header);
    if (r.prevKv !== undefined) this.kv('Prev', r.prevKv);
  }

  override get(r: RangeResponse): void {
    this.header(r.header);
    for (const kv of r.kvs) this.kv('', kv);
    this.field('More', r.more);
    this.field('Count', r.count);
  }

  override del(r: DeleteRangeResponse): void {
    this.header(r.header);
    this.field('Deleted', r.deleted);
    for (const kv of r.prevKvs) this.kv('Prev', kv);
  }

  override txn(r: TxnResponse): void {
    this.header(r.header);
    this.field('Succeeded', r.succeeded);
    for (const op of r.responses) {
      if (op.responseDeleteRange !== undefined) this.del(op.responseDeleteRange);
      else if (op.responsePut !== undefined) this.put(op.responsePut);
      else if (op.responseRange !== undefined) this.get(op.responseRange);
      else this.line(`"Unknown" : ${goQuote(op.responseTxn !== undefined ? 'response_txn' : '<nil>')}`);
    }
  }

  override memberList(r: admin.MemberListResponse): void {
    this.header(r.header);
    for (const m of r.members) {
      this.field('ID', BigInt.asUintN(64, m.ID));
      this.line(`"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs) this.line(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs) this.line(`"ClientURL" : ${goQuote(u)}`);
      this.field('IsLearner', m.isLearner);
      this.line();
    }
  }

  override endpointHealth(list: reports.EndpointHealth[]): void {
    for (const h of list) {
      this.line(`"Endpoint" : ${goQuote(h.endpoint)}`);
      this.field('Health', h.health);
      this.line(`"Took" : ${h.took}`);
      this.line(`"Error" : ${h.error}`);
      this.line();
    }
  }

  override endpointStatus(list: reports.EndpointStatus[]): void {
    for (const { endpoint, status: s } of list) {
      this.header(s.header);
      this.line(`"Version" : ${goQuote(s.version)}`);
      this.field('DBSize', s.dbSize);
      this.field('Leader', BigInt.asUintN(64, s.leader));
      this.field('IsLearner', s.isLearner);
      this.field('RaftIndex', BigInt.asUintN(64, s.raftIndex));
      this.field('RaftTerm', BigInt.asUintN(64, s.raftTerm));
      this.field('RaftAppliedIndex', BigInt.asUintN(64, s.raftAppliedIndex));
      this.line(`"Errors" : ${goStringSlice(s.errors)}`);
      this.line(`"Endpoint" : ${goQuote(endpoint)}`);
      this.line();
    }
  }

  override endpointHashKV(list: reports.EndpointHashKV[]): void {
    for (const h of list) {
      this.header(h.hashKV.header);
      this.line(`"Endpoint" : ${goQuote(h.endpoint)}`);
      this.field('Hash', h.hashKV.hash >>> 0);
      this.line();
    }
  }

  override alarm(r: admin.AlarmResponse): void {
    // etcdctl 3.4 dereferences a missing header here and panics; we print zeros.
    this.header(r.header);
    for (const a of r.alarms) {
      this.field('MemberID', BigInt.asUintN(64, a.memberID));
      this.line(`"AlarmType" : ${alarmTypeName(a.alarm)}`);
      this.line();
    }
  }

  override snapshotStatus(s: reports.SnapshotStatus): void {
    this.field('Hash', s.hash >>> 0);
    this.field('Revision', s.revision);
    this.field('Keys', s.totalKey);
    this.field('Size', s.totalSize);
  }

  override authChange(_confirmation: string | Uint8Array, r: HeaderOnlyResponse): void {
    this.header(r.header);
  }

  override roleGet(_name: string, r: auth.AuthRoleGetResponse): void {
    this.header(r.header);
    for (const perm of r.perm) {
      // Go's Println puts a space between `"PermType" : ` and the name: two spaces.
      this.line(`"PermType" :  ${permissionTypeName(perm.permType)}`);
      this.line(`"Key" : ${goQuote(perm.key)}`);
      this.line(`"RangeEnd" : ${goQuote(perm.rangeEnd)}`);
    }
  }

  override roleList(r: auth.AuthRoleListResponse): void {
    this.header(r.header);
    this.nameList('Roles', r.roles);
  }

  // etcdctl 3.4 has no fields output for users ("fields not supported as
  // output format") nor for auth status; these follow roleList's shape.
  override userGet(_name: string, r: auth.AuthUserGetResponse): void {
    this.header(r.header);
    this.nameList('Roles', r.roles);
  }

  override userList(r: auth.AuthUserListResponse): void {
    this.header(r.header);
    this.nameList('Users', r.users);
  }

  override authStatus(r: auth.AuthStatusResponse): void {
    this.header(r.header);
    this.field('Enabled', r.enabled);
    this.field('AuthRevision', r.authRevision);
  }

  private nameList(name: string, names: readonly string[]): void {
    this.line(`"${name}" :${names.map((n) => ` ${goQuote(n)}`).join('')}`);
  }

  protected header(h: ResponseHeader | undefined): void {
    // Go dereferences the header pointer here; a response always carries one.
    this.field('ClusterID', h?.clusterId ?? 0n);
    this.field('MemberID', h?.memberId ?? 0n);
    this.field('Revision', h?.revision ?? 0n);
    this.field('RaftTerm', h?.raftTerm ?? 0n);
  }

  protected kv(prefix: string, kv: KeyValue): void {
    this.line(`"${prefix}Key" : ${goQuote(kv.key)}`);
    this.field(`${prefix}CreateRevision`, kv.createRevision);
    this.field(`${prefix}ModRevision`, kv.modRevision);
    this.field(`${prefix}Version`, kv.version);
    this.line(`"${prefix}Value" : ${goQuote(kv.value)}`);
    this.field(`${prefix}Lease`, kv.lease);
  }

  protected field(name: string, value: bigint | number | boolean): void {
    this.line(`"${name}" : ${value.toString()}`);
  }
}
