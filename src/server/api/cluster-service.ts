import type { ClusterServer } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { memberToWire } from '../membership/cluster.js';
import { unary } from './unary.js';
import { tokenOf } from '../auth/principal.js';

/** The etcdserverpb.Cluster service: membership reconfiguration through Raft. */
export function clusterService(server: EtcdServer): ClusterServer {
  const members = () => server.cluster.list().map(memberToWire);
  const who = server.authRequests;
  // Membership changes are root's, as in etcd (checked here, before the change is proposed, as etcd does).
  const admin = async (call: Parameters<typeof who.authInfo>[0]): Promise<void> => server.auth.checkAdmin(await who.authInfo(call));
  // etcd's ClusterServer.header(): the cluster, the member and the term, no revision.
  const header = () => ({ clusterId: server.clusterId, memberId: server.memberId, revision: 0n, raftTerm: server.term });
  return {
    // Any user may list members, to find endpoints; nobody unauthenticated (GHSA-q8m4-xhhv-38mg).
    memberList: unary(async (r, call) => {
      server.auth.checkAuthenticated(await who.authInfo(call));
      if (r.linearizable) await server.linearizableReadBarrier();
      return { header: header(), members: members() };
    }),
    memberAdd: unary(async (r, call) => {
      await admin(call);
      const { member, members: after } = await server.memberAdd(r.peerURLs, r.isLearner);
      return { header: header(), member: memberToWire(member), members: after.map(memberToWire) };
    }),
    memberRemove: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberRemove(r.ID);
      return { header: header(), members: after.map(memberToWire) };
    }),
    memberUpdate: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberUpdate(r.ID, r.peerURLs);
      return { header: header(), members: after.map(memberToWire) };
    }),
    memberPromote: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberPromote(r.ID, tokenOf(call));
      return { header: header(), members: after.map(memberToWire) };
    }),
  };
}
