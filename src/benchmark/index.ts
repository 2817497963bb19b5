/**
 * The load generator behind `etcdts benchmark` and the scripts in bench/:
 * closed-loop gRPC clients against any etcd v3 endpoint, exact latency
 * percentiles, and the client's own CPU cost per request (so a run can show
 * that the generator was not the bottleneck).
 */
export { runBenchmark, mergeResults, type BenchmarkOptions, type BenchmarkResult } from './run-benchmark.js';
export { runClosedLoop, type LoadOptions, type LoadResult } from './closed-loop.js';
export { openConnection, openConnections, endpointUrl, transportKinds, GrpcCallError, type Caller, type Connection, type TransportKind } from './connection.js';
export { H2Connection } from './h2-connection.js';
export { FramedConnection, type GrpcStream, type StreamHandler } from './frames-connection.js';
export { GrpcMessageReader } from './grpc-messages.js';
export { ProtoReader, encodeVarint64, grpcFrame } from './protobuf.js';
export { HpackDecoder, HpackEncoder, huffmanDecode } from './hpack.js';
export { summarize, formatSummary, percentile, reportedPercentiles, type LatencyStats } from './report.js';
export {
  createWorkload, defaultWorkloadSpec, encodePutFrame, encodeRangeFrame, encodeLeaseGrantFrame, encodeLeaseRevokeFrame, encodeLeaseKeepAliveFrame,
  unaryMethods, type Workload, type WorkloadSpec, type Operation,
} from './workload.js';
export { runWatchLatency, mergeWatchResults, encodeWatchCreateFrame, prefixRangeEnd, type WatchLatencyOptions, type WatchLatencyResult } from './watch-latency.js';
export { runLeaseKeepAlive, grantLeases, revokeLeases, decodeLeaseGrantResponse, KeepAliveRequests, type LeaseKeepAliveOptions } from './lease-keepalive.js';
