import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  ResponseOp,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Printer, type GetPrintOptions, type Sink } from './printer.js';
import type * as watchLease from '../../proto/gen/etcdserverpb/rpc.js';
import type * as admin from '../../proto/gen/etcdserverpb/rpc.js';
import { alarmMemberText, goHex, goHexWidth16 } from '../admin/go-format.js';
import * as reports from '../admin/reports.js';
import type * as auth from '../../proto/gen/etcdserverpb/rpc.js';
import { grantsRead, grantsWrite, permissionText } from '../auth/permissions.js';

/**
 * etcdctl's default output (printer_simple.go): keys and values as raw bytes,
 * one per line, or as \xNN escapes with --hex. Byte-compatible with etcdctl.
 */
export class SimplePrinter extends Printer {
  readonly format = 'simple' as const;

  override watch(r: watchLease.WatchResponse): void {
    for (const e of r.events) {
      this.line(eventTypeName(e.type));
      if (e.prevKv !== undefined) this.kv(e.prevKv, false);
      if (e.kv !== undefined) this.kv(e.kv, false);
    }
  }

  override leaseGrant(r: watchLease.LeaseGrantResponse): void {
    this.line(`lease ${leaseIdHex(r.ID)} granted with TTL(${r.TTL}s)`);
  }

  override leaseRevoke(id: bigint): void {
    this.line(`lease ${leaseIdHex(id)} revoked`);
  }

  override leaseKeepAlive(r: watchLease.LeaseKeepAliveResponse): void {
    this.line(`lease ${leaseIdHex(r.ID)} keepalived with TTL(${r.TTL})`);
  }

  override leaseTimeToLive(r: watchLease.LeaseTimeToLiveResponse, keys: boolean): void {
    if (r.grantedTTL === 0n && r.TTL === -1n) {
      this.line(`lease ${leaseIdHex(r.ID)} already expired`);
      return;
    }
    this.out.write(`lease ${leaseIdHex(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`);
    // Go's %v of a []string: the raw strings between brackets, separated by spaces.
    if (keys) this.out.write(Buffer.concat([Buffer.from(', attached keys(['), joinBytes(r.keys, ' '), Buffer.from('])')]));
    this.line();
  }

  override leaseLeases(r: watchLease.LeaseLeasesResponse): void {
    this.line(`found ${r.leases.length} leases`);
    for (const lease of r.leases) this.line(leaseIdHex(lease.ID));
  }

  constructor(out: Sink, private readonly hex: boolean) {
    super(out);
  }

  override put(r: PutResponse): void {
    this.line('OK');
    if (r.prevKv !== undefined) this.kv(r.prevKv, false);
  }

  override get(r: RangeResponse, options: GetPrintOptions = {}): void {
    // etcdctl 3.4 has no --count-only; for a count the plain number is what a script wants.
    if (options.countOnly === true) {
      this.line(r.count.toString());
      return;
    }
    for (const kv of r.kvs) this.kv(kv, options.valueOnly === true);
  }

  override del(r: DeleteRangeResponse): void {
    this.line(r.deleted.toString());
    for (const kv of r.prevKvs) this.kv(kv, false);
  }

  override txn(r: TxnResponse): void {
    this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
    for (const op of r.responses) {
      this.line();
      this.responseOp(op);
    }
  }

  override memberAdd(r: admin.MemberAddResponse): void {
    this.line(`Member ${goHexWidth16(r.member?.ID ?? 0n)} added to cluster ${goHexWidth16(r.header?.clusterId ?? 0n)}`);
  }

  override memberRemove(id: bigint, r: admin.MemberRemoveResponse): void {
    this.line(`Member ${goHexWidth16(id)} removed from cluster ${goHexWidth16(r.header?.clusterId ?? 0n)}`);
  }

  override memberUpdate(id: bigint, r: admin.MemberUpdateResponse): void {
    this.line(`Member ${goHexWidth16(id)} updated in cluster ${goHexWidth16(r.header?.clusterId ?? 0n)}`);
  }

