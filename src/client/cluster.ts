import { ClusterService, MemberListRequest, type MemberListResponse } from '../proto/gen/etcdserverpb/rpc.js';
import {
  MemberAddRequest,
  MemberPromoteRequest,
  MemberRemoveRequest,
  MemberUpdateRequest,
  type MemberAddResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { UnaryInvoker } from './invoker.js';
import type { CallOptions } from './options.js';

/** The Cluster service: membership list and reconfiguration. */
export class Cluster {
  constructor(private readonly invoker: UnaryInvoker) {}

  memberList(options: CallOptions & { linearizable?: boolean; endpoint?: string } = {}): Promise<MemberListResponse> {
    const request = MemberListRequest.fromPartial({ linearizable: options.linearizable ?? false });
    return this.invoker.unary(ClusterService.memberList, request, { ...options, retry: 'repeatable' });
  }

  /** Adds a member (a learner with `isLearner`). Not retried: a second add could add a second member. */
  memberAdd(peerURLs: string[], options: CallOptions & { isLearner?: boolean } = {}): Promise<MemberAddResponse> {
    const request = MemberAddRequest.fromPartial({ peerURLs, isLearner: options.isLearner ?? false });
    return this.invoker.unary(ClusterService.memberAdd, request, { ...options, retry: 'nonRepeatable' });
  }

  memberRemove(id: bigint, options: CallOptions = {}): Promise<MemberRemoveResponse> {
    return this.invoker.unary(ClusterService.memberRemove, MemberRemoveRequest.fromPartial({ ID: id }), { ...options, retry: 'repeatable' });
  }

  memberUpdate(id: bigint, peerURLs: string[], options: CallOptions = {}): Promise<MemberUpdateResponse> {
    const request = MemberUpdateRequest.fromPartial({ ID: id, peerURLs });
    return this.invoker.unary(ClusterService.memberUpdate, request, { ...options, retry: 'repeatable' });
  }

  memberPromote(id: bigint, options: CallOptions = {}): Promise<MemberPromoteResponse> {
    return this.invoker.unary(ClusterService.memberPromote, MemberPromoteRequest.fromPartial({ ID: id }), { ...options, retry: 'repeatable' });
  }
}
