import type { ClusterServer } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { memberToWire } from '../membership/cluster.js';
import { unary } from './unary.js';

/** The etcdserverpb.Cluster service: membership reconfiguration through Raft. */
export function clusterService(server: EtcdServer): ClusterServer {
  const members = () => server.cluster.list().map(memberToWire);
  return {
    memberList: unary(async (r) => {
      if (r.linearizable) await server.linearizableReadBarrier();
      return { header: server.fillHeader(undefined), members: members() };
    }),
    memberAdd: unary(async (r) => {
      const { member, members: after } = await server.memberAdd(r.peerURLs, r.isLearner);
      return { header: server.fillHeader(undefined), member: memberToWire(member), members: after.map(memberToWire) };
    }),
    memberRemove: unary(async (r) => {
      const after = await server.memberRemove(r.ID);
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
    memberUpdate: unary(async (r) => {
      const after = await server.memberUpdate(r.ID, r.peerURLs);
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
    memberPromote: unary(async (r) => {
      const after = await server.memberPromote(r.ID);
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
  };
}
