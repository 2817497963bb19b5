import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseServer, LeaseTimeToLiveResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { LeaseNotFoundError } from '../lease/errors.js';
import { toServiceError } from './grpc-errors.js';
import { unary } from './unary.js';
import { checkLeaseKeysReadable } from '../auth/authorize.js';

/** The etcdserverpb.Lease service. */
export function leaseService(server: EtcdServer): LeaseServer {
  const who = server.authRequests;
  return {
    // Grant and revoke are checked at apply: any user may grant; revoking needs write on every attached key.
    leaseGrant: unary(async (r, call) => {
      const resp = await server.leaseGrant(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    leaseRevoke: unary(async (r, call) => {
      const resp = await server.leaseRevoke(r, await who.authInfo(call));
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    leaseTimeToLive: unary(async (r, call) => {
      // Read on every attached key, asked for or not (CVE-2023-32082), checked against this member's lease table.
      const ai = await who.authInfo(call);
      checkLeaseKeysReadable(server.auth, ai, r.ID, server.leaseKeys);
      let resp: LeaseTimeToLiveResponse;
      try {
        resp = await server.leaseTimeToLive(r);
      } catch (err) {
        // etcd answers an unknown lease with TTL -1, not an error.
        if (!(err instanceof LeaseNotFoundError)) throw err;
        resp = { header: undefined, ID: r.ID, TTL: -1n, grantedTTL: 0n, keys: [] };
      }
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    leaseLeases: unary(async (_r, call) => {
      server.auth.checkAuthenticated(await who.authInfo(call));
      const resp = await server.leaseLeases();
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    leaseKeepAlive: (stream) => keepAlive(server, stream),
  };
}

/**
 * One keep-alive stream: each request renews one lease and is answered with
 * its TTL, in order; an unknown or expired lease is answered with TTL 0.
 */
function keepAlive(server: EtcdServer, stream: ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>): void {
  let chain: Promise<void> = Promise.resolve();
  // Set once the call failed or was cancelled: nothing more is written. A half-close is not that:
  // requests received before it are still answered (etcd answers each before reading the next).
  let ended = false;
  stream.on('data', (req: LeaseKeepAliveRequest) => {
    chain = chain.then(async () => {
      if (ended) return;
      let ttl: bigint;
      try {
        // Each renewal is for a user (GHSA-q8m4-xhhv-38mg: 3.4.23 renewed for anyone); the token is looked at each time, so it stays alive while used.
        server.auth.checkAuthenticated(await server.authRequests.authInfo(stream));
        ttl = await server.leaseRenew(req.ID);
      } catch (err) {
        if (!(err instanceof LeaseNotFoundError)) {
          ended = true;
          stream.destroy(Object.assign(new Error((err as Error).message), toServiceError(err)));
          return;
        }
        ttl = 0n;
      }
      if (!ended) stream.write({ header: server.fillHeader(undefined), ID: req.ID, TTL: ttl });
    });
  });
  stream.on('end', () => {
    chain = chain.then(() => {
      if (!ended) stream.end();
      ended = true;
    });
  });
  stream.on('error', () => {
    ended = true;
  });
  stream.on('cancelled', () => {
    ended = true;
  });
}
