import type { HashKVResponse } from '../../proto/gen/etcdserverpb/rpc.js';
import type { HashKVResult } from '../mvcc/hash.js';
import type { Logger } from '../logger.js';

/**
 * Corruption checks, as etcd has them (etcdserver/corrupt.go in 3.4, the
 * compaction hash check of 3.5):
 *
 * - initial: before serving, a member compares HashKV at its current
 *   revision with every peer's HashKV at that revision; a different hash at
 *   the same compact revision means the data diverged, and it refuses to
 *   start.
 * - periodic (--experimental-corrupt-check-time): the leader does the same
 *   comparison every interval and raises the CORRUPT alarm on a mismatch
 *   (member 0: which side is wrong is not known).
 * - compaction hashes (--experimental-compact-hash-check-enabled): every
 *   member records the hash of what it keeps at each compaction; the leader
 *   asks its peers for theirs at the same revisions and raises CORRUPT for
 *   the member that differs.
 *
 * Hashes travel over the peer port (no client credentials, no auth).
 */
export interface CorruptionHost {
  readonly memberId: bigint;
  readonly log: Logger;
  readonly requestTimeoutMs: number;
  /** HashKV of this member at `rev` (0: current); throws when compacted or in the future. */
  localHash(rev: bigint): HashKVResult;
  peers(): Array<{ id: bigint; peerUrls: string[] }>;
  /** A peer's answer to HashKV(rev): its recorded compaction hash for `rev` if it has one. */
  peerHash(id: bigint, rev: bigint, timeoutMs: number): Promise<HashKVResponse>;
  isLeader(): boolean;
  readBarrier(): Promise<void>;
  raiseCorrupt(memberId: bigint): void;
}

/** A hash recorded when a compaction at `revision` was applied (etcd 3.5's KeyValueHash). */
export interface CompactionHash {
  revision: bigint;
  /** The compact revision before this compaction. */
  compactRevision: bigint;
  hash: number;
}

/** Compaction hashes kept per member (etcd's hashStorage keeps 10). */
export const compactionHashesMax = 10;

export class CompactionHashes {
  private readonly hashes: CompactionHash[] = [];
  /** The newest revision the leader has checked across the cluster. */
  checkedUpTo = 0n;

  record(h: CompactionHash): void {
    this.hashes.push(h);
    if (this.hashes.length > compactionHashesMax) this.hashes.shift();
  }

  at(revision: bigint): CompactionHash | undefined {
    return this.hashes.find((h) => h.revision === revision);
  }

  /** Hashes not yet checked, newest first. */
  unchecked(): CompactionHash[] {
    return this.hashes.filter((h) => h.revision > this.checkedUpTo).reverse();
  }
}

const hex = (id: bigint): string => id.toString(16);

interface PeerAnswer {
  id: bigint;
  eps: string[];
  resp?: HashKVResponse;
  err?: Error;
}

async function askPeers(host: CorruptionHost, rev: bigint): Promise<PeerAnswer[]> {
  return Promise.all(host.peers().map(async ({ id, peerUrls }) => {
    try {
      return { id, eps: peerUrls, resp: await host.peerHash(id, rev, host.requestTimeoutMs) };
    } catch (err) {
      host.log.warn({ 'local-member-id': hex(host.memberId), 'requested-revision': rev, 'remote-peer-endpoint': peerUrls.join(','), error: (err as Error).message }, 'failed hash kv request');
      return { id, eps: peerUrls, err: err as Error };
    }
  }));
}

/** Throws when a peer holds different data at the same revision and compact revision. */
export async function checkInitialHashKV(host: CorruptionHost): Promise<void> {
  const self = hex(host.memberId);
  host.log.info({ 'local-member-id': self, timeout: `${host.requestTimeoutMs / 1000}s` }, 'starting initial corruption check');
  const local = host.localHash(0n);
  let mismatch = 0;
  for (const p of await askPeers(host, local.hashRev)) {
    if (p.resp === undefined) continue;
    const fields = {
      'local-member-id': self, 'local-member-revision': local.hashRev, 'local-member-compact-revision': local.compactRev, 'local-member-hash': local.hash,
      'remote-peer-id': hex(p.id), 'remote-peer-endpoints': p.eps, 'remote-peer-revision': p.resp.header?.revision ?? 0n,
      'remote-peer-compact-revision': p.resp.compactRevision, 'remote-peer-hash': p.resp.hash,
    };
    if (local.hash === p.resp.hash) continue;
    if (local.compactRev === p.resp.compactRevision) {
      host.log.warn(fields, 'found different hash values from remote peer');
      mismatch++;
    } else {
      host.log.warn(fields, 'found different compact revision values from remote peer');
    }
  }
  if (mismatch > 0) throw new Error(`${self} found data inconsistency with peers`);
  host.log.info({ 'local-member-id': self }, 'initial corruption checking passed; no corruption');
}

