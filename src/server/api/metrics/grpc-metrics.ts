import type { Registry } from 'prom-client';
import { goCodeNames } from '../../../client/errors.js';
import type { CallKind, MethodObserver } from '../grpc-server/call.js';
import { registerFamily, histogramSamples, type Sample } from './families.js';
import { Histogram, defaultBuckets } from './histogram.js';

/** grpc_type as go-grpc-prometheus names the four kinds of call. */
const grpcTypes: Record<CallKind, string> = { unary: 'unary', clientStream: 'client_stream', serverStream: 'server_stream', bidi: 'bidi_stream' };

/** The counters of one method: one object made at registration, bumped by every call. */
class MethodCounters implements MethodObserver {
  startedTotal = 0;
  receivedTotal = 0;
  sentTotal = 0;
  /** Calls ended, by gRPC status code. */
  readonly handledTotal = new Float64Array(goCodeNames.length);
  readonly labels: Record<string, string>;

  constructor(
    service: string,
    method: string,
    kind: CallKind,
    private readonly bytes: { received: number; sent: number },
    /** Handling time, with --metrics extensive only (go-grpc-prometheus's EnableHandlingTimeHistogram). */
    readonly handling: Histogram | undefined,
  ) {
    this.labels = { grpc_method: method, grpc_service: service, grpc_type: grpcTypes[kind] };
  }

  started(): void {
    this.startedTotal++;
  }

  received(bytes: number): void {
    this.receivedTotal++;
    this.bytes.received += bytes;
  }

  sent(bytes: number): void {
    this.sentTotal++;
    this.bytes.sent += bytes;
  }

  handled(code: number, startedMs: number): void {
    this.handledTotal[code >= 0 && code < goCodeNames.length ? code : 2]!++;
    this.handling?.observe((performance.now() - startedMs) / 1000);
  }
}

/**
 * The gRPC server's metrics under the names etcd exports: go-grpc-prometheus's
 * grpc_server_* families (every registered method shows from the start, at
 * zero, as etcd shows them) and etcd's own
 * etcd_network_client_grpc_{received,sent}_bytes_total (protobuf bytes).
 */
export class GrpcMetrics {
  readonly bytes = { received: 0, sent: 0 };
  private readonly methods: MethodCounters[] = [];

  constructor(private readonly extensive: boolean) {}

  /** The GrpcServer's `observe` option: one observer per method, made as it is registered. */
  readonly observe = (path: string, kind: CallKind): MethodObserver => {
    const [service = '', method = ''] = path.replace(/^\//, '').split('/');
    const counters = new MethodCounters(service, method, kind, this.bytes, this.extensive ? new Histogram(defaultBuckets) : undefined);
    this.methods.push(counters);
    return counters;
  };

  register(registry: Registry): void {
    const perMethod = (value: (m: MethodCounters) => number) => (): Sample[] => this.methods.map((m) => ({ labels: m.labels, value: value(m) }));
    registerFamily(registry, 'grpc_server_started_total', 'Total number of RPCs started on the server.', 'counter', perMethod((m) => m.startedTotal));
    registerFamily(registry, 'grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', 'counter',
      () => this.methods.flatMap((m) => goCodeNames.map((code, i) => ({ labels: { grpc_code: code, ...m.labels }, value: m.handledTotal[i]! }))));
    registerFamily(registry, 'grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', 'counter', perMethod((m) => m.receivedTotal));
    registerFamily(registry, 'grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', 'counter', perMethod((m) => m.sentTotal));
    if (this.extensive) {
      registerFamily(registry, 'grpc_server_handling_seconds', 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.', 'histogram',
        () => this.methods.flatMap((m) => histogramSamples(m.handling!, m.labels)));
    }
    registerFamily(registry, 'etcd_network_client_grpc_received_bytes_total', 'The total number of bytes received from grpc clients.', 'counter', () => [{ value: this.bytes.received }]);
    registerFamily(registry, 'etcd_network_client_grpc_sent_bytes_total', 'The total number of bytes sent to grpc clients.', 'counter', () => [{ value: this.bytes.sent }]);
  }
}
