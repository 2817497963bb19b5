import { clusterDefaults } from './cluster.js';
import { scenarioNamed, scenarios } from './faults.js';
import type { SessionSettings } from './session.js';
import { trafficDefaults } from './traffic.js';

/**
 * What a run is made of. The short profile (CI) runs every scenario once, in
 * four sessions of one cluster each, so that the tier fits its budget; the
 * long profile (on demand) gives every scenario a session of its own,
 * repeating its fault for the duration, and adds the chaos run.
 */
export type SessionPlan = Omit<SessionSettings, 'log'>;

const base = {
  durationMs: 0,
  writesBetweenFaults: 20,
  cluster: clusterDefaults,
  traffic: trafficDefaults,
  watches: { seed: 1, shortWatches: 2 },
  checkerTimeoutMs: 120_000,
} satisfies Omit<SessionPlan, 'name' | 'scenarios'>;

/** The short profile's sessions: every scenario exactly once. */
export const shortGroups: { name: string; scenarios: string[] }[] = [
  {
    name: 'process',
    scenarios: [
      'kill-leader', 'kill-follower', 'pause-leader', 'stall-wal-fsync', 'stall-backend-commit',
      'failpoint-raftBeforeSave', 'failpoint-raftAfterSave', 'failpoint-walBeforeSync', 'failpoint-walAfterSync',
      'failpoint-beforeCommit', 'failpoint-afterCommit', 'failpoint-applyBeforeRequest', 'failpoint-raftBeforeLeaderSend',
      'failpoint-raftBeforeFollowerSend', 'failpoint-beforeSendWatchResponse', 'power-loss',
    ],
  },
  {
    name: 'network',
    scenarios: [
      'blackhole-leader', 'blackhole-follower', 'delay-peers', 'drop-peers', 'blackhole-until-snapshot',
      'failpoint-raftBeforeSaveSnap', 'failpoint-raftAfterSaveSnap', 'failpoint-raftBeforeReceiveSnapRename',
      'failpoint-raftBeforeApplySnap', 'failpoint-raftAfterApplySnap',
    ],
  },
  {
    name: 'storage',
    scenarios: [
      'failpoint-snapBeforeRename', 'failpoint-snapAfterSave', 'failpoint-walBeforeCut', 'failpoint-walAfterCut', 'failpoint-walBeforePurge',
      'compaction', 'failpoint-compactBeforeCommitBatch', 'failpoint-compactAfterCommitBatch',
      'failpoint-compactBeforeSetFinishedCompact', 'failpoint-compactAfterSetFinishedCompact',
      'defrag', 'failpoint-defragBeforeCopy', 'failpoint-defragBeforeRename',
    ],
  },
  {
    name: 'membership',
    scenarios: ['failpoint-beforeApplyOneConfChange', 'member-replace', 'member-replace-wal-create', 'disaster-recovery', 'power-loss-cluster'],
  },
];

export function shortProfile(seed: number): SessionPlan[] {
  const covered = new Set(shortGroups.flatMap((g) => g.scenarios));
  const missing = scenarios.map((s) => s.name).filter((n) => !covered.has(n));
  if (missing.length > 0) throw new Error(`scenarios in no short-profile session: ${missing.join(', ')}`);
  return shortGroups.map((g, i) => plan(`short/${g.name}`, g.scenarios, seed + i));
}

/** The long profile: each scenario alone for `durationMs`, then the chaos run. */
export function longProfile(seed: number, durationMs: number, chaosMs: number): SessionPlan[] {
  const each = scenarios.map((s, i) => ({ ...plan(`long/${s.name}`, [s.name], seed + i), durationMs }));
  return [...each, chaosPlan(seed, chaosMs)];
}

/** The leader killed every 5 s under 1,000 writes/s offered (reliability-anchors §8 row 3, EXT). */
export function chaosPlan(seed: number, durationMs: number): SessionPlan {
  return {
    ...plan('chaos/kill-leader-every-5s', ['kill-leader'], seed),
    durationMs,
    faultIntervalMs: 5000,
    writesBetweenFaults: 1,
    // 32 clients, 1,111 requests/s of which 90% write: 1,000 writes/s offered.
    traffic: { ...trafficDefaults, seed, kvClients: 32, leaseClients: 2, requestsPerSecond: 1111, writeShare: 0.9 },
  };
}

export function plan(name: string, names: string[], seed: number): SessionPlan {
  return { ...base, name, scenarios: names.map(scenarioNamed), traffic: { ...trafficDefaults, seed }, watches: { seed, shortWatches: 2 } };
}
