/**
 * Deliberate Raft bugs, switched on one at a time in the simulator
 * (SimOptions.raftMutant, SIM_RAFT_MUTANT=name) to show that its checks
 * catch a broken consensus core. The production code carries no switch:
 * each bug is injected from here, by replacing one method of a running
 * node (the method stays in place for every other node and test), or, for
 * the bugs of a server's Ready loop, by a driver fault the simulator obeys
 * (`driver`).
 *
 * Each entry names the rule it breaks (Raft paper, Figure 2 and §5; thesis
 * §6.4 for reads) and `seedsMax`: the CI test asserts that the simulator
 * catches it within that many seeds (mutants.test.ts), or, for the few
 * whose scenario random faults almost never build, why (`rare`).
 * docs/robustness.md has the table of seeds to detection and the check that
 * caught each one.
 */
import { MessageType, type Message, type Snapshot } from '../../src/proto/gen/etcdtspb/raft.js';
import { newMessage, none, snapshotIndex } from '../../src/server/raft/messages.js';
import { quorumSize } from '../../src/server/raft/quorum/majority.js';
import { Raft } from '../../src/server/raft/raft.js';
import { RaftLog } from '../../src/server/raft/raft-log.js';
import type { RawNode, Ready } from '../../src/server/raft/rawnode.js';
import { replace } from './patch.js';

/** A bug in the server's handling of a Ready rather than in Raft itself. */
export type DriverFault =
  /** A follower sends its messages (acknowledgements, granted votes) before its write is durable. */
  | 'ack-before-persist'
  /** Committed entries are applied (and answered) before the Ready's entries are written. */
  | 'apply-before-persist'
  /** A confirmed read is served at once, not once the state machine has applied up to its index. */
  | 'read-before-apply';

export interface RaftMutant {
  bug: string;
  /** The rule the bug breaks. */
  rule: string;
  /** Replaces methods of one node's Raft; called for every node the simulation starts. */
  patch?(rn: RawNode): void;
  driver?: DriverFault;
  /** CI asserts the bug is caught within this many seeds (a margin above the seeds it takes today). */
  seedsMax?: number;
  /** Set for a real bug whose scenario the seeds almost never reach: what it needs. Not run in CI. */
  rare?: string;
  /**
   * For a rare bug: installs it on the prototypes, in every node of the
   * process, so that the scripted scenario tests of test/unit/raft run
   * against it (scenario-mutants.test.ts).
   */
  patchAll?(): void;
}

/** The private parts of Raft a mutant replaces (TypeScript's `private` does not exist at run time). */
interface RaftInternals {
  handleVoteRequest(m: Message): void;
  stepTerm(m: Message): boolean;
  restore(s: Snapshot): boolean;
}

/** Raft's public members (a class type with private ones cannot be intersected). */
type PublicRaft = Omit<Raft, never>;

function internals(r: Raft | typeof Raft.prototype): PublicRaft & RaftInternals {
  return r as unknown as PublicRaft & RaftInternals;
}

/**
 * The commit-old-term bug, on one node (its log and Raft) or, given the
 * prototypes, on every node of the process (scenario-mutants.test.ts).
 */
export function commitOldTerm(log: RaftLog, raft: Raft): void {
  log.maybeCommit = function (this: RaftLog, maxIndex: bigint): boolean {
    if (maxIndex <= this.committed) return false;
    this.commitTo(maxIndex);
    return true;
  };
  // Our core asserts that reads are released only after a commit of the
  // leader's term, which would stop this bug at once; etcd only logs there.
  // Relaxed to etcd's behaviour so that the checks must find the consequences.
  const release = raft.releasePendingReadIndexMessages;
  raft.releasePendingReadIndexMessages = function (this: Raft): void {
    if (this.committedEntryInCurrentTerm()) release.call(this);
  };
}

