import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HashKVRequest, HashKVResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { MembersResponse } from '../../proto/gen/etcdtspb/peer.js';
import { ConfState, MessageType, type Message } from '../../proto/gen/etcdtspb/raft.js';
import { PeerTransport } from '../transport/transport.js';
import type { PeerHandler, PeerTransportOptions } from '../transport/transport-interface.js';
import { Backend } from '../mvcc/backend.js';
import { readU64 } from '../mvcc/kvstore.js';
import { memberToWire, type MemberInfo } from '../membership/cluster.js';
import { wireErrorOf } from '../api/grpc-errors.js';
import { snapDir } from './bootstrap.js';
import { receivedSnapshotDbPath, type EtcdServer } from './server.js';
import type { RaftTransport } from './raft-node.js';
import { NotLeaderError } from './errors.js';
import { failpoint } from '../failpoint.js';

/** Chunk size of snapshot streams between members. */
const snapshotChunkBytes = 1024 * 1024;

/** How often each peer's round trip is measured (etcd's prober: every 4 s, reported every 30 s). */
export const peerProbeIntervalMs = 5000;

/**
 * Connects a member to its peers: the PeerTransport carries Raft messages
 * and snapshots, and this module is the member's side of it — stepping what
 * arrives into Raft, streaming a fresh database copy for each MsgSnap (etcd's
 * merged snapshot: taken at the applied index with the configuration of that
 * moment, so a member added since the last Raft snapshot can accept it),
 * answering membership and forwarded lease calls, and keeping the peer list
 * in step with the applied membership.
 */
export class Peering implements PeerHandler, RaftTransport {
  readonly transport: PeerTransport;
  /** Snapshot copies being sent, by destination, removed when the send settles. */
  private readonly outgoingCopies = new Map<bigint, string>();
  private snapshotSeq = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probing = new Set<bigint>();

  constructor(private readonly server: EtcdServer, tls: Pick<PeerTransportOptions, 'tls' | 'channelCredentials'> = {}) {
    this.transport = new PeerTransport({
      memberId: server.memberId,
      clusterId: server.clusterId,
      listenUrls: server.config.listenPeerUrls,
      handler: this,
      logger: server.log,
      options: {
        onUnreachable: (id) => server.driver.reportUnreachable(id),
        onSnapshotStatus: (id, ok) => {
          server.driver.reportSnapshot(id, ok);
          void this.dropCopy(id);
        },
        onRemoved: () => {
          server.log.warn('a peer reports this member as removed from the cluster; shutting down');
          server.onRemoved?.();
        },
        errorToStatus: (err) => wireErrorOf(err),
        ...tls,
      },
    });
  }

  /**
   * Starts serving and sending. `seed` is the membership a joining member
   * fetched from the cluster: it has applied nothing yet, so without it the
   * member could not answer the leader that is about to catch it up.
   */
  async start(seed: MemberInfo[] = []): Promise<void> {
    this.cleanupStaleFiles();
    this.syncPeers([...seed, ...this.server.cluster.list()]);
    this.server.onMembershipChange = (members) => this.syncPeers(members);
    this.server.peerActive = (id) => id === this.server.memberId || this.transport.isActive(id);
    this.server.forwardLeaseRenew = (leader, id) => this.transport.forwardLeaseRenew(leader, { ID: id }).then((r) => r.TTL);
    this.server.forwardLeaseTimeToLive = (leader, req) => this.transport.forwardLeaseTimeToLive(leader, req);
    this.server.askPeerHashKV = (id, rev, timeoutMs) => this.transport.peerHashKV(id, { revision: rev }, timeoutMs);
    this.server.driver.setTransport(this);
    this.server.peerView = { counters: () => this.transport.allCounters(), isActive: (id) => this.transport.isActive(id) };
    await this.transport.start();
    this.probeTimer = setInterval(() => this.probePeers(), peerProbeIntervalMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.probeTimer);
    await this.transport.stop();
  }

  /**
   * Measures the round trip to every peer for etcd_network_peer_round_trip_time_seconds,
   * only while someone listens for it; a peer that does not answer has no round trip to report.
   */
  private probePeers(): void {
    const report = this.server.observers.peerRoundTrip;
    if (report === undefined) return;
    for (const id of this.peerIds()) {
      if (this.probing.has(id)) continue;
      this.probing.add(id);
      this.transport.roundTrip(id, peerProbeIntervalMs)
        .then((seconds) => report(id, seconds), () => undefined)
        .finally(() => this.probing.delete(id));
    }
  }

  /**
   * Adds and updates transport peers from the applied membership. A peer is
   * dropped only once its removal is applied: while a member replays the
   * log from the start, the membership it has applied so far is smaller
   * than the cluster it is talking to.
   */
  private syncPeers(members: MemberInfo[]): void {
    const self = this.server.memberId;
    for (const m of members) {
      if (m.id === self || this.server.cluster.isRemoved(m.id)) continue;
      if (this.transport.hasPeer(m.id)) this.transport.updatePeer(m.id, m.peerUrls);
      else this.transport.addPeer(m.id, m.peerUrls);
    }
    for (const id of this.peerIds()) if (this.server.cluster.isRemoved(id)) this.transport.removePeer(id);
  }

