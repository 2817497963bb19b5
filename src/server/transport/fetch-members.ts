import { Client, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { MembersRequest, MembersResponse } from '../../proto/gen/etcdtspb/peer.js';
import { ClusterIdMismatchError, FetchMembersError, refusalOf } from './errors.js';
import { backoffInitialMsDefault, backoffMaxMsDefault, keepaliveTimeMsDefault, keepaliveTimeoutMsDefault, membersTimeoutMsDefault } from './limits.js';
import { unaryCall } from './unary.js';
import { channelCredentialsFor, channelOptions, hostPort, parsePeerUrl, paths } from './wire.js';

export interface FetchMembersOptions {
  /** Refuse an answer from another cluster (e.g. one the token does not match). */
  clusterIdExpected?: bigint;
  /** Our ids, if known; a joining member knows neither and sends zeros. */
  memberId?: bigint;
  clusterId?: bigint;
  /** Deadline per URL. */
  timeoutMs?: number;
  channelCredentials?: () => ChannelCredentials;
}

/**
 * Asks existing members for the cluster's membership, trying the URLs in
 * order until one answers acceptably: how a member started with
 * --initial-cluster-state=existing learns the cluster id and its peers
 * (etcd's GetClusterFromRemotePeers). Throws FetchMembersError listing why
 * each URL failed; a MemberRemovedError among the causes means we were
 * removed and must not start.
 */
export async function fetchMembers(urls: string[], o: FetchMembersOptions = {}): Promise<MembersResponse> {
  const causes: { url: string; error: Error }[] = [];
  const request: MembersRequest = { header: { clusterId: o.clusterId ?? 0n, from: o.memberId ?? 0n, to: 0n } };
  const options = channelOptions({
    keepaliveTimeMs: keepaliveTimeMsDefault,
    keepaliveTimeoutMs: keepaliveTimeoutMsDefault,
    backoffInitialMs: backoffInitialMsDefault,
    backoffMaxMs: backoffMaxMsDefault,
  });
  for (const raw of urls) {
    let client: Client | undefined;
    try {
      const url = parsePeerUrl(raw);
      client = new Client(hostPort(url), channelCredentialsFor(url, o.channelCredentials), options);
      const res = await unaryCall(client, paths.members, { req: MembersRequest, res: MembersResponse }, request, new Metadata(), o.timeoutMs ?? membersTimeoutMsDefault);
      if (o.clusterIdExpected !== undefined && res.clusterId !== o.clusterIdExpected) {
        throw new ClusterIdMismatchError(res.clusterId, o.clusterIdExpected);
      }
      return res;
    } catch (err) {
      const refusal = refusalOf(err as ServiceError, o.clusterId ?? 0n);
      causes.push({ url: raw, error: refusal ?? (err instanceof Error ? err : new Error(String(err))) });
    } finally {
      client?.close();
    }
  }
  throw new FetchMembersError(causes);
}
