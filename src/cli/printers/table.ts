import Table from 'cli-table3';
import type { KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { decodeRune, runeError } from '../go/utf8.js';
import { goQuote, isPrint } from '../go/quote.js';
import { Printer, type GetPrintOptions, type Sink } from './printer.js';
import { hexEscape } from './simple.js';
import type * as admin from '../../proto/gen/etcdserverpb/rpc.js';
import { alarmTypeName, goHex } from '../admin/go-format.js';
import * as reports from '../admin/reports.js';
import type * as auth from '../../proto/gen/etcdserverpb/rpc.js';
import type { Permission } from '../../proto/gen/authpb/auth.js';
import { fromKeyEnd } from '../../client/keys.js';
import { isOpenEnded, isPrefixRange, permissionTypeName } from '../auth/permissions.js';

/**
 * `-w table`, for people rather than scripts. etcdctl 3.4 refuses table
 * output for key-value commands; we print one row per key. Bytes that would
 * break a row (control characters, invalid UTF-8) are shown Go-quoted, and
 * --hex shows every byte escaped. Loaded lazily: cli-table3 costs start-up
 * time that `get -w simple` should not pay.
 */
export class TablePrinter extends Printer {
  readonly format = 'table' as const;

  constructor(out: Sink, private readonly hex: boolean) {
    super(out);
  }

  override put(r: PutResponse): void {
    this.line('OK');
    if (r.prevKv !== undefined) this.kvTable([r.prevKv], 'previous');
  }

  override get(r: RangeResponse, options: GetPrintOptions = {}): void {
    const revision = r.header?.revision ?? 0n;
    if (options.countOnly === true) {
      this.render(['Count', 'Revision'], [[r.count.toString(), revision.toString()]]);
      return;
    }
    this.kvTable(r.kvs);
    const more = r.more ? ', more available' : '';
    this.line(`${r.kvs.length} of ${r.count} keys at revision ${revision}${more}`);
  }

  override del(r: DeleteRangeResponse): void {
    this.line(`Deleted ${r.deleted} keys`);
    if (r.prevKvs.length > 0) this.kvTable(r.prevKvs, 'previous');
  }

  override txn(r: TxnResponse): void {
    this.line(r.succeeded ? 'SUCCESS' : 'FAILURE');
    for (const op of r.responses) {
      this.line();
      if (op.responseRange !== undefined) this.get(op.responseRange);
      else if (op.responsePut !== undefined) this.put(op.responsePut);
      else if (op.responseDeleteRange !== undefined) this.del(op.responseDeleteRange);
      else if (op.responseTxn !== undefined) this.txn(op.responseTxn);
    }
  }

  // etcdctl's tables for cluster administration, with its column names in capitals as tablewriter shows them.
  override memberList(r: admin.MemberListResponse): void {
    this.adminTable(reports.memberListTable(r));
  }

  override endpointHealth(list: reports.EndpointHealth[]): void {
    this.adminTable(reports.endpointHealthTable(list));
  }

  override endpointStatus(list: reports.EndpointStatus[]): void {
    this.adminTable(reports.endpointStatusTable(list));
  }

  override endpointHashKV(list: reports.EndpointHashKV[]): void {
    this.adminTable(reports.endpointHashKVTable(list));
  }

  override snapshotStatus(s: reports.SnapshotStatus): void {
    this.adminTable(reports.snapshotStatusTable(s));
  }

  /** etcdctl 3.4 has no alarm table; one row per alarm. */
  override alarm(r: admin.AlarmResponse): void {
    this.adminTable({ head: ['member ID', 'alarm'], rows: r.alarms.map((a) => [goHex(a.memberID), alarmTypeName(a.alarm)]) });
  }

  // etcdctl 3.4 prints no tables for auth commands; these are ours.
  override authChange(confirmation: string | Uint8Array): void {
    this.line(confirmation);
  }

  override authStatus(r: auth.AuthStatusResponse): void {
    this.render(['ENABLED', 'AUTH REVISION'], [[String(r.enabled), r.authRevision.toString()]]);
  }

  override userGet(name: string, r: auth.AuthUserGetResponse): void {
    this.render(['USER', 'ROLES'], [[name, r.roles.join(', ')]]);
  }

  override userList(r: auth.AuthUserListResponse): void {
    this.render(['USER'], r.users.map((u) => [u]));
  }

  /** One row per permission, its keys in words: a key, a range, a prefix, from a key on, every key. */
  override roleGet(name: string, r: auth.AuthRoleGetResponse): void {
    this.line(`Role ${name}`);
    this.render(['PERMISSION', 'KEYS'], r.perm.map((p) => [permissionTypeName(p.permType), this.permissionKeys(p)]));
  }

  override roleList(r: auth.AuthRoleListResponse): void {
    this.render(['ROLE'], r.roles.map((role) => [role]));
  }

  private permissionKeys(p: Permission): string {
    if (p.rangeEnd.length === 0) return this.display(p.key);
    if (isOpenEnded(p)) return p.key.equals(fromKeyEnd) ? 'every key' : `from ${this.display(p.key)} on`;
    if (isPrefixRange(p)) return `prefix ${this.display(p.key)}`;
    return `[${this.display(p.key)}, ${this.display(p.rangeEnd)})`;
  }

  private adminTable(table: reports.Table): void {
    this.render(table.head.map((h) => h.toUpperCase()), table.rows);
  }

  private kvTable(kvs: readonly KeyValue[], caption?: string): void {
    if (caption !== undefined) this.line(caption);
    const head = ['Key', 'Value', 'Create Rev', 'Mod Rev', 'Version', 'Lease'];
    const rows = kvs.map((kv) => [
      this.display(kv.key),
      this.display(kv.value),
      kv.createRevision.toString(),
      kv.modRevision.toString(),
      kv.version.toString(),
      kv.lease === 0n ? '' : BigInt.asUintN(64, kv.lease).toString(16).padStart(16, '0'),
    ]);
    this.render(head, rows);
  }

  private render(head: string[], rows: string[][]): void {
    const table = new Table({ head, style: { head: [], border: [] } });
    table.push(...rows);
    this.line(table.toString());
  }

  private display(b: Uint8Array): string {
    if (this.hex) return hexEscape(b);
    return printableText(b) ?? goQuote(b);
  }
}

/** The bytes as text when they are valid UTF-8 made only of printable runes, else undefined. */
function printableText(b: Uint8Array): string | undefined {
  for (let i = 0; i < b.length; ) {
    const [r, width] = decodeRune(b, i);
    if ((r === runeError && width === 1) || !isPrint(r)) return undefined;
    i += width;
  }
  return Buffer.from(b).toString('utf8');
}
