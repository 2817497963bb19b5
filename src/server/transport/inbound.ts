import {
  Metadata,
  status as Status,
  type ServerReadableStream,
  type ServerUnaryCall,
  type sendUnaryData,
  type StatusObject,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { HashKVRequest, LeaseKeepAliveRequest, LeaseTimeToLiveRequest } from '../../proto/gen/etcdserverpb/rpc.js';
import type { MembersRequest, PeerAck, PeerHeader, SnapshotChunk } from '../../proto/gen/etcdtspb/peer.js';
import { ClusterIdMismatchError } from './errors.js';
import { checkPeer, refuse, type InboundEnv } from './peer-check.js';
import { receiveSnapshot } from './snapshot-receiver.js';
import type { WireStatus } from './transport-interface.js';
import type { ReceivedBatch } from './wire.js';

/** Metadata keys identifying the sender of the unary lease calls, which have no PeerHeader. */
export const clusterIdMetadataKey = 'etcdts-cluster-id';
export const fromMetadataKey = 'etcdts-from';

/** The gRPC implementation of etcdtspb.Peer on this member's peer listeners. */
export function peerServiceImpl(env: InboundEnv): UntypedServiceImplementation {
  return {
    messages: (call: ServerReadableStream<ReceivedBatch, PeerAck>, callback: sendUnaryData<PeerAck>) =>
      receiveMessages(env, call, callback),
    snapshot: (call: ServerReadableStream<SnapshotChunk, PeerAck>, callback: sendUnaryData<PeerAck>) =>
      void receiveSnapshot(env, call, callback),
    members: (call: ServerUnaryCall<MembersRequest, unknown>, callback: sendUnaryData<unknown>) => {
      const h = call.request.header;
      // A joining member knows neither the cluster id nor its own id yet: zeros pass.
      const refusal = h === undefined ? undefined : checkPeer(env, { ...h, to: env.memberId }, { allowZeroCluster: true });
      if (refusal !== undefined) return refuse(env, refusal, h?.from ?? 0n, call.getPeer(), callback);
      callback(null, env.handler.members());
    },
    leaseRenew: (call: ServerUnaryCall<LeaseKeepAliveRequest, unknown>, callback: sendUnaryData<unknown>) =>
      forwarded(env, call, callback, (req) => env.handler.leaseRenew(req)),
    leaseTimeToLive: (call: ServerUnaryCall<LeaseTimeToLiveRequest, unknown>, callback: sendUnaryData<unknown>) =>
      forwarded(env, call, callback, (req) => env.handler.leaseTimeToLive(req)),
    hashKv: (call: ServerUnaryCall<HashKVRequest, unknown>, callback: sendUnaryData<unknown>) =>
      forwarded(env, call, callback, (req) => env.handler.hashKV(req)),
  };
}

/**
 * The receiving end of one peer's Messages stream. The first batch (empty)
 * introduces the sender; we accept it by sending response headers, which
 * the sender takes as "stream established". Every later batch is checked
 * again (the sender may be removed meanwhile) and handed to the member.
 */
function receiveMessages(env: InboundEnv, call: ServerReadableStream<ReceivedBatch, PeerAck>, callback: sendUnaryData<PeerAck>): void {
  let from: bigint | undefined;
  let done = false;
  /** Ends our side once: the stream ended, broke, or we refused it. */
  const finish = (reason: string, answer?: () => void): void => {
    if (done) return;
    done = true;
    call.off('data', onData);
    if (from !== undefined) env.status(from).inboundDown(reason);
    answer?.();
  };
  const onData = ({ batch, bytes }: ReceivedBatch): void => {
    const h = batch.header;
    const refusal = h === undefined ? new ClusterIdMismatchError(env.clusterId, 0n) : checkPeer(env, h);
    if (refusal !== undefined) {
      return finish(refusal.message, () => refuse(env, refusal, h?.from ?? 0n, call.getPeer(), callback));
    }
    if (from === undefined) {
      from = h!.from;
      call.sendMetadata(new Metadata());
      env.status(from).inboundUp();
    }
    const counters = env.counters(from);
    counters.batchesReceived++;
    counters.messagesReceived += batch.messages.length;
    counters.bytesReceived += bytes;
    if (batch.messages.length > 0) env.handler.onMessages(batch.messages);
  };
  call.on('data', onData);
  call.on('end', () => finish('peer closed the stream', () => callback(null, {})));
  call.on('cancelled', () => finish('stream cancelled'));
  call.on('error', () => finish('stream error'));
}

/** A lease call forwarded by a follower: check the sender, ask the member, map its error. */
function forwarded<Req, Res>(env: InboundEnv, call: ServerUnaryCall<Req, unknown>, callback: sendUnaryData<unknown>, ask: (req: Req) => Promise<Res>): void {
  const cluster = parseHexId(call.metadata.get(clusterIdMetadataKey)[0]);
  const from = parseHexId(call.metadata.get(fromMetadataKey)[0]) ?? 0n;
  const refusal = cluster === undefined
    ? new ClusterIdMismatchError(env.clusterId, 0n)
    : checkPeer(env, { clusterId: cluster, from, to: env.memberId });
  if (refusal !== undefined) return refuse(env, refusal, from, call.getPeer(), callback);
  Promise.resolve(call.request).then(ask).then(
    (res) => callback(null, res),
    (err: unknown) => {
      const s = env.errorToStatus(err);
      callback({ code: s.code, details: s.message, metadata: new Metadata() } as StatusObject, null);
    },
  );
}

export function parseHexId(v: unknown): bigint | undefined {
  return typeof v === 'string' && /^[0-9a-f]{1,16}$/.test(v) ? BigInt(`0x${v}`) : undefined;
}

export function defaultErrorToStatus(err: unknown): WireStatus {
  return { code: Status.UNKNOWN, message: err instanceof Error ? err.message : String(err) };
}
