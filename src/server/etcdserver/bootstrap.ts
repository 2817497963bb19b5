import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { HardState, Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { MemoryStorage } from '../raft/index.js';
import { Wal } from '../wal/wal.js';
import { Snapshotter } from '../wal/snapshotter.js';
import { computeClusterId, computeMemberId } from '../membership/ids.js';
import { urlText, type ServerConfig } from './config.js';
import type { MemberInfo } from '../membership/cluster.js';

/**
 * How a member finds its Raft state at startup, as etcd does
 * (etcdserver/server.go NewServer):
 *
 * - restart: a WAL exists. Load the newest snapshot the WAL names, open the
 *   WAL from it, and rebuild the in-memory log (snapshot, hard state,
 *   entries after it). Member and cluster ids come from the WAL metadata.
 * - new cluster: no WAL and --initial-cluster-state=new. Ids are computed
 *   from --initial-cluster and the token; Raft is bootstrapped with one
 *   AddNode entry per initial member.
 * - join: no WAL and --initial-cluster-state=existing. The caller asks the
 *   existing members for the membership (it must already list this member,
 *   added with `member add`) and passes it in; the member starts with an
 *   empty log and waits for the leader.
 */
export interface RaftBoot {
  kind: 'restart' | 'new' | 'join';
  memberId: bigint;
  clusterId: bigint;
  wal: Wal;
  snapshotter: Snapshotter;
  storage: MemoryStorage;
  snapshot: Snapshot | undefined;
  hardState: HardState | undefined;
  /** For a new cluster: the initial members to bootstrap Raft with. */
  initialMembers: MemberInfo[];
}

export function snapDir(config: Pick<ServerConfig, 'dataDir'>): string {
  return join(config.dataDir, 'member', 'snap');
}

export function encodeWalMetadata(memberId: bigint, clusterId: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(memberId, 0);
  b.writeBigUInt64BE(clusterId, 8);
  return b;
}

export function decodeWalMetadata(b: Buffer): { memberId: bigint; clusterId: bigint } {
  if (b.length !== 16) throw new Error(`WAL metadata has ${b.length} bytes, want 16: this data dir was not written by etcdts`);
  return { memberId: b.readBigUInt64BE(0), clusterId: b.readBigUInt64BE(8) };
}

/**
 * The initial members named by --initial-cluster, with etcd's ids. Every
 * member builds the same bootstrap entries from the same flags, so they
 * carry only what all members know (names and peer URLs); each member's
 * client URLs reach the others later, through its published attributes.
 */
export function initialMembers(config: ServerConfig): MemberInfo[] {
  return [...config.initialCluster.entries()].map(([name, urls]) => ({
    id: computeMemberId(urls, config.initialClusterToken),
    name,
    peerUrls: urls,
    clientUrls: [],
    isLearner: false,
  }));
}

export async function bootstrapRaft(config: ServerConfig, join?: { clusterId: bigint; memberId: bigint }): Promise<RaftBoot> {
  await mkdir(snapDir(config), { recursive: true, mode: 0o700 });
  const snapshotter = new Snapshotter(snapDir(config), { filesMax: config.maxSnapshots, noSync: config.unsafeNoFsync });
  // ETCDTS_WAL_SEGMENT_BYTES is a test seam (etcd's tests set wal.SegmentSizeBytes): small segments let a short robustness run reach the cut and purge failpoints.
  const walOptions = { filesMax: config.maxWals, noSync: config.unsafeNoFsync, segmentBytes: Number(process.env['ETCDTS_WAL_SEGMENT_BYTES'] ?? 0) || undefined };
  if (await Wal.exists(config.walDir)) {
    const markers = await Wal.readSnapshotMarkers(config.walDir);
    const snapshot = await snapshotter.loadNewestAvailable(markers);
    const from = snapshot?.metadata !== undefined ? { index: snapshot.metadata.index, term: snapshot.metadata.term } : { index: 0n, term: 0n };
    const opened = await Wal.open(config.walDir, from, walOptions);
    const ids = decodeWalMetadata(opened.metadata);
    const storage = new MemoryStorage();
    if (snapshot !== undefined) storage.applySnapshot(snapshot);
    storage.setHardState(opened.hardState);
    storage.append(opened.entries);
    return { kind: 'restart', ...ids, wal: opened.wal, snapshotter, storage, snapshot, hardState: opened.hardState, initialMembers: [] };
  }
  if (join !== undefined) {
    const wal = await Wal.create(config.walDir, encodeWalMetadata(join.memberId, join.clusterId), walOptions);
    return { kind: 'join', ...join, wal, snapshotter, storage: new MemoryStorage(), snapshot: undefined, hardState: undefined, initialMembers: [] };
  }
  const members = initialMembers(config);
  const memberId = computeMemberId(config.initialAdvertisePeerUrls.map(urlText), config.initialClusterToken);
  if (!members.some((m) => m.id === memberId)) {
    throw new Error(`--initial-advertise-peer-urls of ${config.name} do not match its entry in --initial-cluster`);
  }
  const clusterId = computeClusterId(members.map((m) => m.id));
  const wal = await Wal.create(config.walDir, encodeWalMetadata(memberId, clusterId), walOptions);
  return { kind: 'new', memberId, clusterId, wal, snapshotter, storage: new MemoryStorage(), snapshot: undefined, hardState: undefined, initialMembers: members };
}
