import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import { EntryType, type Entry } from '../../proto/gen/etcdtspb/raft.js';
import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse,
  LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
  PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { Lessor, systemClock, type Clock } from '../lease/lessor.js';
import { LeaseNotFoundError } from '../lease/errors.js';
import { Backend } from '../mvcc/backend.js';
import { KVStore, readU64, u64 } from '../mvcc/kvstore.js';
import { applyRange, applyTxn, isTxnReadonly, isTxnSerializable } from './apply-kv.js';
import { Applier, type ApplyResult } from './apply.js';
import { backendPath, urlText, type ServerConfig } from './config.js';
import type { ConsensusDriver } from './driver.js';
import { RequestTooLargeError, StoppedError, TimeoutError, TooManyRequestsError } from './errors.js';
import { SoloDriver } from './solo-driver.js';
import { IdGenerator, WaitRegistry } from './wait.js';
import { computeClusterId, computeMemberId } from '../membership/ids.js';
import type { Logger } from '../logger.js';
import { applyCommitGapMax, leaseRevokesPerSecondMax } from '../constants.js';

/** etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds. */
export function minLeaseTtlSeconds(config: Pick<ServerConfig, 'electionTimeoutMs' | 'heartbeatIntervalMs'>): bigint {
  const electionTicks = Math.floor(config.electionTimeoutMs / config.heartbeatIntervalMs);
  return BigInt(Math.ceil((Math.floor((3 * electionTicks) / 2) * config.heartbeatIntervalMs) / 1000));
}

const metaConsistentIndex = Buffer.from('consistent_index');
const metaClusterId = Buffer.from('cluster_id');
const metaMemberId = Buffer.from('member_id');

/** The etcd version this member speaks (its API surface), reported by Status and /version. */
export const serverVersion = '3.4.23';
export const clusterVersion = '3.4.0';

/**
 * One member: owns the backend, the MVCC store and the applier, drives
 * consensus, and serves the API layer. Requests flow one way:
 * request -> proposal (InternalRaftRequest) -> commit -> apply -> response.
 * Reads are served from the local store after a read barrier (linearizable)
 * or at once (serializable).
 */
export class EtcdServer {
  readonly backend: Backend;
  readonly store: KVStore;
  readonly applier: Applier;
  readonly lessor: Lessor;
  readonly clusterId: bigint;
  readonly memberId: bigint;
  appliedIndex: bigint;
  private readonly waits = new WaitRegistry<ApplyResult>();
  private readonly ids: IdGenerator;
  private readonly driver: ConsensusDriver;
  private readonly requestTimeoutMs: number;
  private stopped = false;
  private readonly appliedWaiters: Array<{ index: bigint; resolve: () => void }> = [];
  private leaseExpiryTimer: NodeJS.Timeout | undefined;
  private readonly revokesInFlight = new Set<bigint>();
  /** Counters the metrics endpoint will read. */
  readonly counters = { proposalsCommitted: 0, proposalsApplied: 0, proposalsFailed: 0, applyBatches: 0 };

