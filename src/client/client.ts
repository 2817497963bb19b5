import * as grpc from '@grpc/grpc-js';
import {
  AuthClient,
  AuthService,
  AuthenticateRequest,
  ClusterClient,
  KVClient,
  LeaseClient,
  MaintenanceClient,
  WatchClient,
} from '../proto/gen/etcdserverpb/rpc.js';
import { ElectionClient } from '../proto/gen/v3electionpb/v3election.js';
import { LockClient } from '../proto/gen/v3lockpb/v3lock.js';
import { Auth } from './auth.js';
import { Cluster } from './cluster.js';
import { Endpoint, EndpointPool } from './endpoints.js';
import {
  AuthNotEnabledError,
  AuthOldRevisionError,
  CanceledError,
  GrpcCode,
  InvalidAuthTokenError,
  UserEmptyError,
  fromGrpcStatus,
  type GrpcStatusLike,
} from './errors.js';
import type { RetryPolicy, UnaryInvoker, UnaryMethod, UnaryOptions } from './invoker.js';
import { KV } from './kv.js';
import type { Bytes } from './keys.js';
import { Lease } from './lease.js';
import { WatchManager, type StreamHost, type WatchOptions, type Watcher } from './watch.js';
import { Maintenance } from './maintenance.js';
import { clientDefaults, type ClientOptions } from './options.js';

/**
 * A client of an etcd (or etcdts) cluster: the typed sub-APIs `kv`,
 * `lease`, `maintenance`, `cluster` and `auth`, `watch()` (many watchers on
 * one resumable stream), generic unary calls with failover and clientv3's
 * retry policy, and the generated service clients under `raw` for what has
 * no sub-API yet (the Lock and Election services). Sessions, locks and
 * elections are in ./concurrency.
 *
 *   const client = await Client.connect({ endpoints: ['127.0.0.1:2379'] });
 *   await client.kv.put('foo', 'bar');
 *   const { kvs } = await client.kv.get('foo', { prefix: true });
 *   client.close();
 */
export class Client implements UnaryInvoker, StreamHost {
  readonly kv: KV;
  readonly lease: Lease;
  private readonly watches: WatchManager;
  readonly maintenance: Maintenance;
  readonly cluster: Cluster;
  readonly auth: Auth;
  readonly raw: RawClients;
  private readonly pool: EndpointPool;
  private token: string | undefined;
  private tokenRequest: Promise<string> | undefined;
  /**
   * The server answered Authenticate with "authentication is not enabled":
   * calls go out without a token (as clientv3's do) until an answer says a
   * token is needed after all.
   */
  private authNotEnabled = false;
  /** A view from withToken(): the connections belong to another client. */
  private readonly borrowed: boolean;

  private constructor(readonly options: ClientOptions, pool?: EndpointPool) {
    this.borrowed = pool !== undefined;
    this.pool = pool ?? new EndpointPool(options);
    this.kv = new KV(this);
    this.lease = new Lease(this);
    this.watches = new WatchManager(this);
    this.maintenance = new Maintenance(this);
    this.cluster = new Cluster(this);
    this.auth = new Auth(this);
    this.raw = new RawClients(this.pool, () => this.metadata());
  }

