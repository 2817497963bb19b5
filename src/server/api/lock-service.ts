import { status as Status, type ServerUnaryCall } from '@grpc/grpc-js';
import type { LockRequest, LockResponse, LockServer, UnlockRequest, UnlockResponse } from '../../proto/gen/v3lockpb/v3lock.js';
import { Client } from '../../client/client.js';
import { Mutex } from '../../client/concurrency/mutex.js';
import { Session } from '../../client/concurrency/session.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { registerWireError } from './grpc-errors.js';
import { unary } from './unary.js';
import type { CallCredentials } from '../auth/principal.js';

/** Re-exported so that the listener registers the service with one import. */
export { LockService } from '../../proto/gen/v3lockpb/v3lock.js';

/**
 * A Lock or Campaign request without a lease. etcd grants a 60 s lease on
 * the caller's behalf that nobody keeps alive, so the caller "holds" a lock
 * that silently expires a minute later while it still believes it holds it
 * (two holders at once, dotnet-etcd#321). We refuse instead.
 */
const lockLeaseRequired = 'lock: a lease is required: grant one, keep it alive, and pass its ID';
const electionLeaseRequired = 'election: a lease is required: grant one, keep it alive, and pass its ID';

export class LockLeaseRequiredError extends Error {
  constructor() {
    super(lockLeaseRequired);
    this.name = 'LockLeaseRequiredError';
  }
}

export class ElectionLeaseRequiredError extends Error {
  constructor() {
    super(electionLeaseRequired);
    this.name = 'ElectionLeaseRequiredError';
  }
}

registerWireError(LockLeaseRequiredError, Status.INVALID_ARGUMENT, lockLeaseRequired);
registerWireError(ElectionLeaseRequiredError, Status.INVALID_ARGUMENT, electionLeaseRequired);

/** How long an unused in-process client stays open before it is closed. */
const inProcessIdleMs = 1000;

/**
 * The client through which the Lock and Election services run the same
 * recipes the CLI uses (style.md §6), connected to this member's own
 * services through a private socket (server.internalEndpoint: no TLS, no
 * listen URL involved, reachable only by the member's own user), as etcd's
 * v3client does in-process. It is opened on first use and closed when no
 * request has used it for a moment, so a stopped member leaves no
 * reconnecting streams behind.
 */
export class InProcessClient {
  private client: Promise<Client> | undefined;
  private users = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly server: EtcdServer) {}

  async use<T>(fn: (client: Client, signal: AbortSignal) => Promise<T>, call: CancellableCall): Promise<T> {
    clearTimeout(this.idleTimer);
    this.users++;
    const controller = new AbortController();
    const onCancel = (): void => controller.abort();
    call.on('cancelled', onCancel);
    let caller: { client: Client; release(): void } | undefined;
    try {
      // Connecting lazily (dial timeout 0) cannot fail; concurrent first calls share one client.
      this.client ??= Client.connect({ endpoints: [this.server.internalEndpoint ?? loopbackEndpoint(this.server)], dialTimeoutMs: 0 });
      // The recipe's calls run as the caller: its token, or one standing for its certificate's user.
      const delegated = await this.server.authRequests.delegate(call);
      caller = { client: (await this.client).withToken(delegated.token), release: delegated.release };
      return await fn(caller.client, controller.signal);
    } finally {
      caller?.client.close();
      caller?.release();
      call.off('cancelled', onCancel);
      this.users--;
      if (this.users === 0) {
        this.idleTimer = setTimeout(() => this.closeIdle(), inProcessIdleMs);
        this.idleTimer.unref();
      }
    }
  }

  private closeIdle(): void {
    if (this.users > 0 || this.client === undefined) return;
    void this.client.then((client) => client.close());
    this.client = undefined;
  }
}

/** The part of a grpc-js server call that tells who calls and when the caller went away. */
export interface CancellableCall extends CallCredentials {
  on(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

/** This member's first client URL, with a wildcard host replaced by loopback (for a member run without main.ts's private socket). */
export function loopbackEndpoint(server: EtcdServer): string {
  const url = server.config.listenClientUrls[0];
  if (url === undefined) throw new Error('the member has no client URL');
  if (url.protocol === 'unix:' || url.protocol === 'unixs:') return `${url.protocol}//${url.host}${url.pathname}`;
  const host = url.hostname === '0.0.0.0' || url.hostname === '' ? '127.0.0.1' : url.hostname === '[::]' ? '[::1]' : url.hostname;
  return `${url.protocol}//${host}:${url.port}`;
}

/**
 * The v3lockpb.Lock service, as etcd's v3lock: Lock queues under the
 * caller's lease with the mutex recipe and answers once the lock is held
 * (the response key's revision, or the header's, is the fencing token);
 * a caller that cancels while waiting leaves the queue. Unlock deletes the
 * key. Recipe errors go out as etcd sends them: UNKNOWN with their text.
 */
export function lockService(server: EtcdServer): LockServer {
  const inProcess = new InProcessClient(server);
  return {
    lock: unary((request: LockRequest, call: ServerUnaryCall<LockRequest, LockResponse>) =>
      inProcess.use(async (client, signal) => {
        if (request.lease === 0n) throw new LockLeaseRequiredError();
        const session = await Session.create(client, { lease: request.lease, keepAlive: false });
        const mutex = new Mutex(session, request.name);
        await mutex.lock({ signal });
        return { header: mutex.header, key: mutex.key! };
      }, call),
    ),
    unlock: unary((request: UnlockRequest, call: ServerUnaryCall<UnlockRequest, UnlockResponse>) =>
      inProcess.use(async (client, signal) => {
        const response = await client.kv.delete(request.key, { signal });
        return { header: response.header };
      }, call),
    ),
  };
}
