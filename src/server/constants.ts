/**
 * Every limit of the server in one place (style.md §12): names carry their
 * unit last. Defaults match etcd 3.4.23 (embed/config.go, etcdserver) unless a
 * comment says why not; the flags in src/server/etcdserver/config.ts override
 * the ones that etcd lets operators set.
 */

/** Operations allowed in one Txn (etcd --max-txn-ops). */
export const txnOpsMaxDefault = 128;

/** Largest client request accepted, in bytes (etcd --max-request-bytes, 1.5 MiB). */
export const requestBytesMaxDefault = 1.5 * 1024 * 1024;

/**
 * gRPC lets a message exceed --max-request-bytes by this much before refusing
 * it at the transport, as etcd does (grpcOverheadBytes), so that the server
 * can answer an oversized request with etcd's own error message. Exactly
 * etcd's: grpc-go's refusal names the limit ("larger than max (N vs.
 * 2097152)" at the default), and clients see that text.
 */
export const grpcOverheadBytes = 512 * 1024;

/** Largest response the server sends on one stream message (math.MaxInt32 in etcd). */
export const responseBytesMax = 2 ** 31 - 1;

/** Backend quota in bytes (etcd --quota-backend-bytes default: 2 GiB). */
export const quotaBackendBytesDefault = 2 * 1024 * 1024 * 1024;

/** The largest quota etcd recommends (8 GiB); larger quotas are accepted with a warning. */
export const quotaBackendBytesMaxSuggested = 8 * 1024 * 1024 * 1024;

/**
 * Raft entries between snapshots (etcd --snapshot-count). etcd 3.4 used
 * 100,000; 3.6 lowered it to 10,000, which roughly halved its memory, since
 * every entry since the last snapshot stays in memory for slow followers.
 */
export const snapshotCountDefault = 10_000;

/** Entries kept in the log after a snapshot so slow followers catch up without one. */
export const snapshotCatchUpEntries = 5_000;

/** Heartbeat interval and election timeout in milliseconds (etcd defaults). */
export const heartbeatIntervalMsDefault = 100;
export const electionTimeoutMsDefault = 1000;

/** Longest a client request waits for its proposal to be applied before "request timed out". */
export const requestTimeoutMsDefault = 7_000;

/** Proposals waiting to be committed before new ones are refused ("too many requests"). */
export const proposalsPendingMax = 50_000;

/**
 * How far the applied index may trail the committed index before new
 * proposals are refused with "too many requests" (etcd maxGapBetweenApplyAndCommitIndex).
 */
export const applyCommitGapMax = 5_000;

/** Snapshot files and WAL segment files kept (etcd --max-snapshots, --max-wals); 0 keeps all. */
export const snapshotFilesMaxDefault = 5;
export const walFilesMaxDefault = 5;

/** Time between two compaction hash checks by the leader (etcd 3.5 --experimental-compact-hash-check-time). */
export const compactHashCheckIntervalMsDefault = 60_000;

/** How long the initial corruption check waits for each peer's hash (etcd's peer request timeout, 5 s + 2 election timeouts). */
export const corruptCheckPeerTimeoutMsBase = 5_000;

/** Remaining-TTL checkpoints of long leases, at most this often and this many per proposal (etcd leaseCheckpointInterval, maxLeaseCheckpointBatchSize). */
export const leaseCheckpointIntervalMs = 5 * 60_000;
export const leaseCheckpointsPerProposalMax = 1_000;

/** Keys deleted per backend transaction during compaction (etcd compaction batch limit). */
export const compactionBatchKeysMax = 1_000;

/** Backend write batch: pending writes that trigger a commit at once (etcd --backend-batch-limit). */
export const backendBatchOpsMax = 10_000;

/** Longest an applied write waits for its backend commit (etcd --backend-batch-interval). */
export const backendBatchIntervalMs = 100;

/**
 * Bytes of writes (keys and values) a member keeps in memory while a
 * defragmentation copies its database; past this, applying waits until the
 * copy is written, as etcd's defrag makes every write wait for all of it.
 */
export const defragHeldBytesMax = 64 * 1024 * 1024;

/** Largest single WAL record accepted when reading, in bytes (etcd wal/decoder.go: 10 MiB). */
export const walRecordBytesMax = 10 * 1024 * 1024;

/** Size of one preallocated WAL segment file (etcd SegmentSizeBytes: 64 MiB). */
export const walSegmentBytes = 64 * 1024 * 1024;

/** Lease TTL bounds in seconds (etcd lease/lessor.go MaxLeaseTTL). */
export const leaseTtlSecondsMax = 9_000_000_000;

/** Expired leases revoked per second at most (etcd leaseRevokeRate). */
export const leaseRevokesPerSecondMax = 1_000;

/** Nesting depth of Txn inside Txn that the server accepts (protobuf decode also stops at 100). */
export const txnDepthMax = 64;

// ---- authentication ----

/** bcrypt cost bounds and default (etcd --bcrypt-cost; golang.org/x/crypto/bcrypt Min/Max/DefaultCost). */
export const bcryptCostMin = 4;
export const bcryptCostMax = 31;
export const bcryptCostDefault = 10;

/** bcrypt reads only this many bytes of a password; longer ones are refused rather than silently cut. */
export const passwordBytesMax = 72;

/** Threads that run bcrypt, off the event loop that drives Raft (each uses one core while hashing). */
export const bcryptThreads = 1;

/** bcrypt jobs waiting for a thread; past this, Authenticate and password changes get "too many requests". */
export const bcryptQueueMax = 64;

/** Lifetime of a simple token since its last use (etcd --auth-token-ttl: 300 s). */
export const authTokenTtlSecondsDefault = 300;

/** Random letters in a simple token before ".<raft index>" (etcd defaultSimpleTokenLength). */
export const simpleTokenLetters = 16;

/** Simple tokens one member keeps; past this the oldest is dropped (its owner authenticates again). */
export const simpleTokensMax = 100_000;

/** Lifetime of a JWT when the ttl option is not given (etcd auth.DefaultTTL: 5 min). */
export const jwtTtlMsDefault = 5 * 60 * 1000;

/** Longest token accepted in the `token` metadata, in bytes: longer ones are invalid without parsing. */
export const authTokenBytesMax = 8 * 1024;

/** Failed Authenticate calls in a row, per user and client address, before attempts are spaced out. */
export const authFailuresFree = 3;

/** Wait imposed after the first failure past the free ones; it doubles with each later failure. */
export const authThrottleDelayMsBase = 1000;

/** Longest wait between two attempts of a throttled user and address. */
export const authThrottleDelayMsMax = 16_000;

/** (user, address) pairs whose failures are remembered; the least recently failed are forgotten first. */
export const authThrottleEntriesMax = 10_000;
