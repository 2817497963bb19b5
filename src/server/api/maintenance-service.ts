import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { MaintenanceServer, SnapshotRequest, SnapshotResponse, StatusResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { serverVersion } from '../etcdserver/server.js';
import { snapDir } from '../etcdserver/bootstrap.js';
import { toServiceError } from './grpc-errors.js';
import { unary } from './unary.js';

/** Bytes per snapshot message, as etcd sends them. */
const snapshotChunkBytes = 32 * 1024;

/** The etcdserverpb.Maintenance service. Methods not listed answer UNIMPLEMENTED. */
export function maintenanceService(server: EtcdServer): Partial<MaintenanceServer> {
  const who = server.authRequests;
  /**
   * Root only, as etcd's authMaintenanceServer (defragment, snapshot, hash,
   * hash-kv) and, stricter than 3.4.23, move-leader too: patched etcd
   * requires root for every maintenance call but those below.
   */
  const admin = async (call: Parameters<typeof who.authInfo>[0]): Promise<void> => server.auth.checkAdmin(await who.authInfo(call));
  return {
    // etcd 3.4 answers Alarm and MoveLeader without a header; clients print what they get.
    // Checked at apply: listing alarms is for any user, raising or clearing one is root's (GHSA-q8m4-xhhv-38mg).
    alarm: unary(async (r, call) => {
      const resp = await server.alarm(r, await who.authInfo(call));
      resp.header = undefined;
      return resp;
    }),
    // Any user (3.4.23: anyone; patched etcd: any authenticated caller).
    status: unary(async (_r, call) => {
      server.auth.checkAuthenticated(await who.authInfo(call));
      const resp: StatusResponse = {
        header: server.fillHeader(undefined),
        version: serverVersion,
        dbSize: BigInt(server.backend.sizeBytes()),
        leader: server.leaderId,
        raftIndex: server.committedIndex,
        raftTerm: server.term,
        raftAppliedIndex: server.appliedIndex,
        errors: server.statusErrors(),
        dbSizeInUse: BigInt(server.backend.sizeInUseBytes()),
        isLearner: server.isLearner,
        storageVersion: '',
        dbSizeQuota: BigInt(server.config.quotaBackendBytes),
        downgradeInfo: undefined,
      };
      return resp;
    }),
    defragment: unary(async (_r, call) => {
      await admin(call);
      await server.defragment();
      // etcd answers an empty DefragmentResponse, without a header.
      return { header: undefined };
    }),
    hash: unary(async (_r, call) => {
      await admin(call);
      const hash = await server.hash();
      return { header: server.fillHeader(undefined), hash };
    }),
    hashKv: unary(async (r, call) => {
      await admin(call);
      const resp = server.hashKV(r.revision);
      resp.header = server.fillHeader(resp.header);
      return resp;
    }),
    moveLeader: unary(async (r, call) => {
      await admin(call);
      await server.moveLeader(r.targetID);
      return { header: undefined };
    }),
    snapshot: (call) => {
      streamSnapshot(server, call).catch((err: unknown) => {
        call.destroy(Object.assign(new Error((err as Error).message), toServiceError(err)));
      });
    },
  };
}

/**
 * Streams a consistent copy of the database in 32 KiB chunks, then one last
 * message whose blob is the SHA-256 of everything sent (etcd's integrity
 * check, verified by `snapshot save` and `snapshot restore`). The first
 * message's header names the revision the copy was taken at.
 */
async function streamSnapshot(server: EtcdServer, call: ServerWritableStream<SnapshotRequest, SnapshotResponse>): Promise<void> {
  server.auth.checkAdmin(await server.authRequests.authInfo(call));
  const tmp = join(snapDir(server.config), `.client-snapshot-${randomBytes(6).toString('hex')}.tmp`);
  let cancelled = false;
  call.on('cancelled', () => {
    cancelled = true;
  });
  try {
    const { revision } = await server.snapshotCopy(tmp);
    const total = (await stat(tmp)).size;
    const sha = createHash('sha256');
    let sent = 0;
    let first = true;
    for await (const chunk of createReadStream(tmp, { highWaterMark: snapshotChunkBytes })) {
      if (cancelled) return;
      const blob = chunk as Buffer;
      sent += blob.length;
      sha.update(blob);
      const header = first ? server.fillHeader({ clusterId: 0n, memberId: 0n, revision, raftTerm: 0n }) : undefined;
      first = false;
      if (!call.write({ header, remainingBytes: BigInt(total - sent), blob, version: '' })) {
        await new Promise((resolve) => call.once('drain', resolve));
      }
    }
    call.write({ header: undefined, remainingBytes: 0n, blob: sha.digest(), version: '' });
    call.end();
  } finally {
    await rm(tmp, { force: true });
  }
}