/** A follower takes appends and heartbeats of an older term as current (on a node, or on the prototype). */
function acceptStaleLeader(target: PublicRaft & RaftInternals): void {
  const stepTerm = target.stepTerm;
  target.stepTerm = function (this: PublicRaft & RaftInternals, m: Message): boolean {
    const fromLeader = m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat;
    if (m.term !== 0n && m.term < this.term && fromLeader && this.state === 'follower') return true;
    return stepTerm.call(this, m);
  };
}

/** A leader takes append acknowledgements of an older term as current (on a node, or on the prototype). */
function countStaleAcks(target: PublicRaft & RaftInternals): void {
  const stepTerm = target.stepTerm;
  target.stepTerm = function (this: PublicRaft & RaftInternals, m: Message): boolean {
    if (m.term !== 0n && m.term < this.term && m.type === MessageType.MsgAppResp && !m.reject && this.state === 'leader') return true;
    return stepTerm.call(this, m);
  };
}

/** The index that a minority of the voters (the leader plus too few others) has acknowledged. */
function minorityAcked(r: Raft): bigint {
  const matches = r.prs.voterIds().map((id) => r.prs.progress.get(id)?.match ?? 0n).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return matches[Math.max(0, quorumSize(matches.length) - 2)] ?? 0n;
}

/** A ReadIndex answered as if confirmed: the leader's commit index, no heartbeat round. */
function answerReadAtOnce(r: Raft, m: Message): void {
  r.respondToReadIndex(m, r.raftLog.committed);
}

/**
 * The leader counts its own log towards commit as soon as it appends, and a
 * new leader counts its whole log, written or not (on a node, or on the prototypes).
 */
function countUnwrittenLog(log: RaftLog, raft: Raft): void {
  log.lastStableIndex = function (this: RaftLog): bigint {
    return this.lastIndex();
  };
  const appendEntry = raft.appendEntry;
  raft.appendEntry = function (this: Raft, es) {
    if (!appendEntry.call(this, es)) return false;
    this.prs.progress.get(this.id)!.maybeUpdate(this.raftLog.lastIndex());
    this.maybeCommit();
    return true;
  };
}

