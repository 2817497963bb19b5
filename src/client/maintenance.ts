import {
  DefragmentRequest,
  MoveLeaderRequest,
  type DefragmentResponse,
  type MoveLeaderResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import {
  AlarmRequest,
  HashKVRequest,
  MaintenanceService,
  StatusRequest,
  type AlarmResponse,
  type HashKVResponse,
  type StatusResponse,
} from '../proto/gen/etcdserverpb/rpc.js';
import type { UnaryInvoker } from './invoker.js';
import type { CallOptions } from './options.js';

export interface EndpointCallOptions extends CallOptions {
  /** Ask this endpoint rather than whichever the client is using (status is per member). */
  endpoint?: string;
}

/** The Maintenance service (status, hashKV, alarms; snapshot and defragment come with their commands). */
export class Maintenance {
  constructor(private readonly invoker: UnaryInvoker) {}

  status(options: EndpointCallOptions = {}): Promise<StatusResponse> {
    return this.invoker.unary(MaintenanceService.status, StatusRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  hashKV(revision: bigint, options: EndpointCallOptions = {}): Promise<HashKVResponse> {
    return this.invoker.unary(MaintenanceService.hashKv, HashKVRequest.fromPartial({ revision }), { ...options, retry: 'repeatable' });
  }

  alarm(request: Partial<AlarmRequest>, options: EndpointCallOptions = {}): Promise<AlarmResponse> {
    return this.invoker.unary(MaintenanceService.alarm, AlarmRequest.fromPartial(request), { ...options, retry: 'repeatable' });
  }

  /** Defragments one member's backend (pass `endpoint`: defragmentation is per member). */
  defragment(options: EndpointCallOptions = {}): Promise<DefragmentResponse> {
    return this.invoker.unary(MaintenanceService.defragment, DefragmentRequest.fromPartial({}), { ...options, retry: 'repeatable' });
  }

  /** Asks the leader (send it there) to hand leadership to `targetId`. */
  moveLeader(targetId: bigint, options: EndpointCallOptions = {}): Promise<MoveLeaderResponse> {
    return this.invoker.unary(MaintenanceService.moveLeader, MoveLeaderRequest.fromPartial({ targetID: targetId }), { ...options, retry: 'repeatable' });
  }
}
