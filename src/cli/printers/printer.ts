import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { CliError, ExitCode } from '../errors.js';
import type * as watchLease from '../../proto/gen/etcdserverpb/rpc.js';
import type * as admin from '../../proto/gen/etcdserverpb/rpc.js';
import type { EndpointHashKV, EndpointHealth, EndpointStatus, SnapshotStatus } from '../admin/reports.js';
import type * as auth from '../../proto/gen/etcdserverpb/rpc.js';

/** The response of every auth change (user add, role grant-permission, auth enable, ...): a header and nothing else. */
export interface HeaderOnlyResponse {
  header: auth.ResponseHeader | undefined;
}

/** The output formats of etcdctl's -w / --write-out. */
export const outputFormats = ['simple', 'json', 'fields', 'table', 'protobuf'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export function isOutputFormat(name: string): name is OutputFormat {
  return (outputFormats as readonly string[]).includes(name);
}

/** Where a printer writes: raw bytes, because keys and values are bytes. */
export interface Sink {
  write(chunk: string | Uint8Array): void;
}

export interface GetPrintOptions {
  /** --print-value-only: simple output prints values only. */
  valueOnly?: boolean;
  /** --count-only: the response carries only the count. */
  countOnly?: boolean;
}

/**
 * One method per kind of response, one class per output format. The base
 * class answers every method with etcdctl's "<format> not supported as
 * output format" (exit code 4), so a format supports exactly what its class
 * overrides; commands added later add a method here and override it in the
 * formats that print it.
 */
export abstract class Printer {
  abstract readonly format: OutputFormat;

  constructor(protected readonly out: Sink) {}

  put(_r: PutResponse): void {
    this.unsupported();
  }

  get(_r: RangeResponse, _options: GetPrintOptions = {}): void {
    this.unsupported();
  }

  del(_r: DeleteRangeResponse): void {
    this.unsupported();
  }

  txn(_r: TxnResponse): void {
    this.unsupported();
  }

  // Cluster administration (member, endpoint, move-leader, alarm, snapshot status).
  memberAdd(_r: admin.MemberAddResponse): void {
    this.unsupported();
  }

  memberRemove(_id: bigint, _r: admin.MemberRemoveResponse): void {
    this.unsupported();
  }

  memberUpdate(_id: bigint, _r: admin.MemberUpdateResponse): void {
    this.unsupported();
  }

  memberPromote(_id: bigint, _r: admin.MemberPromoteResponse): void {
    this.unsupported();
  }

  memberList(_r: admin.MemberListResponse): void {
    this.unsupported();
  }

  /** The simple format writes health to `err` (stderr), as etcdctl does. */
  endpointHealth(_list: EndpointHealth[], _err: Sink): void {
    this.unsupported();
  }

  endpointStatus(_list: EndpointStatus[]): void {
    this.unsupported();
  }

  endpointHashKV(_list: EndpointHashKV[]): void {
    this.unsupported();
  }

  moveLeader(_leader: bigint, _target: bigint, _r: admin.MoveLeaderResponse): void {
    this.unsupported();
  }

  alarm(_r: admin.AlarmResponse): void {
    this.unsupported();
  }

  snapshotStatus(_s: SnapshotStatus): void {
    this.unsupported();
  }

  // Watch and lease (watch, lease grant|revoke|keep-alive|timetolive|list).
  watch(_r: watchLease.WatchResponse): void {
    this.unsupported();
  }

  leaseGrant(_r: watchLease.LeaseGrantResponse): void {
    this.unsupported();
  }

  leaseRevoke(_id: bigint, _r: watchLease.LeaseRevokeResponse): void {
    this.unsupported();
  }

  leaseKeepAlive(_r: watchLease.LeaseKeepAliveResponse): void {
    this.unsupported();
  }

  leaseTimeToLive(_r: watchLease.LeaseTimeToLiveResponse, _keys: boolean): void {
    this.unsupported();
  }

  leaseLeases(_r: watchLease.LeaseLeasesResponse): void {
    this.unsupported();
  }

  // Authentication (auth, user, role).
  /**
   * A change to users, roles or permissions. The simple and table formats
   * print etcdctl's confirmation line; the others print the response (its
   * header).
   */
  authChange(_confirmation: string | Uint8Array, _r: HeaderOnlyResponse): void {
    this.unsupported();
  }

  authStatus(_r: auth.AuthStatusResponse): void {
    this.unsupported();
  }

  userGet(_name: string, _r: auth.AuthUserGetResponse): void {
    this.unsupported();
  }

  userList(_r: auth.AuthUserListResponse): void {
    this.unsupported();
  }

  roleGet(_name: string, _r: auth.AuthRoleGetResponse): void {
    this.unsupported();
  }

  roleList(_r: auth.AuthRoleListResponse): void {
    this.unsupported();
  }

  protected unsupported(): never {
    throw new CliError(`${this.format} not supported as output format`, ExitCode.badFeature);
  }

  protected line(text: string | Uint8Array = ''): void {
    this.out.write(text);
    this.out.write('\n');
  }
}