  /**
   * Creates a client and waits up to `dialTimeoutMs` (default 2 s) until one
   * endpoint is connected (and, with a username, authenticated). Fails with
   * DeadlineExceededError, whose `detail` says what went wrong per endpoint.
   */
  static async connect(options: ClientOptions): Promise<Client> {
    const client = new Client(options);
    try {
      const dialTimeoutMs = options.dialTimeoutMs ?? clientDefaults.dialTimeoutMs;
      if (dialTimeoutMs > 0) {
        const endpoint = await client.pool.pickReady(Date.now() + dialTimeoutMs);
        if (options.username !== undefined) await client.authenticate(endpoint, Date.now() + dialTimeoutMs);
      }
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /**
   * A client on this client's connections that sends `token` with every
   * call and never authenticates by itself: the server's Lock and Election
   * services use one per request to act as their caller. Closing it ends
   * only its own streams.
   */
  withToken(token: string | undefined): Client {
    const view = new Client({ ...this.options, username: undefined, password: undefined }, this.pool);
    view.token = token;
    return view;
  }

  /** The endpoints as configured. */
  endpoints(): string[] {
    return this.pool.endpoints.map((e) => e.parsed.url);
  }

  /**
   * One unary call with a deadline (the call's timeoutMs, else the client's
   * commandTimeoutMs), sent to a connected endpoint and retried according to
   * `retry` (see RetryPolicy). Errors are typed (see errors.ts).
   */
  async unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: UnaryOptions = {}): Promise<Res> {
    const policy: RetryPolicy = options.retry ?? 'nonRepeatable';
    const deadline = this.deadlineOf(options.timeoutMs);
    const pinned = options.endpoint === undefined ? undefined : this.pinnedEndpoint(options.endpoint);
    const maxAttempts = this.options.maxAttempts ?? clientDefaults.maxAttempts;
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      const endpoint = pinned ?? (await this.pool.pickReady(deadline, options.signal));
      try {
        if (this.needsToken()) await this.authenticate(endpoint, deadline);
        return await this.callOnce(endpoint, method, request, deadline, options.signal, pinned !== undefined);
      } catch (raw) {
        if (!isGrpcStatus(raw)) throw raw;
        const err = fromGrpcStatus(raw);
        if (raw.code === GrpcCode.UNAVAILABLE && pinned === undefined) this.pool.rotate(endpoint);
        if (shouldRefreshToken(err) && this.options.username !== undefined && !reauthenticated) {
          this.token = undefined;
          this.authNotEnabled = false;
          reauthenticated = true;
          continue;
        }
        if (!isSafeRetry(policy, raw) || attempt >= maxAttempts || Date.now() >= deadline) throw err;
        await backoff(deadline, options.signal);
      }
    }
  }

  /** Metadata for a call: the auth token when the client has one. */
  metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.token !== undefined) metadata.set('token', this.token);
    return metadata;
  }

  /** Watches a key, a range or a prefix; see watch.ts (shared stream, resume without gaps). */
  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    return this.watches.watch(key, options);
  }

  /** Asks for a progress notification on every watcher of this client. */
  requestProgress(): void {
    this.watches.requestProgress();
  }

  /** A connected endpoint for a long-lived stream (watch, keep-alive); waits for one until the signal aborts. */
  streamEndpoint(signal?: AbortSignal): Promise<Endpoint> {
    return this.pool.pickReady(Infinity, signal);
  }

  /** A stream on `endpoint` broke: the next pick prefers another endpoint. */
  streamFailed(endpoint: Endpoint): void {
    this.pool.rotate(endpoint);
  }

  close(): void {
    this.watches.close();
    this.lease.close();
    if (!this.borrowed) this.pool.close();
  }

  private deadlineOf(timeoutMs: number | undefined): number {
    const timeout = timeoutMs ?? this.options.commandTimeoutMs;
    return timeout === undefined ? Infinity : Date.now() + timeout;
  }

  private pinnedEndpoint(url: string): Endpoint {
    const endpoint = this.pool.find(url);
    if (endpoint === undefined) throw new Error(`${url} is not one of the client's endpoints`);
    return endpoint;
  }

  private callOnce<Req, Res>(
    endpoint: Endpoint,
    method: UnaryMethod<Req, Res>,
    request: Req,
    deadline: number,
    signal: AbortSignal | undefined,
    waitForReady: boolean,
  ): Promise<Res> {
    if (signal?.aborted === true) return Promise.reject(new CanceledError());
    // A call pinned to one endpoint waits for that endpoint to connect; others were given a connected one.
    const metadata = this.metadata();
    if (waitForReady) metadata.setOptions({ waitForReady: true });
    return new Promise((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = endpoint.base.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline },
        (err, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (err !== null) reject(err);
          else resolve(response as Res);
        },
      );
      signal?.addEventListener('abort', onAbort);
    });
  }

  private needsToken(): boolean {
    return this.options.username !== undefined && this.token === undefined && !this.authNotEnabled;
  }

  /**
   * Gets a token for the configured user; concurrent calls share one
   * Authenticate request. A server with authentication disabled is not an
   * error: clientv3 goes on without a token, so `--user` works against any
   * cluster, whether authentication is enabled or not.
   */
  private async authenticate(endpoint: Endpoint, deadline: number): Promise<void> {
    if (this.tokenRequest === undefined) {
      const request = AuthenticateRequest.fromPartial({ name: this.options.username ?? '', password: this.options.password ?? '' });
      this.tokenRequest = new Promise<string>((resolve, reject) => {
        endpoint.base.makeUnaryRequest(
          AuthService.authenticate.path,
          AuthService.authenticate.requestSerialize,
          AuthService.authenticate.responseDeserialize,
          request,
          new grpc.Metadata(),
          { deadline },
          (err, response) => (err !== null ? reject(fromGrpcStatus(err)) : resolve(response!.token)),
        );
      });
    }
    try {
      this.token = await this.tokenRequest;
    } catch (err) {
      if (!(err instanceof AuthNotEnabledError)) throw err;
      this.authNotEnabled = true;
    } finally {
      this.tokenRequest = undefined;
    }
  }
}

