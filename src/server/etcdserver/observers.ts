import type { PeerCounters } from '../transport/peer-counters.js';

/**
 * How the member reports what only the metrics layer keeps
 * (src/server/api/metrics.ts sets these; nothing else reads them). Hooks
 * are called where the work happens; an unset hook costs a property read.
 */
export interface MemberObservers {
  /** A peer answered a probe after this many seconds (etcd_network_peer_round_trip_time_seconds). */
  peerRoundTrip?(peer: bigint, seconds: number): void;
}

/** The peer transport as the metrics layer reads it (set once peering runs). */
export interface PeerView {
  counters(): ReadonlyMap<bigint, Readonly<PeerCounters>>;
  isActive(id: bigint): boolean;
}
