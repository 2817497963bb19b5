import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import { encodeInternalPut } from '../../proto/fast/codecs.js';
import { ConfChange, ConfChangeType, ConfState, EntryType, type Entry, type HardState, type Snapshot } from '../../proto/gen/etcdtspb/raft.js';
import { AlarmRequest_AlarmAction, AlarmType, type AlarmRequest, type AlarmResponse, type HashKVResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse,
  LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
  PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Backend } from '../mvcc/backend.js';
import { KVStore, readU64, u64 } from '../mvcc/kvstore.js';
import { Lessor, systemClock, type Clock } from '../lease/lessor.js';
import { LeaseNotFoundError, NotPrimaryError } from '../lease/errors.js';
import { RaftCluster, encodeConfChangeContext, type MemberInfo } from '../membership/cluster.js';
import { computeMemberId } from '../membership/ids.js';
import { LearnerNotReadyError, MemberBadUrlsError, MemberNotFoundError, MemberNotLearnerError, NotEnoughStartedMembersError } from '../membership/errors.js';
import { BadLeaderTransfereeError, NoLeaderError, NotLeaderError, TimeoutLeaderTransferError, UnhealthyError } from './errors.js';
import { parseUrlList } from './config.js';
import { applyRange, applyTxn, isTxnReadonly, isTxnSerializable } from './apply-kv.js';
import { checkRange, checkTxn } from '../auth/authorize.js';
import { Applier, type ApplyResult } from './apply.js';
import { backendPath, urlText, type ServerConfig } from './config.js';
import { RequestTooLargeError, StoppedError, TimeoutError, TooManyRequestsError } from './errors.js';
import { IdGenerator, WaitRegistry } from './wait.js';
import { RaftNode, type StateMachine } from './raft-node.js';
import { bootstrapRaft, snapDir, type RaftBoot } from './bootstrap.js';
import { RawNode, SeededPrng } from '../raft/index.js';
import type { Logger } from '../logger.js';
import { applyCommitGapMax, defragHeldBytesMax, leaseRevokesPerSecondMax } from '../constants.js';
import { failpoint } from '../failpoint.js';
import { AlarmStore, alarmText } from './alarms.js';
import { BackendQuota, CappedGuard } from './quota.js';
import { NoSpaceError } from './errors.js';
import { ForwardedError } from '../operating-error.js';
import { hashBackend, hashKV } from '../mvcc/hash.js';
import { Compactor } from './compactor.js';
import { CompactionHashes, CorruptionMonitor, checkInitialHashKV, type CorruptionHost } from './corruption.js';
import { CorruptError } from './errors.js';
import { watchableStoreFor, type WatchableStore } from '../mvcc/watchable-store.js';
import { AuthStore, type AuthInfo } from '../auth/store.js';
import { authorizeProposal, type RequestOrigin } from '../auth/authorize.js';
import type { TokenProvider } from '../auth/token-provider.js';
import { SimpleTokenProvider } from '../auth/simple-token.js';
import { JwtTokenProvider } from '../auth/jwt-token.js';
import { BcryptPool } from '../auth/bcrypt.js';
import { AuthRequests } from './auth-requests.js';
import { SlowRequestLog } from './slow-requests.js';
import type { MemberObservers, PeerView } from './observers.js';

const metaConsistentIndex = Buffer.from('consistent_index');

/** How long adjustTicks waits for peer connections, and how often it looks (etcd: rafthttp.ConnReadTimeout, 50 ms). */
const initialTickAdvanceWaitMs = 5_000;
const initialTickAdvancePollMs = 50;
const metaConfState = Buffer.from('conf_state');

/** The etcd version this member speaks (its API surface), reported by Status and /version. */
export const serverVersion = '3.4.23';
export const clusterVersion = '3.4.0';

/** etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds. */
export function minLeaseTtlSeconds(config: Pick<ServerConfig, 'electionTimeoutMs' | 'heartbeatIntervalMs'>): bigint {
  const electionTicks = Math.floor(config.electionTimeoutMs / config.heartbeatIntervalMs);
  return BigInt(Math.ceil((Math.floor((3 * electionTicks) / 2) * config.heartbeatIntervalMs) / 1000));
}

/** The Raft snapshot database received from the leader for `index`, before it is installed. */
export function receivedSnapshotDbPath(config: Pick<ServerConfig, 'dataDir'>, index: bigint): string {
  return join(snapDir(config), `${index.toString(16).padStart(16, '0')}.snap.db`);
}

/**
 * Turns an error the leader returned for a forwarded lease call back into the
 * typed error it was, so the follower answers exactly as the leader would.
 */
function fromForwarded(err: unknown): Error {
  const message = (err as { message?: string; details?: string }).details ?? (err as Error).message ?? '';
  if (message.includes('requested lease not found')) return new LeaseNotFoundError();
  if (message.includes('not leader') || message.includes('no leader')) return new NoLeaderError();
  return err instanceof Error ? err : new Error(String(err));
}

/** Peer URLs as etcd stores them (scheme://host:port); invalid ones are etcd's "member URLs are invalid". */
function normalizePeerUrls(urls: string[]): string[] {
  if (urls.length === 0) throw new MemberBadUrlsError();
  try {
    return urls.map((u) => urlText(parseUrlList('peer-urls', u)[0]!));
  } catch {
    throw new MemberBadUrlsError();
  }
}

export interface StartOptions {
  clock?: Clock;
  /** Set when joining an existing cluster (--initial-cluster-state=existing). */
  join?: { clusterId: bigint; memberId: bigint };
}

/**
 * One member: owns the backend, the MVCC store, the lessor, the membership
 * and the applier, drives Raft through RaftNode, and serves the API layer.
 * Requests flow one way: request -> proposal (InternalRaftRequest) -> commit
 * -> apply -> response. Reads are served from the local store after a
 * ReadIndex barrier (linearizable) or at once (serializable).
 */
