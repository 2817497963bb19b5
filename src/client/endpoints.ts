import * as grpc from '@grpc/grpc-js';
import { CanceledError, ClientClosedError, DeadlineExceededError, NoAvailableEndpointsError } from './errors.js';
import { clientDefaults, type ClientOptions, type TlsOptions } from './options.js';

/**
 * Endpoints and their connections. Each endpoint gets its own grpc-js
 * channel (with a local subchannel pool, so two endpoints never share one
 * HTTP/2 connection), and every service client of that endpoint rides on the
 * same channel. The pool keeps a preferred endpoint: calls go there while it
 * is connected, and move to the next one when it fails with UNAVAILABLE.
 */
export interface ParsedEndpoint {
  /** The endpoint as the user wrote it. */
  url: string;
  /** The grpc-js target: `host:port` or `unix:/path`. */
  target: string;
  secure: boolean;
}

/** Reads `http://h:p`, `https://h:p`, `h:p`, `unix:///p`, `unixs:///p` the way clientv3's ParseEndpoint does. */
export function parseEndpoint(url: string, secureByDefault: boolean): ParsedEndpoint {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (match === null) return { url, target: url, secure: secureByDefault };
  const scheme = match[1]!.toLowerCase();
  const rest = match[2]!;
  switch (scheme) {
    case 'http':
    case 'https':
      return { url, target: rest.replace(/\/.*$/, ''), secure: scheme === 'https' };
    case 'unix':
    case 'unixs':
      return { url, target: `unix:${rest}`, secure: scheme === 'unixs' };
    default:
      throw new Error(`unsupported endpoint scheme ${scheme} in ${url}`);
  }
}

export class Endpoint {
  readonly channel: grpc.Channel;
  /** A plain grpc-js client on the channel, for generic unary calls. */
  readonly base: grpc.Client;
  private readonly serviceClients = new Map<unknown, grpc.Client>();

  constructor(
    readonly parsed: ParsedEndpoint,
    private readonly credentials: grpc.ChannelCredentials,
    channelOptions: grpc.ChannelOptions,
  ) {
    this.channel = new grpc.Channel(parsed.target, credentials, channelOptions);
    this.base = new grpc.Client(parsed.target, credentials, { channelOverride: this.channel });
  }

  /** A generated service client (KVClient, WatchClient, ...) on this endpoint's channel, made once. */
  service<T extends grpc.Client>(ctor: new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => T): T {
    let client = this.serviceClients.get(ctor);
    if (client === undefined) {
      client = new ctor(this.parsed.target, this.credentials, { channelOverride: this.channel });
      this.serviceClients.set(ctor, client);
    }
    return client as T;
  }

  state(tryToConnect = false): grpc.connectivityState {
    return this.channel.getConnectivityState(tryToConnect);
  }

  close(): void {
    for (const client of this.serviceClients.values()) client.close();
    this.base.close();
    this.channel.close();
  }
}

export function credentialsFor(secure: boolean, tls: TlsOptions | undefined): grpc.ChannelCredentials {
  if (!secure) return grpc.credentials.createInsecure();
  const verify: grpc.VerifyOptions = {};
  if (tls?.insecureSkipVerify === true) {
    verify.rejectUnauthorized = false;
    verify.checkServerIdentity = () => undefined;
  }
  return grpc.credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null, verify);
}

export function channelOptionsFor(options: ClientOptions): grpc.ChannelOptions {
  const channelOptions: grpc.ChannelOptions = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_send_message_length': options.maxCallSendBytes ?? clientDefaults.maxCallSendBytes,
    'grpc.max_receive_message_length': options.maxCallRecvBytes ?? -1,
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 3000,
  };
  if (options.keepAliveTimeMs !== undefined) {
    channelOptions['grpc.keepalive_time_ms'] = Math.max(options.keepAliveTimeMs, clientDefaults.keepAliveTimeMinMs);
  }
  if (options.keepAliveTimeoutMs !== undefined) channelOptions['grpc.keepalive_timeout_ms'] = options.keepAliveTimeoutMs;
  if (options.tls?.serverName !== undefined) channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
  return channelOptions;
}