/** One pass of the leader's periodic check (etcd's checkHashKV). */
export async function checkHashKV(host: CorruptionHost): Promise<void> {
  const first = host.localHash(0n);
  const peers = await askPeers(host, first.hashRev);
  await host.readBarrier();
  const second = host.localHash(0n);
  let alarmed = false;
  const mismatch = (): void => {
    if (alarmed) return;
    alarmed = true;
    // Which member is wrong is not known: etcd raises the alarm for member 0.
    host.raiseCorrupt(0n);
  };
  if (second.hash !== first.hash && second.hashRev === first.hashRev && second.compactRev === first.compactRev) {
    host.log.warn({ 'revision-1': first.hashRev, 'compact-revision-1': first.compactRev, 'hash-1': first.hash, 'revision-2': second.hashRev, 'compact-revision-2': second.compactRev, 'hash-2': second.hash }, 'found hash mismatch');
    mismatch();
  }
  let checked = 0;
  for (const p of peers) {
    if (p.resp === undefined) continue;
    checked++;
    const revision = p.resp.header?.revision ?? 0n;
    if (revision > second.hashRev) {
      host.log.warn({ 'leader-revision': second.hashRev, 'follower-revision': revision, 'follower-peer-id': hex(p.id) }, "revision from follower must be less than or equal to leader's");
      mismatch();
    }
    if (p.resp.compactRevision > second.compactRev) {
      host.log.warn({ 'leader-compact-revision': second.compactRev, 'follower-compact-revision': p.resp.compactRevision, 'follower-peer-id': hex(p.id) }, "compact revision from follower must be less than or equal to leader's");
      mismatch();
    }
    if (p.resp.compactRevision === first.compactRev && p.resp.hash !== first.hash) {
      host.log.warn({ 'leader-compact-revision': second.compactRev, 'leader-hash': first.hash, 'follower-compact-revision': p.resp.compactRevision, 'follower-hash': p.resp.hash, 'follower-peer-id': hex(p.id) }, 'same compact revision then hashes must match');
      mismatch();
    }
  }
  host.log.info({ 'number-of-peers-checked': checked }, 'finished peer corruption check');
}

/** One pass of the leader's compaction hash check (etcd 3.5's CompactHashCheck). */
export async function checkCompactionHashes(host: CorruptionHost, hashes: CompactionHashes): Promise<void> {
  host.log.info({ 'local-member-id': hex(host.memberId), timeout: `${host.requestTimeoutMs / 1000}s` }, 'starting compact hash check');
  const unchecked = hashes.unchecked();
  for (let i = 0; i < unchecked.length; i++) {
    const leader = unchecked[i]!;
    const peers = (await askPeers(host, leader.revision)).filter((p) => p.resp !== undefined);
    if (peers.length === 0) continue;
    let matched = 0;
    for (const p of peers) {
      const follower = p.resp!;
      if (follower.compactRevision !== leader.compactRevision) continue;
      if (follower.hash === leader.hash) {
        matched++;
        continue;
      }
      host.log.error({
        revision: leader.revision, 'leader-compact-revision': leader.compactRevision, 'leader-hash': leader.hash,
        'follower-compact-revision': follower.compactRevision, 'follower-hash': follower.hash, 'follower-peer-id': hex(p.id),
      }, 'failed compaction hash check');
      host.raiseCorrupt(p.id);
    }
    if (matched === peers.length) {
      host.log.info({ 'number-of-peers-checked': matched, revision: leader.revision }, 'successfully checked hash on whole cluster');
      hashes.checkedUpTo = leader.revision;
      host.log.info({ 'number-of-hashes-checked': i + 1 }, 'finished compaction hash check');
      return;
    }
  }
  host.log.info({ 'number-of-hashes-checked': unchecked.length }, 'finished compaction hash check');
}

/**
 * The leader's periodic checks; each pass runs only on the leader and never
 * overlaps the previous one.
 */
export class CorruptionMonitor {
  private readonly timers: NodeJS.Timeout[] = [];
  private running = false;

  constructor(private readonly host: CorruptionHost, private readonly hashes: CompactionHashes) {}

  start(corruptCheckIntervalMs: number, compactHashCheckIntervalMs: number | undefined): void {
    const self = hex(this.host.memberId);
    if (corruptCheckIntervalMs > 0) {
      this.host.log.info({ 'local-member-id': self, interval: `${corruptCheckIntervalMs / 1000}s` }, 'enabled corruption checking');
      this.every(corruptCheckIntervalMs, () => checkHashKV(this.host), 'failed to check hash KV');
    }
    if (compactHashCheckIntervalMs !== undefined) {
      this.host.log.info({ 'local-member-id': self, interval: `${compactHashCheckIntervalMs / 1000}s` }, 'enabled compact hash check');
      this.every(compactHashCheckIntervalMs, () => checkCompactionHashes(this.host, this.hashes), 'failed compaction hash check');
    }
  }

  private every(intervalMs: number, pass: () => Promise<void>, failure: string): void {
    const timer = setInterval(() => {
      if (this.running || !this.host.isLeader()) return;
      this.running = true;
      pass().catch((err: unknown) => this.host.log.warn({ error: (err as Error).message }, failure)).finally(() => {
        this.running = false;
      });
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
