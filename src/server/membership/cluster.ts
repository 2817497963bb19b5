import { Member as MemberCodec, type Member } from '../../proto/gen/etcdserverpb/rpc.js';
import { ConfChangeType, type ConfChange } from '../../proto/gen/etcdtspb/raft.js';
import type { Backend } from '../mvcc/backend.js';
import { MemberIdExistsError, MemberIdRemovedError, MemberNotFoundError, MemberNotLearnerError, PeerUrlExistsError, TooManyLearnersError } from './errors.js';
import { computeClusterId } from './ids.js';

/** At most one learner at a time, as in etcd 3.4 (maxLearners). */
export const learnersMax = 1;

/**
 * What a configuration-change entry carries for the application (Raft treats
 * it as opaque bytes): the member being added, updated or promoted.
 */
export interface ConfChangeContext {
  member: MemberInfo;
  isPromote: boolean;
}

export interface MemberInfo {
  id: bigint;
  /** Empty until the member has started and published its attributes. */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

export function encodeConfChangeContext(ctx: ConfChangeContext): Buffer {
  return Buffer.from(JSON.stringify({
    member: { ...ctx.member, id: ctx.member.id.toString(16) },
    isPromote: ctx.isPromote,
  }));
}

export function decodeConfChangeContext(bytes: Uint8Array): ConfChangeContext {
  const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as { member: Omit<MemberInfo, 'id'> & { id: string }; isPromote: boolean };
  return { member: { ...raw.member, id: BigInt(`0x${raw.member.id}`) }, isPromote: raw.isPromote };
}

export function memberToWire(m: MemberInfo): Member {
  return { ID: m.id, name: m.name, peerURLs: [...m.peerUrls], clientURLs: [...m.clientUrls], isLearner: m.isLearner };
}

/**
 * The cluster's membership as applied from the log (etcd's RaftCluster):
 * every member's id, name, URLs and learner flag, plus the ids of removed
 * members, which may never come back. It changes only by applying committed
 * configuration-change entries (and attribute publications), so every member
 * holds the same view at the same applied index. Persisted in the backend's
 * `members` and `membersRemoved` buckets in the apply's transaction.
 */
export class RaftCluster {
  private readonly members = new Map<bigint, MemberInfo>();
  private readonly removed = new Set<bigint>();

  constructor(private backend: Backend, public clusterId: bigint) {
    this.load();
  }

  /** Reloads the membership from another backend (snapshot install). */
  reload(backend: Backend): void {
    this.backend = backend;
    this.members.clear();
    this.removed.clear();
    this.load();
  }

  private load(): void {
    this.backend.scan('members', undefined, undefined, (_key, value) => {
      const m = MemberCodec.decode(value);
      this.members.set(m.ID, { id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner });
    });
    this.backend.scan('membersRemoved', undefined, undefined, (key) => {
      this.removed.add(key.readBigUInt64BE(0));
    });
  }

  list(): MemberInfo[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  member(id: bigint): MemberInfo | undefined {
    return this.members.get(id);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  voters(): MemberInfo[] {
    return this.list().filter((m) => !m.isLearner);
  }

  /** The cluster id from the current members (used when bootstrapping a new cluster). */
  computedClusterId(): bigint {
    return computeClusterId(this.list().map((m) => m.id));
  }

  /** Checks a change against the current membership (before proposing, and again at apply). */
  validate(cc: ConfChange): void {
    if (this.removed.has(cc.nodeId)) throw new MemberIdRemovedError();
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const ctx = decodeConfChangeContext(cc.context);
        const existing = this.members.get(cc.nodeId);
        if (ctx.isPromote) {
          if (existing === undefined) throw new MemberNotFoundError();
          if (!existing.isLearner) throw new MemberNotLearnerError();
          return;
        }
        if (existing !== undefined) throw new MemberIdExistsError();
        this.checkPeerUrlsFree(ctx.member.peerUrls, undefined);
        if (ctx.member.isLearner && this.list().filter((m) => m.isLearner).length + 1 > learnersMax) throw new TooManyLearnersError();
        return;
      }
      case ConfChangeType.ConfChangeRemoveNode:
        if (!this.members.has(cc.nodeId)) throw new MemberNotFoundError();
        return;
      case ConfChangeType.ConfChangeUpdateNode: {
        if (!this.members.has(cc.nodeId)) throw new MemberNotFoundError();
        this.checkPeerUrlsFree(decodeConfChangeContext(cc.context).member.peerUrls, cc.nodeId);
        return;
      }
      default:
        throw new Error(`unknown conf change type ${String(cc.type)}`);
    }
  }

