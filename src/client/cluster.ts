import { ClusterService, MemberListRequest, type MemberListResponse } from '../proto/gen/etcdserverpb/rpc.js';
import type { UnaryInvoker } from './invoker.js';
import type { CallOptions } from './options.js';

/** The Cluster service (member list; add/remove/update/promote come with the membership commands). */
export class Cluster {
  constructor(private readonly invoker: UnaryInvoker) {}

  memberList(options: CallOptions & { linearizable?: boolean; endpoint?: string } = {}): Promise<MemberListResponse> {
    const request = MemberListRequest.fromPartial({ linearizable: options.linearizable ?? false });
    return this.invoker.unary(ClusterService.memberList, request, { ...options, retry: 'repeatable' });
  }
}