  private constructor(readonly config: ServerConfig, readonly log: Logger, readonly clock: Clock) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const fresh = !existsSync(backendPath(config));
    this.backend = Backend.open(backendPath(config));
    this.store = new KVStore(this.backend);
    this.lessor = new Lessor(this.backend, this.store, clock, minLeaseTtlSeconds(config));
    this.store.setLeaseTracker(this.lessor);
    this.store.reattachLeases();
    this.applier = new Applier(this.store);
    this.applier.leases = this.lessor;
    this.applier.lessor = this.lessor;
    const ids = this.identity(fresh);
    this.clusterId = ids.clusterId;
    this.memberId = ids.memberId;
    this.appliedIndex = readU64(this.backend.get('meta', metaConsistentIndex)) ?? 0n;
    this.ids = new IdGenerator(this.memberId, Date.now());
    this.requestTimeoutMs = 5000 + 2 * config.electionTimeoutMs;
    this.driver = new SoloDriver(this.memberId, this.appliedIndex, () => this.backend.settled());
  }

  static async start(config: ServerConfig, log: Logger, clock: Clock = systemClock): Promise<EtcdServer> {
    const server = new EtcdServer(config, log, clock);
    // The member's identity must be durable before it answers anyone.
    await server.backend.commit();
    await server.driver.start((entries) => server.applyEntries(entries));
    server.becameLeader();
    server.leaseExpiryTimer = setInterval(() => server.revokeExpiredLeases(), 500);
    log.info({ memberId: server.memberId.toString(16), clusterId: server.clusterId.toString(16), revision: server.store.currentRev.toString(), appliedIndex: server.appliedIndex.toString() }, 'member started');
    return server;
  }

  /** Member and cluster ids: computed from the initial cluster on first start, then read back. */
  private identity(fresh: boolean): { clusterId: bigint; memberId: bigint } {
    const storedCluster = readU64(this.backend.get('meta', metaClusterId));
    const storedMember = readU64(this.backend.get('meta', metaMemberId));
    if (!fresh && storedCluster !== undefined && storedMember !== undefined) return { clusterId: storedCluster, memberId: storedMember };
    const memberIds = [...this.config.initialCluster.values()].map((urls) => computeMemberId(urls, this.config.initialClusterToken));
    const memberId = computeMemberId(this.config.initialAdvertisePeerUrls.map(urlText), this.config.initialClusterToken);
    const clusterId = computeClusterId(memberIds);
    this.backend.put('meta', metaClusterId, u64(clusterId));
    this.backend.put('meta', metaMemberId, u64(memberId));
    return { clusterId, memberId };
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

  async range(r: RangeRequest): Promise<RangeResponse> {
    if (!r.serializable) await this.linearizableReadBarrier();
    return applyRange(this.store.read(), r);
  }

  async put(r: PutRequest): Promise<PutResponse> {
    return (await this.proposeAndWait({ put: r })) as PutResponse;
  }

  async deleteRange(r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return (await this.proposeAndWait({ deleteRange: r })) as DeleteRangeResponse;
  }

  async txn(r: TxnRequest): Promise<TxnResponse> {
    if (isTxnReadonly(r)) {
      if (!isTxnSerializable(r)) await this.linearizableReadBarrier();
      return applyTxn(this.store, r, this.applier.leases);
    }
    return (await this.proposeAndWait({ txn: r })) as TxnResponse;
  }

  async compact(r: CompactionRequest): Promise<CompactionResponse> {
    const result = await this.propose({ compaction: r });
    if (r.physical && result.physical !== undefined) await result.physical;
    if (result.error !== undefined) throw result.error;
    const response = result.response as CompactionResponse;
    response.header = { clusterId: 0n, memberId: 0n, revision: this.store.currentRev, raftTerm: 0n };
    return response;
  }

  // ---- leases ----

  async leaseGrant(r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    // The proposer picks the id so that every member applies the same one.
    let id = r.ID;
    while (id === 0n) id = this.ids.next() & ((1n << 63n) - 1n);
    return (await this.proposeAndWait({ leaseGrant: { ID: id, TTL: r.TTL } })) as LeaseGrantResponse;
  }

  async leaseRevoke(r: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    return (await this.proposeAndWait({ leaseRevoke: r })) as LeaseRevokeResponse;
  }

  /** A keep-alive: restarts the lease's TTL on the leader; returns the granted TTL. */
  async leaseRenew(id: bigint): Promise<bigint> {
    return this.lessor.renew(id);
  }

  async leaseTimeToLive(r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
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

  /** Leadership starts: leases start counting down (extended by an election timeout). */
  private becameLeader(): void {
    this.lessor.promote(this.config.electionTimeoutMs);
  }

  /** Proposes the revocation of expired leases, at most the revoke rate per second. */
  private revokeExpiredLeases(): void {
    if (this.stopped || !this.lessor.isPrimary) return;
    const budget = Math.floor(leaseRevokesPerSecondMax / 2) - this.revokesInFlight.size;
    for (const id of this.lessor.expired(Math.max(0, budget))) {
      if (this.revokesInFlight.has(id)) continue;
      this.revokesInFlight.add(id);
      this.propose({ leaseRevoke: { ID: id } })
        .catch((err: unknown) => this.log.warn({ err, lease: id.toString(16) }, 'failed to revoke expired lease'))
        .finally(() => this.revokesInFlight.delete(id));
    }
  }

  // ---- proposals ----

  private async proposeAndWait(body: Omit<InternalRaftRequest, 'header'>): Promise<unknown> {
    const result = await this.propose(body);
    if (result.error !== undefined) throw result.error;
    return result.response;
  }

  /**
   * Proposes one request and waits until this member has applied it. The
   * encoded size is checked against --max-request-bytes as etcd does.
   */
  async propose(body: Omit<InternalRaftRequest, 'header'>): Promise<ApplyResult> {
    if (this.stopped) throw new StoppedError();
    if (this.driver.committedIndex - this.appliedIndex > BigInt(applyCommitGapMax)) throw new TooManyRequestsError();
    const id = this.ids.next();
    const request: InternalRaftRequest = { ...body, header: { ID: id, username: '', authRevision: 0n } };
    const data = InternalRaftRequest.encode(request).finish();
    if (data.length > this.config.maxRequestBytes) throw new RequestTooLargeError();
    const done = this.waits.register(id);
    try {
      this.driver.propose(data);
    } catch (err) {
      this.waits.fail(id, err as Error);
      return done;
    }
    const timer = setTimeout(() => this.waits.fail(id, new TimeoutError()), this.requestTimeoutMs);
    try {
      return await done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Applies committed entries in order; acknowledges proposers once results are durable. */
  private applyEntries(entries: Entry[]): void {
    const results: Array<[bigint, ApplyResult]> = [];
    for (const entry of entries) {
      assert.equal(entry.index, this.appliedIndex + 1n, `apply out of order: ${entry.index} after ${this.appliedIndex}`);
      if (entry.type === EntryType.EntryNormal && entry.data.length > 0) {
        const request = InternalRaftRequest.decode(entry.data);
        const result = this.applier.apply(request);
        if (result.error !== undefined) this.counters.proposalsFailed++;
        if (request.header !== undefined && this.waits.isRegistered(request.header.ID)) results.push([request.header.ID, result]);
      }
      this.appliedIndex = entry.index;
      this.counters.proposalsApplied++;
    }
    this.counters.applyBatches++;
    // The applied index goes into the same backend transaction as the data it covers.
    this.backend.put('meta', metaConsistentIndex, u64(this.appliedIndex));
    const committed = this.backend.commit();
    const acknowledge = (): void => {
      for (const [id, result] of results) this.waits.trigger(id, result);
      this.notifyApplied();
    };
    if (this.driver.entriesDurableBeforeApply) {
      acknowledge();
      committed.catch((err: unknown) => this.fatal('backend commit failed', err));
    } else {
      committed.then(acknowledge, (err: unknown) => this.fatal('backend commit failed', err));
    }
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
    const index = await this.driver.readIndex();
    await this.waitApplied(index);
  }

  private fatal(what: string, err: unknown): never {
    this.log.fatal({ err }, what);
    process.exit(1);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.leaseExpiryTimer);
    await this.driver.stop();
    this.waits.failAll(new StoppedError());
    await this.store.compactionsSettled().catch(() => undefined);
    await this.backend.close();
  }
}
