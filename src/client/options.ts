/**
 * Options of a client connection, named after clientv3.Config, in
 * milliseconds and bytes.
 */
export interface TlsOptions {
  /** PEM CA bundle to verify servers with; the system roots when absent. */
  ca?: Buffer;
  /** PEM client certificate and key, for servers that authenticate clients. */
  cert?: Buffer;
  key?: Buffer;
  /** Accept any server certificate (testing only). */
  insecureSkipVerify?: boolean;
  /** Name to verify the server certificate against, instead of the endpoint's host. */
  serverName?: string;
}

export interface ClientOptions {
  /** `host:port`, `http://host:port`, `https://host:port`, `unix:///path` or `unixs:///path`. */
  endpoints: string[];
  /** How long connect() waits for a first connection; 0 connects lazily. Default 2000. */
  dialTimeoutMs?: number;
  /** Deadline of every call that does not give its own; none when undefined. */
  commandTimeoutMs?: number;
  /** Keep-alive ping interval; raised to 10 s at least, as grpc-go does, so servers do not see ping abuse. */
  keepAliveTimeMs?: number;
  keepAliveTimeoutMs?: number;
  tls?: TlsOptions;
  /** Whether `host:port` endpoints without a scheme use plaintext when no TLS options are given. Default true. */
  insecureTransport?: boolean;
  username?: string;
  password?: string;
  /** Largest request the client sends. Default 2 MiB, as clientv3. */
  maxCallSendBytes?: number;
  /** Largest response the client accepts. Default unlimited, as clientv3 (grpc-js's default is 4 MiB). */
  maxCallRecvBytes?: number;
  /** Upper bound of attempts of one call when it may be retried. Default 100, as clientv3. */
  maxAttempts?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline in ms from now; overrides the client's commandTimeoutMs. */
  timeoutMs?: number;
  /** Cancels the call (it then fails with CanceledError). */
  signal?: AbortSignal;
}

export const clientDefaults = {
  dialTimeoutMs: 2000,
  maxCallSendBytes: 2 * 1024 * 1024,
  maxAttempts: 100,
  /** clientv3's backoff between retries: 25 ms with 10% jitter. */
  retryBackoffMs: 25,
  retryJitter: 0.1,
  /** grpc-go never pings more often than this, whatever the configuration says. */
  keepAliveTimeMinMs: 10_000,
} as const;