/**
 * The generated service clients on the preferred endpoint's channel. Calls
 * made through them get no failover or retries; pass `metadata()` so they
 * carry the auth token.
 */
export class RawClients {
  constructor(
    private readonly pool: EndpointPool,
    readonly metadata: () => grpc.Metadata,
  ) {}

  get kv(): KVClient { return this.pool.current().service(KVClient); }
  get watch(): WatchClient { return this.pool.current().service(WatchClient); }
  get lease(): LeaseClient { return this.pool.current().service(LeaseClient); }
  get cluster(): ClusterClient { return this.pool.current().service(ClusterClient); }
  get maintenance(): MaintenanceClient { return this.pool.current().service(MaintenanceClient); }
  get auth(): AuthClient { return this.pool.current().service(AuthClient); }
  get lock(): LockClient { return this.pool.current().service(LockClient); }
  get election(): ElectionClient { return this.pool.current().service(ElectionClient); }

  /** The same clients on a given endpoint. */
  on(endpoint: string): { kv: KVClient; maintenance: MaintenanceClient; cluster: ClusterClient } {
    const found = this.pool.find(endpoint);
    if (found === undefined) throw new Error(`${endpoint} is not one of the client's endpoints`);
    return { kv: found.service(KVClient), maintenance: found.service(MaintenanceClient), cluster: found.service(ClusterClient) };
  }
}

/**
 * clientv3's rule for getting a new token and trying again: the token is
 * invalid or expired, it was issued before an auth change the server has
 * since applied, or the server saw no user (authentication was enabled
 * after this client found it disabled).
 */
function shouldRefreshToken(err: Error): boolean {
  return err instanceof InvalidAuthTokenError || err instanceof AuthOldRevisionError || err instanceof UserEmptyError;
}

function isGrpcStatus(err: unknown): err is GrpcStatusLike & Error {
  return err instanceof Error && typeof (err as Partial<GrpcStatusLike>).code === 'number' && 'details' in err;
}

/**
 * clientv3's rule: a repeatable call is retried after UNAVAILABLE (a member
 * without a leader, a connection that broke); a non-repeatable one only when
 * grpc-js failed it before sending, which it reports as "No connection
 * established".
 */
export function isSafeRetry(policy: RetryPolicy, status: GrpcStatusLike): boolean {
  if (status.code !== GrpcCode.UNAVAILABLE) return false;
  if (policy === 'repeatable') return true;
  return /^No connection established/.test(status.details ?? '');
}

function backoff(deadline: number, signal: AbortSignal | undefined): Promise<void> {
  const jitter = 1 + (Math.random() * 2 - 1) * clientDefaults.retryJitter;
  const ms = Math.min(clientDefaults.retryBackoffMs * jitter, Math.max(0, deadline - Date.now()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CanceledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