  override memberPromote(id: bigint, r: admin.MemberPromoteResponse): void {
    this.line(`Member ${goHexWidth16(id)} promoted in cluster ${goHexWidth16(r.header?.clusterId ?? 0n)}`);
  }

  override memberList(r: admin.MemberListResponse): void {
    for (const line of reports.simpleLines(reports.memberListTable(r))) this.line(line);
  }

  override endpointHealth(list: reports.EndpointHealth[], err: Sink): void {
    for (const h of list) {
      if (h.error === '') err.write(`${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else err.write(`${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
  }

  override endpointStatus(list: reports.EndpointStatus[]): void {
    for (const line of reports.simpleLines(reports.endpointStatusTable(list))) this.line(line);
  }

  override endpointHashKV(list: reports.EndpointHashKV[]): void {
    for (const line of reports.simpleLines(reports.endpointHashKVTable(list))) this.line(line);
  }

  override moveLeader(leader: bigint, target: bigint): void {
    this.line(`Leadership transferred from ${goHex(leader)} to ${goHex(target)}`);
  }

  override alarm(r: admin.AlarmResponse): void {
    for (const m of r.alarms) this.line(alarmMemberText(m));
  }

  override snapshotStatus(s: reports.SnapshotStatus): void {
    for (const line of reports.simpleLines(reports.snapshotStatusTable(s))) this.line(line);
  }

  override authChange(confirmation: string | Uint8Array): void {
    this.line(confirmation);
  }

  override authStatus(r: auth.AuthStatusResponse): void {
    this.line(`Authentication Status: ${r.enabled}`);
    this.line(`AuthRevision: ${r.authRevision}`);
  }

  override userGet(name: string, r: auth.AuthUserGetResponse): void {
    this.line(`User: ${name}`);
    this.line(`Roles:${r.roles.map((role) => ` ${role}`).join('')}`);
  }

  override userList(r: auth.AuthUserListResponse): void {
    for (const user of r.users) this.line(user);
  }

  /** Read permissions, then write permissions (a readwrite one under both), one per line after a tab. */
  override roleGet(name: string, r: auth.AuthRoleGetResponse): void {
    this.line(`Role ${name}`);
    this.line('KV Read:');
    for (const perm of r.perm) if (grantsRead(perm.permType)) this.line(Buffer.concat([Buffer.from('\t'), permissionText(perm)]));
    this.line('KV Write:');
    for (const perm of r.perm) if (grantsWrite(perm.permType)) this.line(Buffer.concat([Buffer.from('\t'), permissionText(perm)]));
  }

  override roleList(r: auth.AuthRoleListResponse): void {
    for (const role of r.roles) this.line(role);
  }

  private responseOp(op: ResponseOp): void {
    if (op.responseDeleteRange !== undefined) this.del(op.responseDeleteRange);
    else if (op.responsePut !== undefined) this.put(op.responsePut);
    else if (op.responseRange !== undefined) this.get(op.responseRange);
    else if (op.responseTxn !== undefined) this.txn(op.responseTxn);
    else this.line('unexpected response {Response:<nil>}');
  }

  private kv(kv: KeyValue, valueOnly: boolean): void {
    if (!valueOnly) this.line(this.bytes(kv.key));
    this.line(this.bytes(kv.value));
  }

  private bytes(b: Uint8Array): string | Uint8Array {
    return this.hex ? hexEscape(b) : b;
  }
}

/** A lease id as etcdctl prints it (Go's %016x of an int64). */
export function leaseIdHex(id: bigint): string {
  const signed = BigInt.asIntN(64, id);
  return signed < 0n ? `-${(-signed).toString(16).padStart(15, '0')}` : signed.toString(16).padStart(16, '0');
}

/** mvccpb.Event_EventType's Go name. */
export function eventTypeName(type: number): string {
  return type === 0 ? 'PUT' : type === 1 ? 'DELETE' : String(type);
}

function joinBytes(parts: readonly Uint8Array[], separator: string): Buffer {
  const sep = Buffer.from(separator);
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [sep, p])));
}

/** etcdctl's --hex form: every byte as \xNN, lower case. */
export function hexEscape(b: Uint8Array): string {
  let out = '';
  for (const byte of b) out += `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}