  private checkPeerUrlsFree(urls: string[], except: bigint | undefined): void {
    const used = new Set<string>();
    for (const m of this.members.values()) if (m.id !== except) for (const u of m.peerUrls) used.add(u);
    for (const u of urls) if (used.has(u)) throw new PeerUrlExistsError();
  }

  /** Applies a committed (and validated) change. */
  apply(cc: ConfChange): void {
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
      case ConfChangeType.ConfChangeAddLearnerNode: {
        const ctx = decodeConfChangeContext(cc.context);
        const existing = this.members.get(cc.nodeId);
        if (ctx.isPromote && existing !== undefined) {
          this.save({ ...existing, isLearner: false });
        } else {
          this.save({ ...ctx.member, id: cc.nodeId, isLearner: cc.type === ConfChangeType.ConfChangeAddLearnerNode });
        }
        return;
      }
      case ConfChangeType.ConfChangeRemoveNode: {
        this.members.delete(cc.nodeId);
        this.removed.add(cc.nodeId);
        const key = idKey(cc.nodeId);
        this.backend.delete('members', key);
        this.backend.put('membersRemoved', key, Buffer.alloc(0));
        return;
      }
      case ConfChangeType.ConfChangeUpdateNode: {
        const existing = this.members.get(cc.nodeId);
        if (existing !== undefined) this.save({ ...existing, peerUrls: decodeConfChangeContext(cc.context).member.peerUrls });
        return;
      }
      default:
        throw new Error(`unknown conf change type ${String(cc.type)}`);
    }
  }

  /** A member publishes its name and client URLs once started (applied from the log). */
  setAttributes(id: bigint, name: string, clientUrls: string[]): void {
    const existing = this.members.get(id);
    if (existing === undefined) return;
    this.save({ ...existing, name, clientUrls });
  }

  private save(m: MemberInfo): void {
    this.members.set(m.id, m);
    this.backend.put('members', idKey(m.id), Buffer.from(MemberCodec.encode(memberToWire(m)).finish()));
  }

  /**
   * etcd's strict reconfiguration checks (--strict-reconfig-check), counting
   * "started" members as those that have published their name: adding a
   * voter must leave a quorum of started members in the bigger cluster
   * (except growing a 1-member cluster to 2, the restore path), removing one
   * must leave a quorum of started members among the rest, and a promoted
   * learner counts as started in its future quorum.
   */
  isReadyToAddVoter(): boolean {
    const voters = this.voters();
    const members = voters.length + 1;
    const started = voters.filter((m) => m.name !== '').length;
    if (started === 1 && members === 2) return true;
    return started >= Math.floor(members / 2) + 1;
  }

  isReadyToRemoveVoter(id: bigint): boolean {
    const remaining = this.voters().filter((m) => m.id !== id);
    const started = remaining.filter((m) => m.name !== '').length;
    return started >= Math.floor(remaining.length / 2) + 1;
  }

  isReadyToPromote(): boolean {
    const voters = this.voters();
    const members = voters.length + 1;
    const started = voters.filter((m) => m.name !== '').length + 1;
    return started >= Math.floor(members / 2) + 1;
  }
}

export function idKey(id: bigint): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeBigUInt64BE(id);
  return key;
}