export class EtcdServer implements StateMachine {
  readonly backend: Backend;
  readonly store: KVStore;
  /** Watchers of the store; created with it so a snapshot install re-syncs them. */
  readonly watchable: WatchableStore;
  readonly applier: Applier;
  readonly lessor: Lessor;
  readonly cluster: RaftCluster;
  readonly alarms: AlarmStore;
  readonly quota: BackendQuota;
  /** Users, roles and permissions; checked at apply for every write. */
  readonly auth: AuthStore;
  /** Tokens this member issued or learned of (simple tokens live in memory, per member). */
  readonly tokens: TokenProvider;
  /** The Auth service's member side and every call's identity. */
  readonly authRequests: AuthRequests;
  private readonly hasher: BcryptPool;
  private tokenSweepTimer: NodeJS.Timeout | undefined;
  private compactor: Compactor | undefined;
  readonly clusterId: bigint;
  readonly memberId: bigint;
  appliedIndex: bigint;
  readonly driver: RaftNode;
  private readonly waits: WaitRegistry<ApplyResult>;
  private readonly ids: IdGenerator;
  private readonly requestTimeoutMs: number;
  private stopped = false;
  private readonly appliedWaiters: Array<{ index: bigint; resolve: () => void }> = [];
  private leaseExpiryTimer: NodeJS.Timeout | undefined;
  private readonly revokesInFlight = new Set<bigint>();
  /** An expiry sweep is confirming leadership; the next one waits for it. */
  private revokeCheckRunning = false;
  /** Leading since this term, but not primary lessor until an entry of the term is applied. */
  private primaryFromTerm: bigint | undefined;
  private currentConfState: ConfState;
  private published = false;
  private publishing = false;
  private readonly readyWaiters: Array<() => void> = [];
  /** A new single-member cluster campaigns as soon as its bootstrap entries are applied. */
  private campaignWhenConfigured = false;
  private backendCommitTimer: NodeJS.Timeout | undefined;
  /** Called when this member learns it was removed from the cluster. */
  onRemoved: (() => void) | undefined;
  /** Called after membership changes are applied (the transport follows them). */
  onMembershipChange: ((members: MemberInfo[]) => void) | undefined;
  /** Lease calls a follower forwards to the leader (set once the peer transport runs). */
  forwardLeaseRenew: ((leader: bigint, id: bigint) => Promise<bigint>) | undefined;
  forwardLeaseTimeToLive: ((leader: bigint, r: LeaseTimeToLiveRequest) => Promise<LeaseTimeToLiveResponse>) | undefined;
  /** Whether the peer transport has a healthy connection with a member (set once the transport runs). */
  peerActive: (id: bigint) => boolean = (id) => id === this.memberId;
  /**
   * Where this member's own services answer without TLS or a listen URL: a
   * private socket for the in-process client of the Lock and Election
   * services (set once the client listeners run).
   */
  internalEndpoint: string | undefined;
  /** Credentials to dial another member's https:// client URL (set from the client TLS flags). */
  clientChannelCredentials: (() => ChannelCredentials) | undefined;
  /**
   * Counters the metrics endpoint reads. proposalsFailed counts as etcd's
   * proposals_failed_total: proposals Raft refused (no leader, leadership
   * lost) or that timed out waiting to be applied; a request applied with
   * an error (permission denied, compare failed) is not a failed proposal.
   */
  readonly counters = { proposalsApplied: 0, proposalsFailed: 0, applyBatches: 0 };
  /** A peer's HashKV over the peer port (set once the transport runs). */
  askPeerHashKV: ((id: bigint, rev: bigint, timeoutMs: number) => Promise<HashKVResponse>) | undefined;
  /** Hashes recorded at each applied compaction, for the compaction hash check. */
  readonly compactionHashes = new CompactionHashes();
  private corruptionMonitor: CorruptionMonitor | undefined;
  /** Requests slower than --experimental-warning-apply-duration, logged and counted. */
  readonly slowRequests: SlowRequestLog;
  /** Hooks of the metrics layer (src/server/api/metrics.ts). */
  readonly observers: MemberObservers = {};
  /** The peer transport's counters, once peering runs. */
  peerView: PeerView | undefined;

