/**
 * Per-peer traffic counters, read by the metrics endpoint (etcd's
 * etcd_network_peer_* and etcd_network_snapshot_* families). Plain numbers:
 * at 2^53 bytes a counter would need 28 years at 10 GB/s.
 */
export interface PeerCounters {
  messagesSent: number;
  /** Includes the empty batch that opens each stream, as batchesReceived does on the other side. */
  batchesSent: number;
  /** Encoded MessageBatch bytes written to the peer. */
  bytesSent: number;
  /** Messages refused by a full queue, lost with a broken stream, or sent while reconnecting. */
  messagesDropped: number;
  /** Message streams that broke or were refused (etcd_network_peer_sent_failures_total). */
  sendFailures: number;
  messagesReceived: number;
  batchesReceived: number;
  bytesReceived: number;
  /** Inbound streams or snapshots refused or broken (etcd_network_peer_received_failures_total). */
  receiveFailures: number;
  snapshotsSent: number;
  snapshotSendFailures: number;
  snapshotBytesSent: number;
  snapshotsReceived: number;
  snapshotReceiveFailures: number;
  snapshotBytesReceived: number;
}

export function newPeerCounters(): PeerCounters {
  return {
    messagesSent: 0,
    batchesSent: 0,
    bytesSent: 0,
    messagesDropped: 0,
    sendFailures: 0,
    messagesReceived: 0,
    batchesReceived: 0,
    bytesReceived: 0,
    receiveFailures: 0,
    snapshotsSent: 0,
    snapshotSendFailures: 0,
    snapshotBytesSent: 0,
    snapshotsReceived: 0,
    snapshotReceiveFailures: 0,
    snapshotBytesReceived: 0,
  };
}
