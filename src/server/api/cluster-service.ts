import type { ClusterServer, Member } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { urlText } from '../etcdserver/config.js';
import { unary } from './unary.js';

/** The etcdserverpb.Cluster service. */
export function clusterService(server: EtcdServer): Partial<ClusterServer> {
  return {
    memberList: unary(async () => {
      const self: Member = {
        ID: server.memberId,
        name: server.config.name,
        peerURLs: server.config.initialAdvertisePeerUrls.map(urlText),
        clientURLs: server.config.advertiseClientUrls.map(urlText),
        isLearner: false,
      };
      return { header: server.fillHeader(undefined), members: [self] };
    }),
  };
}