  private constructor(readonly config: ServerConfig, readonly log: Logger, readonly clock: Clock, boot: RaftBoot) {
    this.memberId = boot.memberId;
    this.clusterId = boot.clusterId;
    this.backend = Backend.open(backendPath(config), { noSync: config.unsafeNoFsync });
    this.store = new KVStore(this.backend);
    this.watchable = watchableStoreFor(this.store);
    this.lessor = new Lessor(this.backend, this.store, clock, minLeaseTtlSeconds(config));
    this.store.setLeaseTracker(this.lessor);
    this.store.reattachLeases();
    this.cluster = new RaftCluster(this.backend, this.clusterId);
    this.applier = new Applier(this.store);
    this.applier.leases = this.lessor;
    this.applier.lessor = this.lessor;
    this.applier.cluster = this.cluster;
    this.alarms = new AlarmStore(this.backend);
    this.quota = new BackendQuota(this.backend, config.quotaBackendBytes);
    this.applier.alarms = this.alarms;
    this.applier.quota = this.quota;
    this.tokens = config.authToken.type === 'jwt'
      ? new JwtTokenProvider(config.authToken.jwt)
      : new SimpleTokenProvider(config.authTokenTtlSeconds * 1000, clock);
    this.auth = new AuthStore(this.backend, {
      enabled: (on) => this.tokens.enabled(on),
      userInvalidated: (name) => this.tokens.invalidateUser(name),
    });
    this.applier.auth = this.auth;
    this.applier.tokens = this.tokens;
    // Permissions first: a caller without them learns nothing, not even that the quota is exceeded.
    const leaseKeys = { keysOf: (id: bigint) => this.lessor.lookup(id)?.keys };
    this.applier.addGuard({ check: (req) => authorizeProposal(this.auth, req, leaseKeys) });
    this.applier.addGuard(new CappedGuard(this.alarms));
    this.applier.addGuard({ check: (req) => this.refuseWhenCorrupt(req) });
    this.applier.onAlarm = (action, alarm) => this.logAlarm(action, alarm);
    this.applier.beforeCompact = (rev) => this.recordCompactionHash(rev);
    this.hasher = new BcryptPool();
    this.authRequests = new AuthRequests(this, this.auth, this.tokens, this.hasher, clock);
    this.appliedIndex = readU64(this.backend.get('meta', metaConsistentIndex)) ?? 0n;
    const storedConf = this.backend.get('meta', metaConfState);
    this.currentConfState = storedConf !== undefined ? ConfState.decode(storedConf) : { voters: [], learners: [] };
    this.ids = new IdGenerator(this.memberId, Date.now());
    this.requestTimeoutMs = 5000 + 2 * config.electionTimeoutMs;
    this.waits = new WaitRegistry<ApplyResult>(this.requestTimeoutMs, () => {
      this.counters.proposalsFailed++;
      return new TimeoutError();
    });
    this.slowRequests = new SlowRequestLog(log, config.warningApplyDurationMs, () => this.auth.enabled);
    if (boot.kind === 'restart') boot.storage.setConfState(this.currentConfState);
    if (boot.kind === 'restart' && config.forceNewCluster) this.forceNewCluster(boot);
    const rawNode = new RawNode({
      id: this.memberId,
      electionTick: Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs)),
      heartbeatTick: 1,
      storage: boot.storage,
      applied: this.appliedIndex,
      maxSizePerMsgBytes: 1024 * 1024,
      maxInflightMsgs: 512,
      checkQuorum: true,
      preVote: config.preVote,
      prng: new SeededPrng(config.raftSeed ?? randomBytes(8).readBigUInt64BE(0)),
      // Raft's own lines, as etcd's raft package writes them (the caller is the raft file, not this adapter).
      logger: ((raftLog) => ({
        debug: (msg: string) => raftLog.debug(msg),
        info: (msg: string) => raftLog.info(msg),
        warn: (msg: string) => raftLog.warn(msg),
        error: (msg: string) => raftLog.error(msg),
      }))(log.skipping(1)),
    });
    if (boot.kind === 'new') {
      rawNode.bootstrap(boot.initialMembers.map((m) => ({ id: m.id, context: encodeConfChangeContext({ member: m, isPromote: false }) })));
    }
    this.driver = new RaftNode({
      memberId: this.memberId,
      rawNode,
      storage: boot.storage,
      wal: boot.wal,
      snapshotter: boot.snapshotter,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      electionTimeoutMs: config.electionTimeoutMs,
      snapshotCount: config.snapshotCount,
      snapshotCatchUpEntries: config.snapshotCatchUpEntries,
      log,
    });
  }

  /**
   * --force-new-cluster (etcd's recovery from a lost quorum): keep only the
   * committed log, then append and force-commit one RemoveNode entry for
   * every other member, so this member restarts as a one-member cluster
   * holding all the committed data, and elects itself. The entries are
   * written to the WAL before Raft starts (see start()).
   */
  private forceNewCluster(boot: RaftBoot): void {
    const hard = boot.hardState ?? { term: 1n, vote: 0n, commit: 0n };
    const others = new Set<bigint>([...this.currentConfState.voters, ...this.currentConfState.learners]);
    // Conf changes committed after the backend's applied index are replayed into the set too.
    const committed = boot.storage.entries(boot.storage.firstIndex(), hard.commit + 1n, Number.MAX_SAFE_INTEGER)
      .filter((e) => e.index > this.appliedIndex && e.type === EntryType.EntryConfChange);
    for (const e of committed) {
      const cc = ConfChange.decode(e.data);
      if (cc.type === ConfChangeType.ConfChangeRemoveNode) others.delete(cc.nodeId);
      else if (cc.type !== ConfChangeType.ConfChangeUpdateNode) others.add(cc.nodeId);
    }
    others.delete(this.memberId);
    // The WAL's commit index may lag what was applied (a commit-only hard state is not synced):
    // whatever the backend applied was committed, as Raft itself assumes on a restart.
    let index = hard.commit > this.appliedIndex ? hard.commit : this.appliedIndex;
    const removals: Entry[] = [...others].sort((a, b) => (a < b ? -1 : 1)).map((nodeId) => ({
      term: hard.term,
      index: ++index,
      type: EntryType.EntryConfChange,
      data: Buffer.from(ConfChange.encode({ type: ConfChangeType.ConfChangeRemoveNode, nodeId, context: Buffer.alloc(0), id: 0n }).finish()),
    }));
    const hardState = { term: hard.term, vote: hard.vote, commit: index };
    // Overwrites anything uncommitted after hard.commit, in memory and (in start) in the WAL.
    if (removals.length > 0) boot.storage.append(removals);
    boot.storage.setHardState(hardState);
    this.forcedRecovery = { hardState, entries: removals };
    this.log.warn({ removed: [...others].map((id) => id.toString(16)), commit: index.toString() }, 'forcing a new one-member cluster from this member\'s data');
  }

  private forcedRecovery: { hardState: HardState; entries: Entry[] } | undefined;

  static async start(config: ServerConfig, log: Logger, options: StartOptions = {}): Promise<EtcdServer> {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const boot = await bootstrapRaft(config, options.join);
    await EtcdServer.installPendingSnapshotDb(config, boot, log);
    const opening = performance.now();
    const server = new EtcdServer(config, log, options.clock ?? systemClock, boot);
    log.info({ path: backendPath(config), took: `${(performance.now() - opening).toFixed(3)}ms` }, 'opened backend db');
    if (server.forcedRecovery !== undefined) {
      // The forced removals must be durable before Raft acts on them.
      await boot.wal.save(server.forcedRecovery.hardState, server.forcedRecovery.entries);
      server.forcedRecovery = undefined;
    }
    await server.driver.start(server);
    // A lone voter need not wait an election timeout to lead: it campaigns
    // once its configuration is applied (Raft refuses to campaign while
    // committed conf changes are unapplied, so not before).
    const voters = boot.kind === 'new' ? boot.initialMembers.length : server.currentConfState.voters.length;
    server.campaignWhenConfigured = config.forceNewCluster || (voters === 1 && (boot.kind === 'new' || server.currentConfState.voters[0] === server.memberId));
    if (server.campaignWhenConfigured && boot.kind !== 'new' && !config.forceNewCluster) {
      server.campaignWhenConfigured = false;
      server.driver.campaign();
    }
    server.leaseExpiryTimer = setInterval(() => server.revokeExpiredLeases(), 500);
    server.tokenSweepTimer = setInterval(() => server.tokens.sweep(), 1000);
    server.tokenSweepTimer.unref();
    server.compactor = Compactor.fromConfig(config, server);
    server.compactor?.start();
    const ids = { 'local-member-id': server.memberId.toString(16), 'cluster-id': server.clusterId.toString(16) };
    if (boot.kind === 'restart') log.info({ ...ids, 'commit-index': boot.hardState?.commit ?? 0n }, 'restarting local member');
    else log.info(ids, 'starting local member');
    log.info({ 'local-member-id': ids['local-member-id'], 'local-server-version': serverVersion, 'cluster-version': 'to_be_decided' }, 'starting etcd server');
    return server;
  }

  /**
   * A crash between persisting a snapshot received from the leader and
   * installing its database leaves the backend older than the snapshot:
   * install the received database before anything reads the backend.
   */
  private static async installPendingSnapshotDb(config: ServerConfig, boot: RaftBoot, log: Logger): Promise<void> {
    const snapIndex = boot.snapshot?.metadata?.index ?? 0n;
    if (snapIndex === 0n) return;
    const dbPath = backendPath(config);
    let applied = 0n;
    if (existsSync(dbPath)) {
      const probe = Backend.open(dbPath);
      applied = readU64(probe.get('meta', metaConsistentIndex)) ?? 0n;
      await probe.close();
    }
    if (applied >= snapIndex) return;
    const received = receivedSnapshotDbPath(config, snapIndex);
    if (!existsSync(received)) throw new Error(`backend is at index ${applied} but the snapshot is at ${snapIndex} and its database ${received} is missing`);
    log.warn({ index: snapIndex.toString() }, 'installing the snapshot database received before the last crash');
    await rename(received, dbPath);
  }

  get term(): bigint {
    return this.driver.term;
  }

  get leaderId(): bigint {
    return this.driver.leaderId;
  }

  get committedIndex(): bigint {
    return this.driver.committedIndex;
  }

  get isLearner(): boolean {
    return this.cluster.member(this.memberId)?.isLearner ?? false;
  }

  /** Proposals made here and not applied yet (etcd_server_proposals_pending). */
  get proposalsPending(): number {
    return this.waits.size;
  }

  /** Fills the parts of a response header that the API layer owns (etcd's header.fill). */
  fillHeader(h: ResponseHeader | undefined): ResponseHeader {
    const filled = h ?? { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
    filled.clusterId = this.clusterId;
    filled.memberId = this.memberId;
    filled.raftTerm = this.driver.term;
    if (filled.revision === 0n) filled.revision = this.store.currentRev;
    return filled;
  }

  // ---- KV ----

  async range(r: RangeRequest, ai?: AuthInfo): Promise<RangeResponse> {
    if (this.alarms.has(AlarmType.CORRUPT)) throw new CorruptError();
    const started = performance.now();
    let response: RangeResponse | undefined;
    let error: unknown;
    try {
      if (!r.serializable) await this.linearizableReadBarrier();
      response = this.authorizedRead(ai, (current) => checkRange(this.auth, current, r), () => applyRange(this.store.read(), r));
      return response;
    } catch (err) {
      error = err;
      throw err;
    } finally {
      this.slowRequests.range(r, performance.now() - started, response, error);
    }
  }

  /**
   * A read served here rather than through the log (etcd's doSerialize):
   * checked against the store as it is now, for the caller's credentials. A
   * token whose revision is pinned (a JWT) must still match the store.
   */
  private authorizedRead<T>(ai: AuthInfo | undefined, check: (ai: AuthInfo | undefined) => void, read: () => T): T {
    const current = ai !== undefined && ai.revisionPinned !== true ? { ...ai, revision: this.auth.revision } : ai;
    check(current);
    return read();
  }

  async put(r: PutRequest, origin?: RequestOrigin): Promise<PutResponse> {
    this.checkQuota({ put: r });
    return (await this.proposeAndWait({ put: r }, origin)) as PutResponse;
  }

  /**
   * Refuses a write that would take the database past its quota before it is
   * proposed, and raises the NOSPACE alarm (etcd's quotaKVServer).
   */
  private checkQuota(req: Pick<InternalRaftRequest, 'put' | 'txn' | 'leaseGrant'>): void {
    if (this.quota.available(req)) return;
    this.raiseNoSpace();
    throw new NoSpaceError();
  }

  private raiseNoSpace(): void {
    if (this.alarms.get(AlarmType.NOSPACE).some((a) => a.memberID === this.memberId)) return;
    this.propose({ alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.memberId, alarm: AlarmType.NOSPACE } }, 'member').catch(() => undefined);
  }

  async deleteRange(r: DeleteRangeRequest, origin?: RequestOrigin): Promise<DeleteRangeResponse> {
    return (await this.proposeAndWait({ deleteRange: r }, origin)) as DeleteRangeResponse;
  }

  async txn(r: TxnRequest, origin?: RequestOrigin): Promise<TxnResponse> {
    if (isTxnReadonly(r)) return this.readOnlyTxn(r, origin === 'member' ? undefined : origin);
    this.checkQuota({ txn: r });
    return (await this.proposeAndWait({ txn: r }, origin)) as TxnResponse;
  }

  private async readOnlyTxn(r: TxnRequest, ai: AuthInfo | undefined): Promise<TxnResponse> {
    const started = performance.now();
    let response: TxnResponse | undefined;
    let error: unknown;
    try {
      if (!isTxnSerializable(r)) await this.linearizableReadBarrier();
      response = this.authorizedRead(ai, (current) => checkTxn(this.auth, current, r, this.leaseKeys), () => applyTxn(this.store, r, this.applier.leases));
      return response;
    } catch (err) {
      error = err;
      throw err;
    } finally {
      this.slowRequests.txn(r, performance.now() - started, response, error);
    }
  }

  /** The keys attached to each lease, for the permission checks of lease operations. */
  readonly leaseKeys = { keysOf: (id: bigint): Iterable<string> | undefined => this.lessor.lookup(id)?.keys };

  async compact(r: CompactionRequest, origin?: RequestOrigin): Promise<CompactionResponse> {
    const result = await this.propose({ compaction: r }, origin);
    if (r.physical && result.physical !== undefined) await result.physical;
    if (result.error !== undefined) throw result.error;
    const response = result.response as CompactionResponse;
    response.header = { clusterId: 0n, memberId: 0n, revision: this.store.currentRev, raftTerm: 0n };
    return response;
  }

  // ---- leases ----

  async leaseGrant(r: LeaseGrantRequest, origin?: RequestOrigin): Promise<LeaseGrantResponse> {
    // The proposer picks the id so that every member applies the same one.
    let id = r.ID;
    while (id === 0n) id = this.ids.next() & ((1n << 63n) - 1n);
    this.checkQuota({ leaseGrant: r });
    return (await this.proposeAndWait({ leaseGrant: { ID: id, TTL: r.TTL } }, origin)) as LeaseGrantResponse;
  }

  async leaseRevoke(r: LeaseRevokeRequest, origin?: RequestOrigin): Promise<LeaseRevokeResponse> {
    return (await this.proposeAndWait({ leaseRevoke: r }, origin)) as LeaseRevokeResponse;
  }

  /**
   * A keep-alive: restarts the lease's TTL. Only the leader keeps expiry
   * times, so a follower forwards it to the leader. Returns the granted TTL.
   */
  async leaseRenew(id: bigint): Promise<bigint> {
    return this.onLeader(() => this.renewConfirmed(id), (leader) => this.forwardLeaseRenew?.(leader, id));
  }

  /**
   * Renews a lease only once this member has proved it still leads. A
   * deposed leader that has not noticed yet (its Ready loop stalled on a slow
   * fsync, or it sits in a partition inside the check-quorum window) would
   * otherwise acknowledge keep-alives while the new leader lets the lease
   * expire (etcd #15247; the simulator's lease-renew-unconfirmed).
   */
  async renewConfirmed(id: bigint): Promise<bigint> {
    if (!(await this.ensureLeadership())) throw new NotPrimaryError();
    return this.lessor.renew(id);
  }

  /**
   * True when this member was leader and still is after a ReadIndex round
   * and the apply up to its index, in the same term (etcd's
   * ensureLeadership): a quorum acknowledged it as leader after the call.
   */
  async ensureLeadership(): Promise<boolean> {
    if (!this.driver.isLeader) return false;
    const term = this.driver.term;
    try {
      await this.linearizableReadBarrier();
    } catch {
      return false;
    }
    return this.driver.isLeader && this.driver.term === term;
  }

  /** Remaining TTL as the leader counts it (a follower asks the leader). */
  async leaseTimeToLive(r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    return this.onLeader(() => this.localLeaseTimeToLive(r), (leader) => this.forwardLeaseTimeToLive?.(leader, r));
  }

  /**
   * Runs a lease call where lease expiry is kept: here when this member
   * leads, else forwarded to the leader. Like etcd, a forwarded call is
   * retried through leader changes until the request timeout, so a
   * keep-alive stream survives the leader being killed; only an unknown
   * lease ends it.
   */
  private async onLeader<T>(local: () => Promise<T>, forward: (leader: bigint) => Promise<T> | undefined): Promise<T> {
    const deadline = Date.now() + this.requestTimeoutMs;
    // Made only when needed: an error captures a stack, and this runs on every keep-alive.
    let lastError: Error | undefined;
    while (Date.now() < deadline && !this.stopped) {
      if (this.driver.isLeader) {
        try {
          return await local();
        } catch (err) {
          if (!(err instanceof NotPrimaryError)) throw err;
          // Not confirmed as leader, or not primary yet: wait for the election to settle.
          lastError = err;
        }
      }
      const leader = await this.waitLeader().catch(() => 0n);
      if (leader !== 0n && leader !== this.memberId && !this.driver.isLeader) {
        const pending = forward(leader);
        if (pending === undefined) throw new NoLeaderError();
        try {
          return await pending;
        } catch (err) {
          lastError = fromForwarded(err);
          if (lastError instanceof LeaseNotFoundError) throw lastError;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw lastError === undefined || lastError instanceof NoLeaderError ? new TimeoutError() : lastError;
  }

  /** The current leader, waiting up to an election timeout for one to appear. */
  private async waitLeader(): Promise<bigint> {
    const deadline = Date.now() + 2 * this.config.electionTimeoutMs;
    while (this.leaderId === 0n) {
      if (Date.now() > deadline || this.stopped) throw new NoLeaderError();
      await new Promise((r) => setTimeout(r, this.config.heartbeatIntervalMs));
    }
    return this.leaderId;
  }

  async localLeaseTimeToLive(r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    const lease = this.lessor.lookup(r.ID);
    if (lease === undefined) throw new LeaseNotFoundError();
    return {
      header: undefined,
      ID: r.ID,
      TTL: this.lessor.remainingSeconds(r.ID),
      grantedTTL: lease.ttlSeconds,
      keys: r.keys ? [...lease.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
    };
  }

  async leaseLeases(): Promise<LeaseLeasesResponse> {
    return { header: undefined, leases: this.lessor.ids().map((ID) => ({ ID })) };
  }

  /** Proposes the revocation of expired leases, at most the revoke rate per second. */
  /**
   * Proposes the revocation of expired leases, at most the revoke rate per
   * second, and only after confirming leadership: a deposed leader whose
   * lessor has not been demoted yet must not revoke a lease the new leader
   * is renewing (etcd #15247; the simulator's lease-revoke-unconfirmed).
   */
  private revokeExpiredLeases(): void {
    if (this.stopped || !this.lessor.isPrimary || this.revokeCheckRunning) return;
    const budget = Math.floor(leaseRevokesPerSecondMax / 2) - this.revokesInFlight.size;
    if (this.lessor.expired(Math.max(0, budget)).length === 0) return;
    this.revokeCheckRunning = true;
    void this.ensureLeadership().then((leads) => {
      this.revokeCheckRunning = false;
      if (!leads || this.stopped || !this.lessor.isPrimary) return;
      for (const id of this.lessor.expired(Math.max(0, budget))) {
        if (this.revokesInFlight.has(id)) continue;
        this.revokesInFlight.add(id);
        this.propose({ leaseRevoke: { ID: id } }, 'member')
          .catch((err: unknown) => this.log.warn({ err, lease: id.toString(16) }, 'failed to revoke expired lease'))
          .finally(() => this.revokesInFlight.delete(id));
      }
    });
  }

  // ---- membership ----

  /** Adds a member (a voter, or a learner); its id mixes the URLs, the token and the time, as etcd's does. */
  async memberAdd(peerUrls: string[], isLearner: boolean): Promise<{ member: MemberInfo; members: MemberInfo[] }> {
    const urls = normalizePeerUrls(peerUrls);
    const member: MemberInfo = { id: computeMemberId(urls, this.config.initialClusterToken, Math.floor(Date.now() / 1000)), name: '', peerUrls: urls, clientUrls: [], isLearner };
    if (this.config.strictReconfigCheck && !isLearner) {
      if (!this.cluster.isReadyToAddVoter()) throw new NotEnoughStartedMembersError();
      if (!this.cluster.voters().every((m) => this.peerActive(m.id))) throw new UnhealthyError();
    }
    const result = await this.proposeConfChange({
      type: isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
      nodeId: member.id,
      context: encodeConfChangeContext({ member, isPromote: false }),
    });
    if (result.error !== undefined) throw result.error;
    return { member, members: result.members ?? this.cluster.list() };
  }

  async memberRemove(id: bigint): Promise<MemberInfo[]> {
    const target = this.cluster.member(id);
    if (target === undefined) throw new MemberNotFoundError();
    if (this.config.strictReconfigCheck && !target.isLearner) this.mayRemoveVoter(id);
    const result = await this.proposeConfChange({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id, context: Buffer.alloc(0) });
    if (result.error !== undefined) throw result.error;
    return result.members ?? this.cluster.list();
  }

  /**
   * etcd's mayRemoveMember: a member that is down can always go; otherwise
   * the members left must include a quorum that is started and connected.
   */
  private mayRemoveVoter(id: bigint): void {
    if (!this.cluster.isReadyToRemoveVoter(id)) throw new NotEnoughStartedMembersError();
    if (id !== this.memberId && !this.peerActive(id)) return;
    const voters = this.cluster.voters();
    const active = voters.filter((m) => this.peerActive(m.id)).length;
    if (active - 1 < 1 + Math.floor((voters.length - 1) / 2)) throw new UnhealthyError();
  }

  async memberUpdate(id: bigint, peerUrls: string[]): Promise<MemberInfo[]> {
    const existing = this.cluster.member(id);
    if (existing === undefined) throw new MemberNotFoundError();
    const urls = normalizePeerUrls(peerUrls);
    const result = await this.proposeConfChange({
      type: ConfChangeType.ConfChangeUpdateNode,
      nodeId: id,
      context: encodeConfChangeContext({ member: { ...existing, peerUrls: urls }, isPromote: false }),
    });
    if (result.error !== undefined) throw result.error;
    return result.members ?? this.cluster.list();
  }

  /**
   * Promotes a learner once it has caught up: its log must hold at least
   * 90% of the leader's (only the leader knows, so only the leader decides).
   */
  /** `token` is the caller's auth token, passed on when a follower forwards the promotion to the leader. */
  async memberPromote(id: bigint, token?: string): Promise<MemberInfo[]> {
    const learner = this.cluster.member(id);
    if (learner === undefined) throw new MemberNotFoundError();
    if (!learner.isLearner) throw new MemberNotLearnerError();
    if (!this.driver.isLeader) return this.forwardPromote(id, token);
    const progress = this.driver.status.progress;
    const leaderMatch = progress?.get(this.memberId)?.match ?? 0n;
    const learnerMatch = progress?.get(id)?.match ?? 0n;
    if (Number(learnerMatch) < Number(leaderMatch) * 0.9) throw new LearnerNotReadyError();
    if (this.config.strictReconfigCheck && !this.cluster.isReadyToPromote()) throw new NotEnoughStartedMembersError();
    const result = await this.proposeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: id,
      context: encodeConfChangeContext({ member: { ...learner, isLearner: false }, isPromote: true }),
    });
    if (result.error !== undefined) throw result.error;
    return result.members ?? this.cluster.list();
  }

  // ---- maintenance ----

  async alarm(r: AlarmRequest, origin?: RequestOrigin): Promise<AlarmResponse> {
    return (await this.proposeAndWait({ alarm: r }, origin)) as AlarmResponse;
  }

  /** Alarm and health information for Status.errors, as etcd prints them. */
  statusErrors(): string[] {
    const errors: string[] = [];
    if (this.leaderId === 0n) errors.push('etcdserver: no leader');
    for (const a of this.alarms.get()) errors.push(alarmText(a));
    return errors;
  }

  /**
   * etcd's adjustTicks: a single-member cluster campaigns at once (see
   * start); with --initial-election-tick-advance, a member of a larger
   * cluster waits (up to 5 s) until its peers answer, then fast-forwards its
   * election clock to two ticks before the timeout, so the first election
   * does not wait a whole election timeout; without it, it waits the full
   * timeout.
   */
  async adjustTicks(): Promise<void> {
    const electionTicks = Math.max(2, Math.round(this.config.electionTimeoutMs / this.config.heartbeatIntervalMs));
    const tickDuration = (ticks: number): string => `${(ticks * this.config.heartbeatIntervalMs) / 1000}s`;
    const self = this.memberId.toString(16);
    // A new cluster has not applied its bootstrap membership yet: --initial-cluster says how large it is.
    if (Math.max(this.cluster.list().length, this.config.initialCluster.size) <= 1) {
      this.log.info({ 'local-member-id': self, 'forward-ticks': electionTicks - 1, 'forward-duration': tickDuration(electionTicks - 1), 'election-ticks': electionTicks, 'election-timeout': tickDuration(electionTicks) }, 'started as single-node; fast-forwarding election ticks');
      return;
    }
    if (!this.config.initialElectionTickAdvance) {
      this.log.info({ 'election-ticks': electionTicks }, 'skipping initial election tick advance');
      return;
    }
    this.log.info({ 'election-ticks': electionTicks }, 'starting initial election tick advance');
    for (let waited = 0; waited < initialTickAdvanceWaitMs && !this.stopped; waited += initialTickAdvancePollMs) {
      await new Promise((r) => setTimeout(r, initialTickAdvancePollMs));
      const active = this.cluster.list().filter((m) => m.id !== this.memberId && this.peerActive(m.id)).length;
      if (active <= 1) continue;
      const ticks = electionTicks - 2;
      this.log.info({ 'local-member-id': self, 'forward-ticks': ticks, 'forward-duration': tickDuration(ticks), 'election-ticks': electionTicks, 'election-timeout': tickDuration(electionTicks), 'active-remote-members': active }, 'initialized peer connections; fast-forwarding election ticks');
      this.driver.advanceTicks(ticks);
      return;
    }
  }

  // ---- corruption checks (corruption.ts) ----

  /** What the corruption checks need of this member. */
  private corruptionHost(): CorruptionHost {
    return {
      memberId: this.memberId,
      log: this.log,
      requestTimeoutMs: this.requestTimeoutMs,
      localHash: (rev) => hashKV(this.store, rev),
      peers: () => this.cluster.list().filter((m) => m.id !== this.memberId).map((m) => ({ id: m.id, peerUrls: m.peerUrls })),
      peerHash: (id, rev, timeoutMs) => {
        if (this.askPeerHashKV === undefined) return Promise.reject(new Error('peer transport not running'));
        return this.askPeerHashKV(id, rev, timeoutMs);
      },
      isLeader: () => this.driver.isLeader,
      readBarrier: () => this.linearizableReadBarrier(),
      raiseCorrupt: (memberID) => {
        if (this.alarms.get(AlarmType.CORRUPT).some((a) => a.memberID === memberID)) return;
        this.propose({ alarm: { action: AlarmRequest_AlarmAction.ACTIVATE, memberID, alarm: AlarmType.CORRUPT } }, 'member').catch(() => undefined);
      },
    };
  }

  /** --experimental-initial-corrupt-check: throws when a peer holds different data (the member must not serve). */
  async checkInitialCorruption(): Promise<void> {
    if (this.config.initialCorruptCheck) await checkInitialHashKV(this.corruptionHost());
  }

  /** Starts the leader's periodic checks that are turned on. */
  startCorruptionMonitor(): void {
    const periodic = this.config.corruptCheckIntervalMs;
    const compact = this.config.compactHashCheck ? this.config.compactHashCheckIntervalMs : undefined;
    if (periodic <= 0 && compact === undefined) return;
    this.corruptionMonitor = new CorruptionMonitor(this.corruptionHost(), this.compactionHashes);
    this.corruptionMonitor.start(periodic, compact);
  }

  /** A peer's corruption check asks for our hash at `rev`: the one recorded when we compacted there, else computed now. */
  peerHashKV(rev: bigint): HashKVResponse {
    const recorded = this.compactionHashes.at(rev);
    if (recorded !== undefined) {
      return { header: this.fillHeader({ clusterId: 0n, memberId: 0n, revision: this.store.currentRev, raftTerm: 0n }), hash: recorded.hash, compactRevision: recorded.compactRevision, hashRevision: rev };
    }
    const response = this.hashKV(rev);
    response.header = this.fillHeader(response.header);
    return response;
  }

  /** Applying a compaction at `rev`: the hash of what it keeps, before anything is deleted (etcd 3.5 hashes during compaction). */
  private recordCompactionHash(rev: bigint): void {
    if (!this.config.compactHashCheck || rev <= this.store.compactMainRev || rev > this.store.currentRev) return;
    const h = hashKV(this.store, rev);
    this.compactionHashes.record({ revision: rev, compactRevision: h.compactRev, hash: h.hash });
  }

  /** While CORRUPT is raised, etcd's applier refuses every KV and lease request (applierV3Corrupt). */
  private refuseWhenCorrupt(req: InternalRaftRequest): void {
    if (!this.alarms.has(AlarmType.CORRUPT)) return;
    if (req.put !== undefined || req.deleteRange !== undefined || req.txn !== undefined || req.compaction !== undefined || req.leaseGrant !== undefined || req.leaseRevoke !== undefined) {
      throw new CorruptError();
    }
  }

  private logAlarm(action: 'raised' | 'disarmed', alarm: { memberID: bigint; alarm: AlarmType }): void {
    this.log.warn({ alarm: AlarmType[alarm.alarm] ?? String(alarm.alarm), from: alarm.memberID.toString(16) }, `alarm ${action}`);
  }

  hashKV(rev: bigint): HashKVResponse {
    const h = hashKV(this.store, rev);
    return { header: { clusterId: 0n, memberId: 0n, revision: h.currentRev, raftTerm: 0n }, hash: h.hash, compactRevision: h.compactRev, hashRevision: h.hashRev };
  }

  async hash(): Promise<number> {
    await this.backend.commit();
    return hashBackend(this.backend);
  }

  /**
   * Rewrites this member's database without free pages. Requests are applied
   * while the copy is written (their commits wait for it, see
   * Backend.defragment); only the swap of the files pauses the apply loop.
   * Concurrent calls share one defragmentation.
   */
  defragment(): Promise<void> {
    this.defragInFlight ??= (async () => {
      try {
        await this.store.compactionsSettled();
        this.log.info({}, 'starting defragment');
        const { before, after } = await this.backend.defragment((fn) => this.driver.exclusive(fn));
        this.log.info({ 'db-size-before': before, 'db-size-after': after }, 'finished defragment');
      } finally {
        this.defragInFlight = undefined;
      }
    })();
    return this.defragInFlight;
  }

  private defragInFlight: Promise<void> | undefined;
  private defragBrakeOn = false;

  /**
   * Writes applied while a defragmentation copies the database stay in memory
   * until the swap. Past defragHeldBytesMax the next Ready waits for the copy
   * to be written, so memory is bounded and a very large defrag degrades to
   * etcd's behaviour (writes wait) instead of growing without end.
   */
  private brakeForDefrag(): void {
    if (this.defragBrakeOn || !this.backend.defragmenting || this.backend.heldBytes <= defragHeldBytesMax) return;
    this.defragBrakeOn = true;
    this.log.warn({ 'held-bytes': this.backend.heldBytes }, 'defragment copy still running; applying waits for it');
    this.driver.exclusive(() => this.backend.copyFinished())
      .catch(() => undefined)
      .finally(() => {
        this.defragBrakeOn = false;
      });
  }

  /**
   * A consistent copy of the database for Maintenance.Snapshot, taken while
   * no request is applied; the caller streams it and removes it.
   */
  async snapshotCopy(path: string): Promise<{ revision: bigint }> {
    let revision = 0n;
    await this.driver.exclusive(async () => {
      revision = this.store.currentRev;
      await this.backend.backup(path, false);
    });
    return { revision };
  }

  /** Asks the leader to promote (etcd forwards MemberPromote, as only the leader sees learner progress). */
  private async forwardPromote(id: bigint, token: string | undefined): Promise<MemberInfo[]> {
    const leader = await this.waitLeader();
    const url = this.cluster.member(leader)?.clientUrls[0];
    if (url === undefined) throw new NotLeaderError();
    const { credentials, Metadata } = await import('@grpc/grpc-js');
    const { ClusterClient } = await import('../../proto/gen/etcdserverpb/rpc.js');
    const secure = url.startsWith('https://');
    if (secure && this.clientChannelCredentials === undefined) throw new Error(`cannot forward to ${url}: no client TLS credentials`);
    const channelCredentials = secure ? this.clientChannelCredentials!() : credentials.createInsecure();
    const client = new ClusterClient(url.replace(/^https?:\/\//, ''), channelCredentials, { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const resp = await new Promise<{ members: Array<{ ID: bigint }> }>((resolve, reject) => {
        const metadata = new Metadata();
        if (token !== undefined) metadata.set('token', token);
        client.memberPromote({ ID: id }, metadata, { deadline: Date.now() + this.requestTimeoutMs }, (err, r) => {
          if (err) reject(new ForwardedError(err.code, err.details));
          else resolve(r);
        });
      });
      await this.linearizableReadBarrier();
      return resp.members.map((m) => this.cluster.member(m.ID)).filter((m): m is MemberInfo => m !== undefined);
    } finally {
      client.close();
    }
  }

  /** Hands leadership to another voter and waits until it leads (etcd's MoveLeader). */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.driver.isLeader) throw new NotLeaderError();
    const member = this.cluster.member(target);
    if (member === undefined || member.isLearner) throw new BadLeaderTransfereeError();
    if (target === this.memberId) return;
    this.driver.transferLeadership(target);
    const deadline = Date.now() + this.requestTimeoutMs;
    while (this.driver.leaderId !== target) {
      if (Date.now() > deadline || this.stopped) throw new TimeoutLeaderTransferError();
      await new Promise((r) => setTimeout(r, this.config.heartbeatIntervalMs));
    }
  }

  // ---- proposals ----

  private async proposeAndWait(body: Omit<InternalRaftRequest, 'header'>, origin: RequestOrigin): Promise<unknown> {
    const result = await this.propose(body, origin);
    if (result.error !== undefined) throw result.error;
    return result.response;
  }

  /**
   * Proposes one request and waits until this member has applied it. The
   * encoded size is checked against --max-request-bytes as etcd does. The
   * header carries who asked (`origin`): a client's identity, checked at
   * apply; 'member' for what the member proposes for itself; nothing for a
   * caller without credentials.
   */
  async propose(body: Omit<InternalRaftRequest, 'header'>, origin?: RequestOrigin): Promise<ApplyResult> {
    if (this.stopped) throw new StoppedError();
    if (this.driver.committedIndex - this.appliedIndex > BigInt(applyCommitGapMax)) throw new TooManyRequestsError();
    // Passwords are hashed before they are proposed: none may reach the log (etcd 3.4 wrote them there).
    assert.ok((body.authUserAdd?.password ?? '') === '' && (body.authUserChangePassword?.password ?? '') === '', 'a plain password was about to be proposed');
    const id = this.ids.next();
    const ai = origin === 'member' ? undefined : origin;
    const data = body.put !== undefined && Object.keys(body).length === 1 && origin === undefined
      ? encodeInternalPut(id, body.put)
      : InternalRaftRequest.encode({
        ...body,
        header: { ID: id, username: ai?.username ?? '', authRevision: ai?.revision ?? 0n, fromMember: origin === 'member' },
      }).finish();
    if (data.length > this.config.maxRequestBytes) throw new RequestTooLargeError();
    return this.waitFor(id, () => this.driver.propose(data));
  }

  /** Proposes a configuration change and waits until it is applied here. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<ApplyResult> {
    if (this.stopped) throw new StoppedError();
    const id = this.ids.next();
    return this.waitFor(id, () => this.driver.proposeConfChange({ ...cc, id }));
  }

  /** Registers the proposal, proposes it, and waits (the registry times it out). */
  private waitFor(id: bigint, propose: () => void | Promise<void>): Promise<ApplyResult> {
    const done = this.waits.register(id);
    const failed = (err: unknown) => {
      this.counters.proposalsFailed++;
      this.waits.fail(id, err as Error);
    };
    try {
      const proposed = propose();
      if (proposed !== undefined) proposed.catch(failed);
    } catch (err) {
      failed(err);
    }
    return done;
  }

  // ---- StateMachine (called by RaftNode) ----

  /** Applies committed entries in log order; results go to the proposers waiting on this member. */
  applyEntries(entries: Entry[]): void {
    const results: Array<[bigint, ApplyResult]> = [];
    // One clock read per entry: each entry's apply time is the gap since the previous one finished.
    let clock = performance.now();
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) continue;
      assert.equal(entry.index, this.appliedIndex + 1n, `apply out of order: ${entry.index} after ${this.appliedIndex}`);
      if (entry.type === EntryType.EntryConfChange) {
        const cc = ConfChange.decode(entry.data);
        const result = this.applyConfChangeEntry(cc);
        if (this.waits.isRegistered(cc.id)) results.push([cc.id, result]);
        clock = performance.now();
      } else if (entry.data.length > 0) {
        const request = InternalRaftRequest.decode(entry.data);
        const result = this.applier.apply(request, entry.index);
        if (result.physical !== undefined && request.compaction !== undefined) this.logCompaction(request.compaction.revision, result.physical);
        const now = performance.now();
        if (now - clock > this.slowRequests.thresholdMs) this.slowRequests.applied(request, now - clock, result);
        clock = now;
        if (result.error instanceof NoSpaceError) this.raiseNoSpace();
        if (request.header !== undefined && this.waits.isRegistered(request.header.ID)) results.push([request.header.ID, result]);
      }
      this.appliedIndex = entry.index;
      this.counters.proposalsApplied++;
      this.maybePromoteLessor(entry);
    }
    this.counters.applyBatches++;
    // The applied index goes into the same backend transaction as the data it covers.
    this.backend.put('meta', metaConsistentIndex, u64(this.appliedIndex));
    this.scheduleBackendCommit();
    this.brakeForDefrag();
    for (const [id, result] of results) this.waits.trigger(id, result);
    this.notifyApplied();
    if (this.campaignWhenConfigured && this.leaderId === 0n && this.currentConfState.voters.length === 1) {
      this.campaignWhenConfigured = false;
      // After the Raft loop has advanced past these entries (it does so right
      // after this apply returns), Raft knows the configuration is applied.
      setImmediate(() => this.driver.campaign());
    }
  }

  /**
   * Applies one committed configuration change: validated again against the
   * applied membership (a change that became invalid is applied as a no-op,
   * so every member still consumes the entry), then stored with the new
   * Raft configuration in the same backend transaction.
   */
  private applyConfChangeEntry(cc: ConfChange): ApplyResult {
    failpoint('beforeApplyOneConfChange');
    let error: Error | undefined;
    try {
      this.cluster.validate(cc);
    } catch (err) {
      error = err as Error;
    }
    const applied = error === undefined ? cc : { ...cc, nodeId: 0n };
    if (error === undefined && cc.type === ConfChangeType.ConfChangeRemoveNode) this.removedUrls.set(cc.nodeId, this.cluster.member(cc.nodeId)?.peerUrls ?? []);
    if (error === undefined && cc.type === ConfChangeType.ConfChangeAddNode && this.cluster.member(cc.nodeId)?.isLearner === true) this.promoting.add(cc.nodeId);
    if (error === undefined) this.cluster.apply(cc);
    this.currentConfState = this.driver.applyConfChange(applied);
    this.backend.put('meta', metaConfState, Buffer.from(ConfState.encode(this.currentConfState).finish()));
    if (error !== undefined) return { error: error as never };
    this.logConfChange(cc);
    this.onMembershipChange?.(this.cluster.list());
    if (cc.type === ConfChangeType.ConfChangeRemoveNode && cc.nodeId === this.memberId) {
      this.log.warn({ error: 'the member has been permanently removed from the cluster' }, 'server error');
      this.log.warn({}, 'data-dir used by this member must be removed');
      setImmediate(() => this.onRemoved?.());
    }
    return { members: this.cluster.list() };
  }

  /** etcd's membership lines (membership/cluster.go) for an applied change. */
  private logConfChange(cc: ConfChange): void {
    const ids = { 'cluster-id': this.clusterId.toString(16), 'local-member-id': this.memberId.toString(16) };
    const peer = cc.nodeId.toString(16);
    const urls = this.cluster.member(cc.nodeId)?.peerUrls ?? [];
    this.log.info({ 'local-member-id': ids['local-member-id'], 'raft-conf-change': ConfChangeType[cc.type], 'raft-conf-change-node-id': peer }, 'applied a configuration change through raft');
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) this.log.info({ ...ids, 'removed-remote-peer-id': peer, 'removed-remote-peer-urls': this.removedUrls.get(cc.nodeId) ?? [] }, 'removed member');
    else if (cc.type === ConfChangeType.ConfChangeUpdateNode) this.log.info({ ...ids, 'updated-remote-peer-id': peer, 'updated-remote-peer-urls': urls }, 'updated member');
    else if (this.promoting.delete(cc.nodeId)) this.log.info({ ...ids, 'promoted-member-id': peer }, 'promote member');
    else this.log.info({ ...ids, 'added-peer-id': peer, 'added-peer-peer-urls': urls, 'added-peer-is-learner': cc.type === ConfChangeType.ConfChangeAddLearnerNode }, 'added member');
  }

  /** Peer URLs of members being removed or promoted, captured before the change is applied (for the log). */
  private readonly removedUrls = new Map<bigint, string[]>();
  private readonly promoting = new Set<bigint>();

  async applySnapshot(snapshot: Snapshot): Promise<void> {
    const index = snapshot.metadata!.index;
    const received = receivedSnapshotDbPath(this.config, index);
    assert.ok(existsSync(received), `snapshot database for index ${index} was not received`);
    const snapFields = {
      'current-snapshot-index': this.driver.snapshotIndexNow, 'current-applied-index': this.appliedIndex,
      'incoming-leader-snapshot-index': index, 'incoming-leader-snapshot-term': snapshot.metadata!.term,
    };
    this.log.info(snapFields, 'applying snapshot');
    await this.store.compactionsSettled();
    await this.backend.replaceFile(received);
    this.store.restoreFrom(this.backend);
    this.lessor.reload(this.backend);
    this.store.reattachLeases();
    this.cluster.reload(this.backend);
    this.alarms.reload();
    this.auth.reload(this.backend);
    const applied = readU64(this.backend.get('meta', metaConsistentIndex)) ?? 0n;
    assert.equal(applied, index, `snapshot database is at index ${applied}, the snapshot at ${index}`);
    this.appliedIndex = applied;
    const storedConf = this.backend.get('meta', metaConfState);
    if (storedConf !== undefined) this.currentConfState = ConfState.decode(storedConf);
    this.onMembershipChange?.(this.cluster.list());
    this.log.info({ ...snapFields, 'current-applied-index': this.appliedIndex }, 'applied snapshot');
    this.notifyApplied();
  }

  private logCompaction(revision: bigint, physical: Promise<void>): void {
    const started = performance.now();
    physical.then(
      () => this.log.info({ 'compact-revision': revision, took: `${(performance.now() - started).toFixed(3)}ms` }, 'finished scheduled compaction'),
      () => undefined,
    );
  }

  /**
   * A new leader does not become the primary lessor at election but when it
   * applies the first entry of its own term: only then has it applied every
   * revoke, grant and checkpoint the previous leaders committed, so its
   * expiry times start from the real lease table.
   */
  onLeaderChange(leader: bigint, isLeader: boolean): void {
    if (isLeader) {
      this.primaryFromTerm = this.driver.term;
    } else {
      this.primaryFromTerm = undefined;
      this.lessor.demote();
    }
    if (leader !== 0n) this.maybePublish();
  }

  private maybePromoteLessor(entry: Entry): void {
    if (this.primaryFromTerm === undefined || entry.term < this.primaryFromTerm) return;
    this.primaryFromTerm = undefined;
    if (this.driver.isLeader) this.lessor.promote(this.config.electionTimeoutMs);
  }

  backendSettled(): Promise<void> {
    return this.backend.commit();
  }

  confState(): ConfState {
    return this.currentConfState;
  }

  /**
   * Publishes this member's name and client URLs through the log (etcd's
   * publish), retrying until it is applied, so `member list` shows them.
   */
  private maybePublish(): void {
    if (this.published || this.publishing || this.stopped) return;
    const self = this.cluster.member(this.memberId);
    const clientUrls = this.config.advertiseClientUrls.map(urlText);
    if (self !== undefined && self.name === this.config.name && JSON.stringify(self.clientUrls) === JSON.stringify(clientUrls)) {
      this.markPublished();
      return;
    }
    this.publishing = true;
    this.propose({ memberAttributes: { memberId: this.memberId, name: this.config.name, clientUrls } }, 'member')
      .then((r) => {
        if (r.error !== undefined) return;
        this.log.info({
          'local-member-id': this.memberId.toString(16), 'local-member-attributes': `{Name:${this.config.name} ClientURLs:[${clientUrls.join(' ')}]}`,
          'request-path': `/0/members/${this.memberId.toString(16)}/attributes`, 'cluster-id': this.clusterId.toString(16), 'publish-timeout': `${this.requestTimeoutMs / 1000}s`,
        }, 'published local member to cluster through raft');
        this.markPublished();
      })
      .catch(() => undefined)
      .finally(() => {
        this.publishing = false;
        if (!this.published && !this.stopped) setTimeout(() => this.maybePublish(), 500);
      });
  }

  /**
   * The WAL already made applied entries durable, so the backend commits in
   * batches (etcd's --backend-batch-interval): every 100 ms, or at once when
   * many writes are pending. Fewer, larger LMDB transactions leave the disk
   * to the WAL's fsyncs. A crash loses nothing: entries after the stored
   * consistent index are applied again from the WAL.
   */
  private scheduleBackendCommit(): void {
    if (this.backend.pendingWrites >= this.config.backendBatchLimit) {
      clearTimeout(this.backendCommitTimer);
      this.backendCommitTimer = undefined;
      this.backend.commit().catch((err: unknown) => this.fatal('backend commit failed', err));
      return;
    }
    if (this.backendCommitTimer !== undefined) return;
    this.backendCommitTimer = setTimeout(() => {
      this.backendCommitTimer = undefined;
      this.backend.commit().catch((err: unknown) => this.fatal('backend commit failed', err));
    }, this.config.backendBatchIntervalMs);
  }

  private markPublished(): void {
    this.published = true;
    for (const w of this.readyWaiters.splice(0)) w();
  }

  /**
   * Resolves once the member has joined the cluster's log and published its
   * attributes (etcd's ReadyNotify): only then does it serve clients, so a
   * client never meets a member that has not yet seen a leader.
   */
  ready(): Promise<void> {
    if (this.published) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private notifyApplied(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i]!;
      if (w.index <= this.appliedIndex) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private waitApplied(index: bigint): Promise<void> {
    if (index <= this.appliedIndex) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** Waits until every write acknowledged before this call is visible locally. */
  async linearizableReadBarrier(): Promise<void> {
    if (this.stopped) throw new StoppedError();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError()), this.requestTimeoutMs);
    });
    try {
      const index = await Promise.race([this.driver.readIndex(), timeout]);
      await Promise.race([this.waitApplied(index), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private fatal(what: string, err: unknown): never {
    this.log.fatal({ err }, what);
    process.exit(1);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.leaseExpiryTimer);
    clearInterval(this.tokenSweepTimer);
    clearTimeout(this.backendCommitTimer);
    this.compactor?.stop();
    this.corruptionMonitor?.stop();
    await this.driver.stop();
    this.waits.failAll(new StoppedError());
    await this.store.compactionsSettled().catch(() => undefined);
    await this.hasher.close();
    await this.backend.close();
  }

  /** Resolves once `index` is applied here, or false after `timeoutMs`. */
  async appliedWithin(index: bigint, timeoutMs: number): Promise<boolean> {
    if (index <= this.appliedIndex) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.waitApplied(index).then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
