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
  return {
    // Any user may list members, to find endpoints; nobody unauthenticated (GHSA-q8m4-xhhv-38mg).
    memberList: unary(async (r, call) => {
      server.auth.checkAuthenticated(await who.authInfo(call));
      if (r.linearizable) await server.linearizableReadBarrier();
      return { header: server.fillHeader(undefined), members: members() };
    }),
    memberAdd: unary(async (r, call) => {
      await admin(call);
      const { member, members: after } = await server.memberAdd(r.peerURLs, r.isLearner);
      return { header: server.fillHeader(undefined), member: memberToWire(member), members: after.map(memberToWire) };
    }),
    memberRemove: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberRemove(r.ID);
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
    memberUpdate: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberUpdate(r.ID, r.peerURLs);
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
    memberPromote: unary(async (r, call) => {
      await admin(call);
      const after = await server.memberPromote(r.ID, tokenOf(call));
      return { header: server.fillHeader(undefined), members: after.map(memberToWire) };
    }),
  };
}
