import {
  AlarmRequest_AlarmAction, AlarmType, Compare_CompareResult, Compare_CompareTarget,
  type Compare, type DeleteRangeRequest, type PutRequest, type RangeRequest, type RequestOp, type TxnRequest,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Permission_Type } from '../../proto/gen/authpb/auth.js';
import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';

/**
 * One request as the slow-request log prints it, in the shape of etcd's
 * InternalRaftStringer (protobuf compact text: `header:<ID:7 > put:<key:"a"
 * value_size:3 >`), and more careful than etcd with what it leaves out:
 * values are sizes (as in etcd), passwords and tokens never appear (etcd
 * 3.4 printed the simple token of Authenticate), and while authentication is
 * on, keys are sizes too (`key_size:3`): key names are often the secret
 * (which user, which tenant), and a log is read by more people than the
 * data is.
 */
export interface SummaryOptions {
  /** Print key_size instead of the key (authentication on). */
  redactKeys: boolean;
}

/** Protobuf text format's string escaping: printable ASCII as is, \n \r \t \" \\, anything else octal. */
function textBytes(b: Uint8Array): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${c.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** Compact text: each set field as `name:value ` (zero values left out, as proto3 does). */
class Text {
  private out = '';

  field(name: string, value: string | undefined): this {
    if (value !== undefined) this.out += `${name}:${value} `;
    return this;
  }

  int(name: string, value: bigint | number): this {
    return this.field(name, value === 0n || value === 0 ? undefined : String(value));
  }

  bool(name: string, value: boolean): this {
    return this.field(name, value ? 'true' : undefined);
  }

  str(name: string, value: string): this {
    return this.field(name, value === '' ? undefined : textBytes(Buffer.from(value, 'utf8')));
  }

  /** A key or range end: the bytes, or their count when keys are redacted. */
  key(name: string, value: Uint8Array, o: SummaryOptions): this {
    if (value.length === 0) return this;
    return o.redactKeys ? this.int(`${name}_size`, value.length) : this.field(name, textBytes(value));
  }

  nested(name: string, inner: string | undefined): this {
    return this.field(name, inner === undefined ? undefined : `<${inner}>`);
  }

  toString(): string {
    return this.out;
  }
}

export function summarizePut(p: PutRequest, o: SummaryOptions): string {
  return new Text().key('key', p.key, o).int('value_size', p.value.length).int('lease', p.lease)
    .bool('prev_kv', p.prevKv).bool('ignore_value', p.ignoreValue).bool('ignore_lease', p.ignoreLease).toString();
}

export function summarizeRange(r: RangeRequest, o: SummaryOptions): string {
  return new Text().key('key', r.key, o).key('range_end', r.rangeEnd, o).int('limit', r.limit).int('revision', r.revision)
    .int('sort_order', r.sortOrder).int('sort_target', r.sortTarget).bool('serializable', r.serializable)
    .bool('keys_only', r.keysOnly).bool('count_only', r.countOnly).toString();
}

function summarizeDelete(d: DeleteRangeRequest, o: SummaryOptions): string {
  return new Text().key('key', d.key, o).key('range_end', d.rangeEnd, o).bool('prev_kv', d.prevKv).toString();
}

function summarizeCompare(c: Compare, o: SummaryOptions): string {
  const t = new Text().field('result', Compare_CompareResult[c.result]).field('target', Compare_CompareTarget[c.target]).key('key', c.key, o);
  if (c.version !== undefined) t.field('version', String(c.version));
  if (c.createRevision !== undefined) t.field('create_revision', String(c.createRevision));
  if (c.modRevision !== undefined) t.field('mod_revision', String(c.modRevision));
  if (c.value !== undefined) t.field('value_size', String(c.value.length));
  if (c.lease !== undefined) t.field('lease', String(c.lease));
  return t.key('range_end', c.rangeEnd, o).toString();
}

function summarizeOp(op: RequestOp, o: SummaryOptions): string {
  if (op.requestRange !== undefined) return `request_range:<${summarizeRange(op.requestRange, o)}>`;
  if (op.requestPut !== undefined) return `request_put:<${summarizePut(op.requestPut, o)}>`;
  if (op.requestDeleteRange !== undefined) return `request_delete_range:<${summarizeDelete(op.requestDeleteRange, o)}>`;
  if (op.requestTxn !== undefined) return `request_txn:<${summarizeTxn(op.requestTxn, o)}>`;
  return '';
}

export function summarizeTxn(t: TxnRequest, o: SummaryOptions): string {
  const compare = t.compare.map((c) => summarizeCompare(c, o)).join(' ');
  const success = t.success.map((op) => summarizeOp(op, o)).join(' ');
  const failure = t.failure.map((op) => summarizeOp(op, o)).join(' ');
  return `compare:<${compare}> success:<${success}> failure:<${failure}>`;
}

/** The kind of request an entry carries (the name of its oneof member, as etcd prints it). */
export function requestKind(r: InternalRaftRequest): string {
  for (const [name, value] of Object.entries(r)) {
    if (name !== 'header' && value !== undefined && value !== null) return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }
  return 'none';
}

/** An internal request, in etcd's InternalRaftStringer shape with our redactions. */
export function summarizeRequest(r: InternalRaftRequest, o: SummaryOptions): string {
  const h = r.header;
  const header = new Text().int('ID', h?.ID ?? 0n).str('username', h?.username ?? '').int('auth_revision', h?.authRevision ?? 0n);
  const body = summarizeBody(r, o);
  return `header:<${header.toString()}> ${body}`;
}

function summarizeBody(r: InternalRaftRequest, o: SummaryOptions): string {
  if (r.put !== undefined) return `put:<${summarizePut(r.put, o)}>`;
  if (r.deleteRange !== undefined) return `delete_range:<${summarizeDelete(r.deleteRange, o)}>`;
  if (r.txn !== undefined) return `txn:<${summarizeTxn(r.txn, o)}>`;
  if (r.compaction !== undefined) return `compaction:<${new Text().int('revision', r.compaction.revision).bool('physical', r.compaction.physical).toString()}>`;
  if (r.leaseGrant !== undefined) return `lease_grant:<ttl:${r.leaseGrant.TTL}-second id:${hex16(r.leaseGrant.ID)}>`;
  if (r.leaseRevoke !== undefined) return `lease_revoke:<id:${hex16(r.leaseRevoke.ID)}>`;
  if (r.alarm !== undefined) {
    const a = r.alarm;
    return `alarm:<${new Text().field('action', AlarmRequest_AlarmAction[a.action]).int('memberID', a.memberID).field('alarm', AlarmType[a.alarm]).toString()}>`;
  }
  // The token a member registers for the user is left out: it is a credential.
  if (r.authenticate !== undefined) return `authenticate:<${new Text().str('name', r.authenticate.name).toString()}>`;
  if (r.authRoleGrantPermission !== undefined) {
    const g = r.authRoleGrantPermission;
    const perm = g.perm === undefined ? undefined
      : new Text().field('permType', Permission_Type[g.perm.permType]).key('key', g.perm.key, o).key('range_end', g.perm.rangeEnd, o).toString();
    return `auth_role_grant_permission:<${new Text().str('name', g.name).nested('perm', perm).toString()}>`;
  }
  if (r.authRoleRevokePermission !== undefined) {
    const v = r.authRoleRevokePermission;
    return `auth_role_revoke_permission:<${new Text().str('role', v.role).key('key', v.key, o).key('range_end', v.rangeEnd, o).toString()}>`;
  }
  return `${requestKind(r)}:<${namesOf(r)}>`;
}

/** The names a remaining request (user, role, member changes) carries; nothing else of it is printed. */
function namesOf(r: InternalRaftRequest): string {
  const inner = Object.entries(r).find(([name, value]) => name !== 'header' && value !== undefined)?.[1] as Record<string, unknown> | undefined;
  const t = new Text();
  for (const field of ['name', 'user', 'role']) {
    const value = inner?.[field];
    if (typeof value === 'string') t.str(field, value);
  }
  return t.toString();
}

function hex16(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}
