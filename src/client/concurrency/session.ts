import type { Client } from '../client.js';
import type { CallOptions } from '../options.js';
import type { KeepAliveEnd, LeaseKeepAlive } from '../lease.js';

export interface SessionOptions {
  /** TTL of the session's lease in seconds. Default 60, as etcd's concurrency package. */
  ttl?: number;
  /** Use this existing lease instead of granting one. */
  lease?: bigint;
  /**
   * Keep the lease alive in the background (default). Without it the
   * session is "orphaned" from the start: the lease belongs to someone else
   * who keeps it alive, as for etcd's Lock and Election services, which act
   * on a lease the caller passes in.
   */
  keepAlive?: boolean;
  signal?: AbortSignal;
}

/** etcd's default session TTL in seconds. */
export const defaultSessionTtl = 60;

/**
 * A lease kept alive in the background: the identity that locks and
 * elections are held under. When the lease is lost (the server says it
 * expired, or no renewal was confirmed before it could have expired) `done`
 * resolves and `lost` tells why; everything held under the session must be
 * considered gone from then on. close() revokes the lease, which deletes
 * every key held under it at once.
 */
export class Session {
  /** Resolves when the keep-alive ends: lost (`expired`, `deadline`) or stopped (`closed`). */
  readonly done: Promise<KeepAliveEnd>;

  private constructor(
    readonly client: Client,
    /** The lease id. */
    readonly lease: bigint,
    /** TTL in seconds (as granted, for a lease this session granted). */
    readonly ttl: number,
    private readonly keepAlive: LeaseKeepAlive | undefined,
  ) {
    this.done = keepAlive?.done ?? new Promise<KeepAliveEnd>(() => undefined);
  }

  static async create(client: Client, options: SessionOptions = {}): Promise<Session> {
    let ttl = options.ttl !== undefined && options.ttl > 0 ? options.ttl : defaultSessionTtl;
    let lease = options.lease ?? 0n;
    let initialDeadline: number | undefined;
    if (lease === 0n) {
      const sentAt = Date.now();
      const granted = await client.lease.grant(ttl, { signal: options.signal });
      lease = granted.ID;
      ttl = Number(granted.TTL);
      initialDeadline = sentAt + ttl * 1000;
    }
    const keepAlive = options.keepAlive === false ? undefined : client.lease.keepAlive(lease, { initialDeadline });
    return new Session(client, lease, ttl, keepAlive);
  }

  /** Why the session ended, if its lease was lost; undefined while it lives (or after orphan/close). */
  get lost(): KeepAliveEnd | undefined {
    const end = this.keepAlive?.ended;
    return end === undefined || end.reason === 'closed' ? undefined : end;
  }

  /** Stops the keep-alive without revoking: the lease lives until its TTL runs out. */
  orphan(): void {
    this.keepAlive?.close();
  }

  /** Stops the keep-alive and revokes the lease (giving up after the TTL: by then it has expired anyway). */
  async close(options: CallOptions = {}): Promise<void> {
    this.orphan();
    await this.client.lease.revoke(this.lease, { timeoutMs: this.ttl * 1000, ...options });
  }
}