  private peerIds(): bigint[] {
    return [...this.transport.allCounters().keys()].filter((id) => this.transport.hasPeer(id));
  }

  // ---- RaftTransport (outgoing) ----

  send(msgs: Message[]): void {
    this.transport.send(msgs);
  }

  /** Replaces the MsgSnap's snapshot with a database copy taken now, and streams that. */
  sendSnapshot(msg: Message): void {
    void this.sendMergedSnapshot(msg).catch((err: unknown) => {
      this.server.log.warn({ err, to: msg.to.toString(16) }, 'could not prepare a snapshot for a peer');
      this.server.driver.reportSnapshot(msg.to, false);
      void this.dropCopy(msg.to);
    });
  }

  private async sendMergedSnapshot(msg: Message): Promise<void> {
    await this.dropCopy(msg.to);
    const path = join(snapDir(this.server.config), `.send-${msg.to.toString(16)}-${++this.snapshotSeq}.db`);
    this.outgoingCopies.set(msg.to, path);
    await this.server.backend.backup(path, false);
    const { index, confState } = readCopyState(path);
    const term = this.server.driver.termAt(index);
    const merged: Message = { ...msg, snapshot: { data: Buffer.alloc(0), metadata: { index, term, confState } } };
    const size = BigInt((await stat(path)).size);
    this.server.log.info({ to: msg.to.toString(16), index: index.toString(), bytes: size.toString() }, 'sending database snapshot');
    this.transport.sendSnapshot(merged, () => createReadStream(path, { highWaterMark: snapshotChunkBytes }), size);
  }

  private async dropCopy(to: bigint): Promise<void> {
    const path = this.outgoingCopies.get(to);
    if (path === undefined) return;
    this.outgoingCopies.delete(to);
    await rm(path, { force: true });
  }

  /** Leftovers of snapshots sent or received before a crash. */
  private cleanupStaleFiles(): void {
    const dir = snapDir(this.server.config);
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.send-') || name.endsWith('.snap.db.tmp')) void rm(join(dir, name), { force: true });
    }
  }

  // ---- PeerHandler (incoming) ----

  onMessages(msgs: Message[]): void {
    for (const m of msgs) {
      try {
        this.server.driver.step(m);
      } catch (err) {
        this.server.log.warn({ err, type: MessageType[m.type] }, 'dropped a peer message');
      }
    }
  }

  /** Writes the leader's database durably beside ours, then lets Raft take the snapshot. */
  async onSnapshot(msg: Message, data: AsyncIterable<Buffer>, totalBytes: bigint): Promise<void> {
    const index = msg.snapshot?.metadata?.index ?? 0n;
    const final = receivedSnapshotDbPath(this.server.config, index);
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    let written = 0n;
    try {
      for await (const chunk of data) {
        await fh.write(chunk);
        written += BigInt(chunk.length);
      }
      if (written !== totalBytes) throw new Error(`snapshot stream ended after ${written} of ${totalBytes} bytes`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    failpoint('raftBeforeReceiveSnapRename');
    await rename(tmp, final);
    const dir = await open(snapDir(this.server.config), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    this.server.log.info({ index: index.toString(), bytes: totalBytes.toString() }, 'received database snapshot');
    this.server.driver.step(msg);
  }

  members(): MembersResponse {
    return { clusterId: this.server.clusterId, members: this.server.cluster.list().map(memberToWire) };
  }

  async leaseRenew(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
    // Confirmed like a local keep-alive: a deposed leader must not acknowledge it.
    if (!(await this.server.ensureLeadership())) throw new NotLeaderError();
    const TTL = await this.server.lessor.renew(req.ID);
    return { header: this.server.fillHeader(undefined), ID: req.ID, TTL };
  }

  async leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    if (!this.server.driver.isLeader) throw new NotLeaderError();
    return this.server.localLeaseTimeToLive(req);
  }

  async hashKV(req: HashKVRequest): Promise<HashKVResponse> {
    return this.server.peerHashKV(req.revision);
  }

  isRemoved(id: bigint): boolean {
    return this.server.cluster.isRemoved(id);
  }
}

/** The applied index and configuration recorded inside a database copy. */
function readCopyState(path: string): { index: bigint; confState: ConfState } {
  const copy = Backend.open(path, { readOnly: true });
  try {
    const index = readU64(copy.get('meta', Buffer.from('consistent_index'))) ?? 0n;
    const cs = copy.get('meta', Buffer.from('conf_state'));
    return { index, confState: cs !== undefined ? ConfState.decode(cs) : { voters: [], learners: [] } };
  } finally {
    void copy.close();
  }
}