/** How long one wait for a connectivity change lasts before the pool looks again (and re-kicks idle channels). */
const connectivityPollMs = 1000;

export class EndpointPool {
  readonly endpoints: Endpoint[];
  private preferred = 0;
  private closed = false;

  constructor(options: ClientOptions) {
    const urls = options.endpoints.map((e) => e.trim()).filter((e) => e !== '');
    if (urls.length === 0) throw new NoAvailableEndpointsError();
    const secureByDefault = options.tls !== undefined || options.insecureTransport === false;
    const channelOptions = channelOptionsFor(options);
    this.endpoints = urls.map((url) => {
      const parsed = parseEndpoint(url, secureByDefault);
      return new Endpoint(parsed, credentialsFor(parsed.secure, options.tls), channelOptions);
    });
  }

  /** The endpoint calls go to now. */
  current(): Endpoint {
    return this.endpoints[this.preferred]!;
  }

  find(url: string): Endpoint | undefined {
    return this.endpoints.find((e) => e.parsed.url === url || e.parsed.target === url);
  }

  /** Moves the preference past `failed`, so the next call tries another member. */
  rotate(failed: Endpoint): void {
    if (this.current() === failed) this.preferred = (this.preferred + 1) % this.endpoints.length;
  }

  /**
   * Resolves with a connected endpoint, preferring the current one; waits for
   * one to connect until `deadline` (epoch ms). The request has not been sent
   * while we wait here, which is what makes retrying a write after a failed
   * pick safe.
   */
  async pickReady(deadline: number, signal?: AbortSignal): Promise<Endpoint> {
    for (;;) {
      if (this.closed) throw new ClientClosedError();
      if (signal?.aborted === true) throw new CanceledError();
      const ready = this.firstReady();
      if (ready !== undefined) return ready;
      const now = Date.now();
      if (now >= deadline) throw new DeadlineExceededError(await this.describeFailures());
      await this.waitForChange(Math.min(deadline, now + connectivityPollMs), signal);
    }
  }

  private firstReady(): Endpoint | undefined {
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.preferred + i) % n;
      const endpoint = this.endpoints[index]!;
      if (endpoint.state(true) === grpc.connectivityState.READY) {
        this.preferred = index;
        return endpoint;
      }
    }
    return undefined;
  }

  private waitForChange(until: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      signal?.addEventListener('abort', finish);
      let watching = 0;
      for (const endpoint of this.endpoints) {
        const state = endpoint.state(true);
        if (state === grpc.connectivityState.SHUTDOWN) continue;
        endpoint.channel.watchConnectivityState(state, until, finish);
        watching++;
      }
      if (watching === 0) finish();
    });
  }

  /**
   * Why no endpoint is connected, for the error message: grpc-js keeps the
   * last connection error inside the channel and reveals it only to a call,
   * so each endpoint in TRANSIENT_FAILURE gets a probe call that fails in the
   * client (it is never sent).
   */
  private async describeFailures(): Promise<string> {
    const reasons = await Promise.all(this.endpoints.map((e) => probe(e)));
    return reasons.join('; ');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const endpoint of this.endpoints) endpoint.close();
  }
}

function probe(endpoint: Endpoint): Promise<string> {
  const state = endpoint.state(false);
  if (state !== grpc.connectivityState.TRANSIENT_FAILURE) {
    return Promise.resolve(`${endpoint.parsed.url}: ${grpc.connectivityState[state].toLowerCase()}`);
  }
  return new Promise((resolve) => {
    endpoint.base.makeUnaryRequest(
      '/etcdserverpb.Maintenance/Status',
      (value: Buffer) => value,
      (value: Buffer) => value,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: Date.now() + 200 },
      (err) => resolve(`${endpoint.parsed.url}: ${connectionFailure(err?.details ?? 'not connected')}`),
    );
  });
}

/**
 * grpc-js's "No connection established. Last error: ..." reduced to its
 * cause on one line: no timestamps, no multi-line OpenSSL dumps.
 */
export function connectionFailure(details: string): string {
  const cause = details
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\. Resolution note: .*$/s, '')
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  const tls = /SSL routines:[^:]*:([^:]+)/.exec(cause);
  return tls === null ? cause : `TLS handshake failed: ${tls[1]}`;
}
