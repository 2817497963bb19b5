import type { sendUnaryData, StatusObject } from '@grpc/grpc-js';
import type { PeerHeader } from '../../proto/gen/etcdtspb/peer.js';
import type { Settings } from './env.js';
import {
  ClusterIdMismatchError,
  MemberIdMismatchError,
  MemberRemovedError,
  refusalStatus,
  type PeerRefusedError,
} from './errors.js';
import type { PeerCounters } from './peer-counters.js';
import type { PeerStatus } from './peer-status.js';
import type { PeerHandler, TransportLogger, WireStatus } from './transport-interface.js';

/** What the receiving side needs from the transport that owns it. */
export interface InboundEnv {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly handler: PeerHandler;
  readonly logger: TransportLogger;
  readonly settings: Settings;
  readonly errorToStatus: (err: unknown) => WireStatus;
  counters(id: bigint): PeerCounters;
  status(id: bigint): PeerStatus;
}

/**
 * Who may talk to us: members of our cluster (same cluster id), addressing
 * us (a reused URL could point a stale peer at the wrong member), and not
 * removed (etcd answers those "410 Gone" so that they stop themselves).
 */
export function checkPeer(env: InboundEnv, h: PeerHeader, o: { allowZeroCluster?: boolean } = {}): PeerRefusedError | undefined {
  if (h.clusterId !== env.clusterId && !(o.allowZeroCluster === true && h.clusterId === 0n)) {
    return new ClusterIdMismatchError(env.clusterId, h.clusterId);
  }
  if (h.to !== env.memberId) return new MemberIdMismatchError();
  if (h.from !== 0n && env.handler.isRemoved(h.from)) return new MemberRemovedError();
  return undefined;
}

/** Answers a refused call and logs who was refused and why. */
export function refuse(env: InboundEnv, refusal: PeerRefusedError, from: bigint, address: string, callback: sendUnaryData<never>): void {
  const fields: Record<string, string> = { 'remote-peer-id': from.toString(16), 'remote-address': address, reason: refusal.kind };
  if (refusal instanceof ClusterIdMismatchError) {
    fields['local-cluster-id'] = env.clusterId.toString(16);
    fields['remote-cluster-id'] = refusal.senderClusterId.toString(16);
    env.logger.error(fields, 'refused request from peer: cluster ID mismatch');
  } else {
    env.logger.warn(fields, `refused request from peer: ${refusal.message}`);
  }
  env.counters(from).receiveFailures++;
  callback(refusalStatus(refusal, env.clusterId) as StatusObject, null);
}

