/**
 * The leader's (and candidate's) view of the cluster: the configuration
 * (voters and learners), a Progress per member, and the votes of the current
 * election.
 */
import assert from 'node:assert';
import type { ConfState } from '../../../proto/gen/etcdtspb/raft.js';
import { sortedIds } from '../messages.js';
import { MajorityConfig, VoteResult } from '../quorum/majority.js';
import { Progress } from './progress.js';

export interface TrackerConfig {
  voters: MajorityConfig;
  /** Members that receive the log but neither vote nor count for commit. */
  learners: ReadonlySet<bigint>;
}

export class ProgressTracker {
  config: TrackerConfig = { voters: new MajorityConfig(), learners: new Set() };
  progress = new Map<bigint, Progress>();
  votes = new Map<bigint, boolean>();

  constructor(readonly maxInflight: number) {}

  /** Installs a new configuration with its progress map, checking they agree. */
  switchTo(config: TrackerConfig, progress: Map<bigint, Progress>): void {
    for (const id of config.voters.ids) {
      assert(!config.learners.has(id), `member ${id} is both voter and learner`);
      assert(progress.get(id)?.isLearner === false, `voter ${id} has no voter progress`);
    }
    for (const id of config.learners) {
      assert(progress.get(id)?.isLearner === true, `learner ${id} has no learner progress`);
    }
    assert(progress.size === config.voters.size + config.learners.size, 'progress map has members outside the config');
    this.config = config;
    this.progress = progress;
  }

  confState(): ConfState {
    return { voters: this.config.voters.sorted(), learners: sortedIds(this.config.learners) };
  }

  isSingleton(): boolean {
    return this.config.voters.size === 1;
  }

  /** The largest index a majority of voters has in its log. */
  committed(): bigint {
    return this.config.voters.committedIndex((id) => this.progress.get(id)?.match);
  }

  /** Walks members in id order, so that the messages produced are deterministic. */
  visit(f: (id: bigint, pr: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) f(id, this.progress.get(id)!);
  }

  /** True if a majority of voters was heard from since the last check. */
  quorumActive(): boolean {
    const votes = new Map<bigint, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    }
    return this.config.voters.voteResult(votes) === VoteResult.VoteWon;
  }

  voterIds(): bigint[] {
    return this.config.voters.sorted();
  }

  learnerIds(): bigint[] {
    return sortedIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote; the first answer from a member counts, repeats are ignored. */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.config.voters.ids) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
