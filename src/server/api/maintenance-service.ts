import type { MaintenanceServer, StatusResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { serverVersion } from '../etcdserver/server.js';
import { unary } from './unary.js';

/** The etcdserverpb.Maintenance service. Methods not listed answer UNIMPLEMENTED. */
export function maintenanceService(server: EtcdServer): Partial<MaintenanceServer> {
  return {
    moveLeader: unary(async (r) => {
      await server.moveLeader(r.targetID);
      return { header: server.fillHeader(undefined) };
    }),
    status: unary(async () => {
      const resp: StatusResponse = {
        header: server.fillHeader(undefined),
        version: serverVersion,
        dbSize: BigInt(server.backend.sizeBytes()),
        leader: server.leaderId,
        raftIndex: server.committedIndex,
        raftTerm: server.term,
        raftAppliedIndex: server.appliedIndex,
        errors: [],
        dbSizeInUse: BigInt(server.backend.sizeInUseBytes()),
        isLearner: server.isLearner,
        storageVersion: '',
        dbSizeQuota: BigInt(server.config.quotaBackendBytes),
        downgradeInfo: undefined,
      };
      return resp;
    }),
  };
}
