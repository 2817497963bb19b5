import type { ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type {
  CampaignRequest,
  CampaignResponse,
  ElectionServer,
  LeaderKey,
  LeaderRequest,
  LeaderResponse,
  ProclaimRequest,
  ProclaimResponse,
  ResignRequest,
  ResignResponse,
} from '../../proto/gen/v3electionpb/v3election.js';
import type { Client } from '../../client/client.js';
import { Election } from '../../client/concurrency/election.js';
import { Session } from '../../client/concurrency/session.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { toServiceError } from './grpc-errors.js';
import { ElectionLeaseRequiredError, InProcessClient } from './lock-service.js';
import { unary } from './unary.js';

/** Re-exported so that the listener registers the service with one import. */
export { ElectionService } from '../../proto/gen/v3electionpb/v3election.js';

/** etcd's v3election.ErrMissingLeaderKey (sent as UNKNOWN, like every error of this service). */
export class MissingLeaderKeyError extends Error {
  constructor() {
    super('"leader" field must be provided');
    this.name = 'MissingLeaderKeyError';
  }
}

/**
 * The v3electionpb.Election service, as etcd's v3election: each call runs
 * the election recipe through the in-process client, under the caller's
 * lease (which the caller keeps alive). Campaign answers once elected with
 * the LeaderKey that Proclaim and Resign take back; Observe streams every
 * leadership and proclamation in order.
 */
export function electionService(server: EtcdServer): ElectionServer {
  const inProcess = new InProcessClient(server);
  return {
    campaign: unary((request: CampaignRequest, call: ServerUnaryCall<CampaignRequest, CampaignResponse>) =>
      inProcess.use(async (client, signal) => {
        if (request.lease === 0n) throw new ElectionLeaseRequiredError();
        const session = await Session.create(client, { lease: request.lease, keepAlive: false });
        const election = new Election(session, request.name);
        await election.campaign(request.value, { signal });
        const leader: LeaderKey = { name: request.name, key: election.key!, rev: election.revision, lease: request.lease };
        return { header: election.header, leader };
      }, call),
    ),
    proclaim: unary((request: ProclaimRequest, call: ServerUnaryCall<ProclaimRequest, ProclaimResponse>) =>
      inProcess.use(async (client, signal) => {
        const election = await resumed(client, request.leader);
        await election.proclaim(request.value, { signal });
        return { header: election.header };
      }, call),
    ),
    leader: unary((request: LeaderRequest, call: ServerUnaryCall<LeaderRequest, LeaderResponse>) =>
      inProcess.use(async (client, signal) => {
        const response = await new Election(client, request.name).leader({ signal });
        return { header: response.header, kv: response.kvs[0] };
      }, call),
    ),
    resign: unary((request: ResignRequest, call: ServerUnaryCall<ResignRequest, ResignResponse>) =>
      inProcess.use(async (client, signal) => {
        const election = await resumed(client, request.leader);
        await election.resign({ signal });
        return { header: election.header };
      }, call),
    ),
    observe: (call: ServerWritableStream<LeaderRequest, LeaderResponse>) => {
      inProcess
        .use(async (client, signal) => {
          for await (const { header, kv } of new Election(client, call.request.name).observe({ signal })) {
            if (!call.write({ header, kv })) await drained(call, signal);
          }
        }, call)
        .then(
          () => call.end(),
          (err: unknown) => {
            if (call.cancelled) return;
            call.destroy(Object.assign(new Error((err as Error).message), toServiceError(err)));
          },
        );
    },
  };
}

/** Waits until the stream takes more, or the caller is gone. */
function drained(call: ServerWritableStream<LeaderRequest, LeaderResponse>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The election a LeaderKey from Campaign stands for, under the leader's lease. */
async function resumed(client: Client, leader: LeaderKey | undefined): Promise<Election> {
  if (leader === undefined) throw new MissingLeaderKeyError();
  const session = await Session.create(client, { lease: leader.lease, keepAlive: false });
  return Election.resume(session, leader.name, leader.key, leader.rev);
}
