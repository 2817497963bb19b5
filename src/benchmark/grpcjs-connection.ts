import type { Client, ServiceError } from '@grpc/grpc-js';
import type { KVClient as KVClientType, PutRequest, RangeRequest } from '../proto/gen/etcdserverpb/rpc.js';
import { GrpcCallError, type CallDone, type Connection } from './connection.js';
import { unaryMethods, putMethod, rangeMethod, type Workload } from './workload.js';

/**
 * The load generator over @grpc/grpc-js, as our own client library talks to
 * a server: one channel per connection (a local subchannel pool, so that
 * channels to the same address do not share one HTTP/2 connection).
 *
 * `raw` sends the pre-encoded frames through makeUnaryRequest with identity
 * (de)serializers; otherwise the generated KVClient stubs encode message
 * objects and decode every response, which is what an application pays.
 * Loaded only when selected (grpc-js takes ~100 ms to import).
 */

const channelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_receive_message_length': -1,
};

const readyTimeoutMs = 10_000;

function identity(b: Buffer): Buffer {
  return b;
}

function asCallError(err: ServiceError): GrpcCallError {
  return new GrpcCallError(err.code, err.details);
}

export class GrpcJsConnection implements Connection {
  private constructor(
    private readonly client: Client,
    private readonly raw: boolean,
  ) {}

  static async open(url: URL, raw: boolean): Promise<GrpcJsConnection> {
    const grpc = await import('@grpc/grpc-js');
    const target = url.host;
    let client: Client;
    if (raw) {
      client = new grpc.Client(target, grpc.credentials.createInsecure(), channelOptions);
    } else {
      const { KVClient } = await import('../proto/gen/etcdserverpb/rpc.js');
      client = new KVClient(target, grpc.credentials.createInsecure(), channelOptions);
    }
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + readyTimeoutMs, (err) => (err ? reject(err) : resolve()));
    });
    return new GrpcJsConnection(client, raw);
  }

  call(workload: Workload, i: number, done: CallDone): void {
    const method = workload.methodOf(i);
    const callback = (err: ServiceError | null): void => done(err === null ? null : asCallError(err));
    if (this.raw) {
      const message = workload.frameOf(i).subarray(5);
      this.client.makeUnaryRequest(unaryMethods[method].path, identity, identity, message, callback);
      return;
    }
    const kv = this.client as KVClientType;
    if (method === putMethod) kv.put(workload.messageOf(i) as unknown as PutRequest, callback);
    else if (method === rangeMethod) kv.range(workload.messageOf(i) as unknown as RangeRequest, callback);
    else throw new RangeError(`transport grpc-js has KV stubs only; use grpc-js-raw for ${unaryMethods[method].name}`);
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}