export const raftMutants = {
  'vote-twice': {
    bug: 'a follower that voted in a term grants its vote to a second candidate of that term',
    rule: 'one vote per term (§5.2): Election Safety',
    patch(rn) {
      const r = internals(rn.raft);
      replace(r, 'handleVoteRequest', (original) => (m: Message) => {
        if (m.type === MessageType.MsgVote && r.state === 'follower' && r.vote !== none && r.vote !== m.from) r.vote = none;
        original(m);
      });
    },
    seedsMax: 10,
  },
  'vote-unsynced': {
    bug: 'a Ready that only changes term or vote does not ask for fsync: the vote is written, not synced, before the grant goes out',
    rule: 'persist currentTerm and votedFor before answering (Figure 2)',
    patch(rn) {
      replace(rn, 'ready', (original) => (): Ready => {
        const rd = original();
        if (rd.entries.length === 0 && rd.snapshot === undefined) rd.mustSync = false;
        return rd;
      });
    },
    seedsMax: 10,
  },
  'up-to-date-ignored': {
    bug: 'a voter grants its vote without checking that the candidate\'s log is at least as up to date',
    rule: 'election restriction (§5.4.1): Leader Completeness',
    patch(rn) {
      replace(rn.raft.raftLog, 'isUpToDate', () => () => true);
    },
    seedsMax: 10,
  },
  'commit-old-term': {
    bug: 'a leader commits an entry of an earlier term by counting its replicas',
    rule: 'commit only entries of the current term by counting (§5.4.2, Figure 8)',
    patch(rn) {
      commitOldTerm(rn.raft.raftLog, rn.raft);
    },
    patchAll() {
      commitOldTerm(RaftLog.prototype, Raft.prototype);
    },
    rare: 'needs the history of the Raft paper\'s Figure 8, and our appends rarely allow it: a new leader\'s empty entry has no payload, so the size limit never separates it from the old entry before it, and a majority acknowledges both at once; only a leader with two or more old entries to copy, dying between the two appends, followed by a member with another entry of a later term winning, breaks it; 0 of 1000 seeds',
  },
  'minority-commit': {
    bug: 'the commit index counts one acknowledgement too few (the leader alone commits in a 3-member cluster)',
    rule: 'an entry is committed once a majority stores it (§5.3)',
    patch(rn) {
      const r = rn.raft;
      replace(r, 'maybeCommit', () => () => r.raftLog.maybeCommit(minorityAcked(r), r.term));
    },
    seedsMax: 10,
  },
  'skip-log-matching': {
    bug: 'a follower appends without checking that its entry before the new ones has the leader\'s term',
    rule: 'AppendEntries consistency check (§5.3): Log Matching',
    patch(rn) {
      const log = rn.raft.raftLog;
      replace(log, 'maybeAppend', (original) => (index: bigint, logTerm: bigint, committed: bigint, ents) => {
        const held = index >= log.firstIndex() - 1n && index <= log.lastIndex();
        return original(index, held ? log.termOrZero(index) : logTerm, committed, ents);
      });
    },
    seedsMax: 10,
  },
  'truncate-acked-tail': {
    bug: 'a follower cuts its log after the entries of every append, even without a conflict, dropping entries it has acknowledged',
    rule: 'truncate only at a conflict (Figure 2, AppendEntries step 3)',
    patch(rn) {
      const log = rn.raft.raftLog;
      replace(log, 'findConflict', () => (ents) => (ents.length > 0 ? ents[0]!.index : 0n));
    },
    seedsMax: 10,
  },
  'heartbeat-commit-unbounded': {
    bug: 'heartbeats carry the leader\'s commit index instead of min(match, commit)',
    rule: 'a follower may only commit entries it is known to share with the leader',
    patch(rn) {
      const r = rn.raft;
      replace(r, 'sendHeartbeat', () => (to: bigint, ctx: Buffer | undefined) => {
        r.send(newMessage({ type: MessageType.MsgHeartbeat, to, commit: r.raftLog.committed, context: ctx ?? Buffer.alloc(0) }));
      });
    },
    seedsMax: 10,
  },
  'accept-stale-leader': {
    bug: 'a follower accepts appends and heartbeats from a leader of an older term',
    rule: 'reject requests with a stale term (§5.1)',
    patch(rn) {
      acceptStaleLeader(internals(rn.raft));
    },
    patchAll() {
      acceptStaleLeader(internals(Raft.prototype));
    },
    rare: 'needs a delayed append of a deposed leader to truncate entries a follower already acknowledged to the new leader, and that follower to win an election before they are copied back; first caught at seed 307 of 1000 (State Machine Safety)',
  },
  'stale-ack-counted': {
    bug: 'a leader counts append acknowledgements sent in an older term',
    rule: 'responses of a stale term are dropped (§5.1)',
    patch(rn) {
      countStaleAcks(internals(rn.raft));
    },
    rare: 'cannot break safety: a leader commits by counting only entries of its own term, which no acknowledgement of an older term can name; it can overstate a follower\'s log so that the leader never repairs it (liveness), which needs the acknowledgement to outlive a change of leader and back; 0 of 1000 seeds, and no scripted scenario builds it',
  },
  'ignore-higher-term': {
    bug: 'a leader ignores every message of a higher term instead of stepping down',
    rule: 'a higher term makes any member a follower (§5.1)',
    patch(rn) {
      const r = internals(rn.raft);
      replace(r, 'stepTerm', (original) => (m: Message) => (r.state === 'leader' && m.term > r.term ? false : original(m)));
    },
    seedsMax: 10,
  },
  'install-old-snapshot': {
    bug: 'a follower installs a snapshot older than its commit index (a delayed or duplicated MsgSnap)',
    rule: 'a snapshot at or below the commit index is ignored; commit never goes back',
    patch(rn) {
      const r = internals(rn.raft);
      replace(r, 'restore', (original) => (s: Snapshot) => {
        const log = r.raftLog;
        const index = snapshotIndex(s);
        // Strictly older: at the commit index itself the bug would change nothing visible.
        if (index >= log.committed) return original(s);
        const committed = log.committed;
        // The bug: neither the commit check nor the "already have it" shortcut applies.
        log.committed = index - 1n;
        log.matchTerm = () => false;
        try {
          const installed = original(s);
          if (!installed) log.committed = committed;
          return installed;
        } finally {
          delete (log as { matchTerm?: unknown }).matchTerm;
        }
      });
    },
    seedsMax: 100,
  },
  'read-without-quorum': {
    bug: 'a leader answers ReadIndex with its commit index without a heartbeat round',
    rule: 'ReadIndex confirms leadership with a quorum before answering (thesis §6.4)',
    patch(rn) {
      const r = rn.raft;
      replace(r, 'handleReadIndex', () => (m: Message) => answerReadAtOnce(r, m));
    },
    seedsMax: 10,
  },
  'read-before-term-commit': {
    bug: 'a new leader answers ReadIndex before it has committed an entry of its term',
    rule: 'a leader\'s commit index is current only after its first commit in its term (thesis §6.4)',
    patch(rn) {
      const r = rn.raft;
      replace(r, 'handleReadIndex', (original) => (m: Message) => {
        if (r.prs.isSingleton() || r.committedEntryInCurrentTerm()) {
          original(m);
          return;
        }
        r.readOnly.addRequest(r.raftLog.committed, m);
        r.readOnly.recvAck(r.id, m.entries[0]!.data);
        r.readIndexHeartbeatPending = true;
      });
    },
    seedsMax: 60,
  },
  'campaign-unapplied-conf': {
    bug: 'a member campaigns while committed configuration changes are still unapplied (etcd #12133)',
    rule: 'campaign only with an applied configuration, or two leaders can win one term',
    patch(rn) {
      rn.raft.hasUnappliedConfChanges = () => false;
    },
    patchAll() {
      Raft.prototype.hasUnappliedConfChanges = () => false;
    },
    rare: 'needs a member with a committed but unapplied configuration change (its Ready loop behind) to time out and win before applying it, under a configuration where that gives two majorities; 0 of 1000 seeds',
  },
  'leader-counts-unwritten-log': {
    bug: 'the leader counts its own entries towards commit before they are on its disk',
    rule: 'commit once a majority has the entry in stable storage (Figure 2; thesis §10.2.1: the leader may write in parallel, but counts itself only once written)',
    patch(rn) {
      countUnwrittenLog(rn.raft.raftLog, rn.raft);
    },
    patchAll() {
      countUnwrittenLog(RaftLog.prototype, Raft.prototype);
    },
    rare: 'needs the leader and the one follower that holds an entry to lose their unwritten tails together after the entry was acknowledged, then a majority without it to elect a leader: whole-cluster power loss, which the simulator does not inject (it crashes members one at a time); the scripted scenarios and the robustness runner\'s power-loss-cluster scenario catch it',
  },
  'ack-before-persist': {
    bug: 'followers send acknowledgements and granted votes before their write is durable',
    rule: 'respond only after persisting (Figure 2; rawnode.ts Ready contract step 3)',
    driver: 'ack-before-persist',
    seedsMax: 10,
  },
  'apply-before-persist': {
    bug: 'committed entries are applied before the Ready\'s entries reach the disk',
    rule: 'apply after the entries are durable (rawnode.ts Ready contract steps 2 and 4)',
    driver: 'apply-before-persist',
    seedsMax: 10,
  },
  'read-before-apply': {
    bug: 'a read confirmed by ReadIndex is served before the state machine has applied up to its index',
    rule: 'serve a read once applied >= its read index (thesis §6.4)',
    driver: 'read-before-apply',
    seedsMax: 10,
  },
} satisfies Record<string, RaftMutant>;

export type RaftMutantName = keyof typeof raftMutants;
