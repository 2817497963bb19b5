import assert from 'node:assert';

/**
 * Limits of the member's listeners (client and peer ports), before any
 * protocol runs on a connection: the limits of the HTTP/2 server itself are
 * in src/server/api/grpc-server/limits.ts.
 */

/**
 * File descriptors kept back from client connections: etcd caps its client
 * listeners at the process's RLIMIT_NOFILE minus this many
 * (embed/etcd.go reservedInternalFDNum), so that a flood of connections
 * cannot leave the member without descriptors for its WAL, backend, snapshots
 * and peers.
 */
export const reservedInternalFds = 150;

/** The cap when the descriptor limit cannot be read (not Linux): Node's and Linux's usual soft limit. */
export const connectionsMaxFallback = 1024 - reservedInternalFds;

/**
 * How long a new connection may take to send its first bytes (which decide
 * TLS, HTTP/2 or HTTP/1) and, for TLS, to finish its handshake. Node's TLS
 * server and grpc-go's ConnectionTimeout wait 120 s; etcd's clients dial
 * with a 2 s (etcdctl --dial-timeout) to 5 s timeout and give up long before
 * that, so a connection still silent or still handshaking after 10 s serves
 * no client and only holds a slot (slowloris).
 */
export const firstBytesTimeoutMs = 10_000;
export const tlsHandshakeTimeoutMs = 10_000;

/** "rejected connection" log lines per second at most; the rest are counted and summarised (a handshake flood must not flood the log). */
export const rejectionLogsPerSecond = 10;

assert(reservedInternalFds < 1024 && connectionsMaxFallback > 0);

/**
 * Connections a peer listener may hold. etcd's rafthttp opens at most two
 * streams, four pipeline connections and one snapshot connection per peer;
 * ours opens a message stream, a snapshot channel and a forwarding channel.
 * 256 covers a cluster of more than thirty members (etcd recommends at most
 * seven) and keeps a flood of the peer port from taking the descriptors the
 * client port and the data files need.
 */
export const peerConnectionsMax = 256;
