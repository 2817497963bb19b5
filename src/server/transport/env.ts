import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { PeerHeader } from '../../proto/gen/etcdtspb/peer.js';
import * as limits from './limits.js';
import type { PeerCounters } from './peer-counters.js';
import type { PeerStatus } from './peer-status.js';
import type { PeerTransportOptions, TransportLogger } from './transport-interface.js';

/** Every option with its default filled in. */
export interface Settings {
  queueMessagesMax: number;
  queueBytesMax: number;
  batchBytesMax: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  snapshotChunkBytes: number;
  snapshotProgressIntervalMs: number;
  forwardTimeoutMs: number;
  random: () => number;
  now: () => number;
}

export function resolveSettings(o: PeerTransportOptions): Settings {
  return {
    queueMessagesMax: o.queueMessagesMax ?? limits.queueMessagesMaxDefault,
    queueBytesMax: o.queueBytesMax ?? limits.queueBytesMaxDefault,
    batchBytesMax: o.batchBytesMax ?? limits.batchBytesMaxDefault,
    backoffInitialMs: o.backoffInitialMs ?? limits.backoffInitialMsDefault,
    backoffMaxMs: o.backoffMaxMs ?? limits.backoffMaxMsDefault,
    connectTimeoutMs: o.connectTimeoutMs ?? limits.connectTimeoutMsDefault,
    keepaliveTimeMs: o.keepaliveTimeMs ?? limits.keepaliveTimeMsDefault,
    keepaliveTimeoutMs: o.keepaliveTimeoutMs ?? limits.keepaliveTimeoutMsDefault,
    snapshotChunkBytes: o.snapshotChunkBytes ?? limits.snapshotChunkBytesDefault,
    snapshotProgressIntervalMs: o.snapshotProgressIntervalMs ?? limits.snapshotProgressIntervalMsDefault,
    forwardTimeoutMs: o.forwardTimeoutMs ?? limits.forwardTimeoutMsDefault,
    random: o.random ?? Math.random,
    now: o.now ?? Date.now,
  };
}

/**
 * What the per-peer parts (outbound stream, snapshot sender) share with the
 * transport that owns them. The report functions are already deferred and
 * silenced after stop(), so callers may invoke them anywhere.
 */
export interface TransportEnv {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly logger: TransportLogger;
  readonly settings: Settings;
  readonly channelOptions: ChannelOptions;
  readonly channelCredentials: (() => ChannelCredentials) | undefined;
  header(to: bigint): PeerHeader;
  counters(id: bigint): PeerCounters;
  status(id: bigint): PeerStatus;
  reportUnreachable(id: bigint): void;
  reportSnapshotStatus(id: bigint, ok: boolean): void;
  reportRemoved(): void;
}
