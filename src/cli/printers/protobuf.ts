import {
  AlarmResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Printer, type HeaderOnlyResponse } from './printer.js';
import {
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserAddResponse,
  AuthUserGetResponse,
  AuthUserListResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { LeaseRevokeResponse, ResponseHeader, WatchResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type * as watchLease from '../../proto/gen/etcdserverpb/rpc.js';

/**
 * `-w protobuf`: the response's wire encoding, nothing else (no newline), as
 * etcdctl's printer_protobuf.go writes it. Both encoders emit fields in field
 * number order and skip proto3 defaults, so the bytes match etcdctl's.
 */
export class ProtobufPrinter extends Printer {
  readonly format = 'protobuf' as const;

  /** etcdctl rebuilds a WatchResponse from clientv3's struct, without the watch id, fragment flag or cancel reason. */
  override watch(r: watchLease.WatchResponse): void {
    const { header, events, compactRevision, canceled, created } = r;
    this.out.write(WatchResponse.encode(WatchResponse.fromPartial({ header, events, compactRevision, canceled, created })).finish());
  }

  // clientv3's lease responses embed *ResponseHeader, whose Marshal method
  // is all etcdctl finds to call: only the header goes out.
  override leaseGrant(r: watchLease.LeaseGrantResponse): void {
    this.header(r.header);
  }

  override leaseRevoke(_id: bigint, r: watchLease.LeaseRevokeResponse): void {
    this.out.write(LeaseRevokeResponse.encode(r).finish());
  }

  override leaseKeepAlive(r: watchLease.LeaseKeepAliveResponse): void {
    this.header(r.header);
  }

  override leaseTimeToLive(r: watchLease.LeaseTimeToLiveResponse): void {
    this.header(r.header);
  }

  override leaseLeases(r: watchLease.LeaseLeasesResponse): void {
    this.header(r.header);
  }

  private header(h: watchLease.ResponseHeader | undefined): void {
    if (h !== undefined) this.out.write(ResponseHeader.encode(h).finish());
  }

  override put(r: PutResponse): void {
    this.out.write(PutResponse.encode(r).finish());
  }

  override get(r: RangeResponse): void {
    this.out.write(RangeResponse.encode(r).finish());
  }

  override del(r: DeleteRangeResponse): void {
    this.out.write(DeleteRangeResponse.encode(r).finish());
  }

  override txn(r: TxnResponse): void {
    this.out.write(TxnResponse.encode(r).finish());
  }

  override memberAdd(r: MemberAddResponse): void {
    this.out.write(MemberAddResponse.encode(r).finish());
  }

  override memberRemove(_id: bigint, r: MemberRemoveResponse): void {
    this.out.write(MemberRemoveResponse.encode(r).finish());
  }

  override memberUpdate(_id: bigint, r: MemberUpdateResponse): void {
    this.out.write(MemberUpdateResponse.encode(r).finish());
  }

  override memberPromote(_id: bigint, r: MemberPromoteResponse): void {
    this.out.write(MemberPromoteResponse.encode(r).finish());
  }

  override memberList(r: MemberListResponse): void {
    this.out.write(MemberListResponse.encode(r).finish());
  }

  override moveLeader(_leader: bigint, _target: bigint, r: MoveLeaderResponse): void {
    this.out.write(MoveLeaderResponse.encode(r).finish());
  }

  override alarm(r: AlarmResponse): void {
    this.out.write(AlarmResponse.encode(r).finish());
  }

  /** Every auth change answers a message with only a header as field 1, so one encoder serves them all. */
  override authChange(_confirmation: string | Uint8Array, r: HeaderOnlyResponse): void {
    this.out.write(AuthUserAddResponse.encode({ header: r.header }).finish());
  }

  override authStatus(r: AuthStatusResponse): void {
    this.out.write(AuthStatusResponse.encode(r).finish());
  }

  override userGet(_name: string, r: AuthUserGetResponse): void {
    this.out.write(AuthUserGetResponse.encode(r).finish());
  }

  override userList(r: AuthUserListResponse): void {
    this.out.write(AuthUserListResponse.encode(r).finish());
  }

  override roleGet(_name: string, r: AuthRoleGetResponse): void {
    this.out.write(AuthRoleGetResponse.encode(r).finish());
  }

  override roleList(r: AuthRoleListResponse): void {
    this.out.write(AuthRoleListResponse.encode(r).finish());
  }
}
