/**
 * Single-member configuration changes (Raft thesis §4.1): each change adds,
 * promotes, demotes or removes one member, so any majority of the old
 * configuration overlaps any majority of the new one and no joint consensus
 * is needed. The leader allows at most one unapplied change in its log
 * (see pendingConfIndex in raft.ts).
 *
 * Functions here are pure: they compute the next configuration and progress
 * map from the current ones without touching the tracker.
 */
import assert from 'node:assert';
import { ConfChangeType, type ConfChange, type ConfState } from '../../proto/gen/etcdtspb/raft.js';
import { maxBig, none, sortedIds } from './messages.js';
import { MajorityConfig } from './quorum/majority.js';
import { Progress } from './tracker/progress.js';
import type { ProgressTracker, TrackerConfig } from './tracker/tracker.js';

export interface ConfigAndProgress {
  config: TrackerConfig;
  progress: Map<bigint, Progress>;
}

interface Working {
  voters: Set<bigint>;
  learners: Set<bigint>;
  progress: Map<bigint, Progress>;
  lastIndex: bigint;
  maxInflight: number;
}

function copyOf(tracker: ProgressTracker, lastIndex: bigint): Working {
  // Progress objects are shared with the old map: a member that stays keeps
  // its replication state. Only new members get fresh ones.
  return {
    voters: new Set(tracker.config.voters.ids),
    learners: new Set(tracker.config.learners),
    progress: new Map(tracker.progress),
    lastIndex,
    maxInflight: tracker.maxInflight,
  };
}

function newProgress(w: Working, isLearner: boolean): Progress {
  // A new member is probed from the leader's last index; the probe walks
  // back (or turns into a snapshot) from there.
  return new Progress(maxBig(w.lastIndex, 1n), w.maxInflight, isLearner);
}

function makeVoter(w: Working, id: bigint): void {
  const pr = w.progress.get(id);
  if (pr === undefined) {
    w.progress.set(id, newProgress(w, false));
  } else if (pr.isLearner) {
    // Promotion keeps the learner's replication progress.
    pr.isLearner = false;
    w.learners.delete(id);
  }
  w.voters.add(id);
}

function makeLearner(w: Working, id: bigint): void {
  const pr = w.progress.get(id);
  if (pr === undefined) {
    w.progress.set(id, newProgress(w, true));
  } else if (!pr.isLearner) {
    pr.isLearner = true;
    w.voters.delete(id);
  }
  w.learners.add(id);
}

function remove(w: Working, id: bigint): void {
  w.voters.delete(id);
  w.learners.delete(id);
  w.progress.delete(id);
}

function finish(w: Working): ConfigAndProgress {
  assert(w.voters.size > 0, 'a configuration change must not remove the last voter');
  return { config: { voters: new MajorityConfig(w.voters), learners: w.learners }, progress: w.progress };
}

/**
 * The configuration after applying `cc`. A change with node id 0 is a no-op:
 * the application uses it to skip a committed change it refused to apply
 * (etcd does the same), so that every member still applies the entry.
 */
export function simpleChange(tracker: ProgressTracker, cc: ConfChange, lastIndex: bigint): ConfigAndProgress {
  const w = copyOf(tracker, lastIndex);
  if (cc.nodeId === none) return finish(w);
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
      makeVoter(w, cc.nodeId);
      break;
    case ConfChangeType.ConfChangeAddLearnerNode:
      makeLearner(w, cc.nodeId);
      break;
    case ConfChangeType.ConfChangeRemoveNode:
      remove(w, cc.nodeId);
      break;
    case ConfChangeType.ConfChangeUpdateNode:
      break;
    default:
      assert.fail(`unknown conf change type ${cc.type}`);
  }
  return finish(w);
}

/** Builds a configuration from a ConfState (at startup or from a snapshot). */
export function restoreConfState(tracker: ProgressTracker, cs: ConfState, lastIndex: bigint): ConfigAndProgress {
  const w: Working = {
    voters: new Set(),
    learners: new Set(),
    progress: new Map(),
    lastIndex,
    maxInflight: tracker.maxInflight,
  };
  for (const id of cs.voters) makeVoter(w, id);
  for (const id of cs.learners) {
    assert(!w.voters.has(id), `conf state lists ${id} as both voter and learner`);
    makeLearner(w, id);
  }
  if (w.voters.size === 0) {
    // A member that has not joined yet (no snapshot, no bootstrap) starts
    // with an empty configuration and waits to be contacted.
    assert(w.learners.size === 0, 'conf state has learners but no voters');
    return { config: { voters: new MajorityConfig(), learners: new Set() }, progress: w.progress };
  }
  return finish(w);
}

export function confStatesEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: bigint[], y: bigint[]): boolean => {
    const sx = sortedIds(x);
    const sy = sortedIds(y);
    return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
  };
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}
