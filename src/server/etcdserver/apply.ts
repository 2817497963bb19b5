import type { InternalRaftRequest } from '../../proto/gen/etcdtspb/internal.js';
import type { AlarmMember, AlarmResponse, ResponseHeader, CompactionResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseRevokeResponse, PutResponse, TxnResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import { AlarmRequest_AlarmAction } from '../../proto/gen/etcdserverpb/rpc.js';
import type { AlarmStore } from './alarms.js';
import type { BackendQuota } from './quota.js';
import { NoSpaceError } from './errors.js';
import type { Lessor } from '../lease/lessor.js';
import type { MemberInfo, RaftCluster } from '../membership/cluster.js';
import type { KVStore } from '../mvcc/kvstore.js';
import { OperatingError } from '../operating-error.js';
import { applyDeleteRange, applyPut, applyTxn, header, type LeaseLookup } from './apply-kv.js';
import { failpoint } from '../failpoint.js';
import type { AuthStore } from '../auth/store.js';
import type { TokenProvider } from '../auth/token-provider.js';
import { applyAuthRequest } from './apply-auth.js';

export type ApplyResponse = PutResponse | DeleteRangeResponse | TxnResponse | CompactionResponse | LeaseGrantResponse | LeaseRevokeResponse | AlarmResponse
  | { header: ResponseHeader; token?: string };

export interface ApplyResult {
  response?: ApplyResponse;
  error?: OperatingError;
  /** Compaction only: settles when the old revisions are gone from the backend. */
  physical?: Promise<void>;
  /** Configuration changes: the membership after the change. */
  members?: MemberInfo[];
}

/**
 * A check that may refuse a request before it reaches the store: the quota
 * (NOSPACE) and authentication layers slot in here, in the order etcd's
 * applier chain runs them (quota, then auth, then the backend).
 */
export interface ApplyGuard {
  check(req: InternalRaftRequest): void;
}

/**
 * Applies committed requests to the state machine, deterministically: the
 * same entries in the same order give the same state and the same results on
 * every member. Operating errors become results; any other exception is a
 * bug and propagates (the member crashes rather than diverge).
 */
export class Applier {
  private readonly guards: ApplyGuard[] = [];
  leases: LeaseLookup | undefined;
  lessor: Lessor | undefined;
  cluster: RaftCluster | undefined;
  alarms: AlarmStore | undefined;
  quota: BackendQuota | undefined;
  auth: AuthStore | undefined;
  tokens: TokenProvider | undefined;
  /** Told of every alarm raised or cleared, for the log. */
  onAlarm: ((action: 'raised' | 'disarmed', alarm: AlarmMember) => void) | undefined;
  /** Called before a compaction is applied (the compaction hash check records a hash there). */
  beforeCompact: ((revision: bigint) => void) | undefined;

  constructor(private readonly store: KVStore) {}

  addGuard(guard: ApplyGuard): void {
    this.guards.push(guard);
  }

  /** Applies one request; `index` is its raft index (simple tokens name it). */
  apply(req: InternalRaftRequest, index = 0n): ApplyResult {
    failpoint('applyBeforeRequest');
    try {
      for (const guard of this.guards) guard.check(req);
      const result = this.applyToStore(req, index);
      // Over quota: the write is applied (state stays identical on every
      // member) but answered with NOSPACE, and the member raises the alarm.
      if (result.error === undefined && this.quota !== undefined && !this.quota.available(req)) return { error: new NoSpaceError() };
      return result;
    } catch (err) {
      if (err instanceof OperatingError) return { error: err };
      throw err;
    }
  }

  private applyToStore(req: InternalRaftRequest, index: bigint): ApplyResult {
    if (req.put !== undefined) {
      const txn = this.store.write();
      try {
        const response = applyPut(txn, req.put, this.leases, true);
        return { response };
      } finally {
        txn.end();
      }
    }
    if (req.deleteRange !== undefined) {
      const txn = this.store.write();
      try {
        return { response: applyDeleteRange(txn, req.deleteRange) };
      } finally {
        txn.end();
      }
    }
    if (req.txn !== undefined) return { response: applyTxn(this.store, req.txn, this.leases) };
    if (req.compaction !== undefined) {
      this.beforeCompact?.(req.compaction.revision);
      const physical = this.store.compact(req.compaction.revision);
      const response: CompactionResponse = { header: header(this.store.currentRev) };
      return { response, physical };
    }
    if (req.leaseGrant !== undefined && this.lessor !== undefined) {
      const lease = this.lessor.grant(req.leaseGrant.ID, req.leaseGrant.TTL);
      const response: LeaseGrantResponse = { header: header(this.store.currentRev), ID: lease.id, TTL: lease.ttlSeconds, error: '' };
      return { response };
    }
    if (req.leaseRevoke !== undefined && this.lessor !== undefined) {
      this.lessor.revoke(req.leaseRevoke.ID);
      return { response: { header: header(this.store.currentRev) } };
    }
    if (req.leaseCheckpoint !== undefined && this.lessor !== undefined) {
      for (const c of req.leaseCheckpoint.checkpoints) this.lessor.checkpoint(c.ID, c.remainingTTL);
      return { response: { header: header(this.store.currentRev) } };
    }
    if (req.alarm !== undefined && this.alarms !== undefined) {
      const a = req.alarm;
      const response: AlarmResponse = { header: header(this.store.currentRev), alarms: [] };
      if (a.action === AlarmRequest_AlarmAction.GET) response.alarms = this.alarms.get(a.alarm);
      else if (a.action === AlarmRequest_AlarmAction.ACTIVATE) {
        const before = this.alarms.get(a.alarm).length;
        const raised = this.alarms.activate(a.memberID, a.alarm);
        if (raised !== undefined) response.alarms.push(raised);
        if (raised !== undefined && this.alarms.get(a.alarm).length > before) this.onAlarm?.('raised', raised);
      } else if (a.action === AlarmRequest_AlarmAction.DEACTIVATE) {
        const cleared = this.alarms.deactivate(a.memberID, a.alarm);
        if (cleared !== undefined) response.alarms.push(cleared);
        if (cleared !== undefined) this.onAlarm?.('disarmed', cleared);
      }
      return { response };
    }
    if (req.memberAttributes !== undefined && this.cluster !== undefined) {
      const a = req.memberAttributes;
      this.cluster.setAttributes(a.memberId, a.name, a.clientUrls);
      return {};
    }
    if (this.auth !== undefined && this.tokens !== undefined) {
      const applied = applyAuthRequest(req, index, this.auth, this.tokens, () => header(this.store.currentRev));
      if (applied !== undefined) return applied;
    }
    throw new Error(`apply: request kind not supported by this member: ${Object.keys(req).filter((k) => k !== 'header' && (req as unknown as Record<string, unknown>)[k] !== undefined).join(',')}`);
  }
}
