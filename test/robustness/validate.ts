import { checkOperations } from '../support/lincheck/checker.js';
import {
  applyEvents, committedHistory, EtcdState, etcdModel, patchUnknownWrites, writesOf,
  type EtcdOperation, type KeyValue,
} from '../support/lincheck/etcd-model.js';
import { formatViolations, mergeWatchHistories, validateWatches, type CommittedRevision, type WatchEvent, type WatchGuarantee, type WatchStream } from '../support/lincheck/watch-check.js';
import { checkLeases, type LeaseViolation } from './leases.js';
import type { LeaseRecord } from './traffic.js';

/**
 * The end-of-run validation (etcd's tests/robustness/validate): the history is
 * linearizable, the six watch guarantees hold for every watch, every
 * acknowledged write is in the committed history at the revision it was
 * acknowledged with, every member holds exactly the state the history ends
 * in and reports the same HashKV, no lease ended early or left keys behind,
 * no member's revision went back, and no member crashed unless a failpoint
 * told it to.
 */
export interface MemberFinal {
  name: string;
  revision: number;
  /** Every key the member holds (a serializable read of the whole key space). */
  kvs: Map<string, KeyValue>;
  hash: number;
  /** The revision the hash was taken at. */
  hashRevision: number;
}

export interface ValidationInput {
  operations: EtcdOperation[];
  streams: WatchStream[];
  chains: WatchStream[][];
  /** The full watch's events in delivery order, and whether it missed nothing from revision 1 on. */
  fullWatch: { events: WatchEvent[]; complete: boolean };
  finals: MemberFinal[];
  leases: LeaseRecord[];
  probeViolations: string[];
  unexpectedCrashes: string[];
  checkerTimeoutMs: number;
}

export type ViolationClass =
  | 'linearizability' | 'checker-unknown' | `watch-${WatchGuarantee}` | 'acknowledged-write-lost' | 'member-state-differs'
  | 'hashkv-differs' | 'lease-early-expiry' | 'lease-orphan-keys' | 'revision-went-back' | 'unexpected-crash';

export interface ValidationReport {
  operations: { total: number; completed: number; unknown: number };
  /** Writes answered with success, each looked up in the committed history. */
  acknowledgedWrites: number;
  checkerMs: number;
  /** The full watch saw every revision: unknown outcomes were settled from it. */
  fullWatchComplete: boolean;
  violations: Partial<Record<ViolationClass, number>>;
  /** The first few messages per class, for the report and the failure message. */
  messages: string[];
}

const messagesPerClassMax = 5;

export function validate(input: ValidationInput): ValidationReport {
  const report: ValidationReport = { operations: { total: 0, completed: 0, unknown: 0 }, acknowledgedWrites: 0, checkerMs: 0, fullWatchComplete: false, violations: {}, messages: [] };
  const add = (kind: ViolationClass, messages: string[]): void => {
    if (messages.length === 0) return;
    report.violations[kind] = (report.violations[kind] ?? 0) + messages.length;
    report.messages.push(...messages.slice(0, messagesPerClassMax).map((m) => `[${kind}] ${m}`));
  };
  const ops = input.operations;
  report.operations = { total: ops.length, completed: ops.filter((o) => o.return !== Infinity).length, unknown: ops.filter((o) => o.return === Infinity).length };
  const full = groupByRevision(input.fullWatch.events);
  const complete = input.fullWatch.complete && gapless(full);
  const patched = patchUnknownWrites(ops, complete ? { history: full, historyComplete: true } : { history: full });
  const result = checkOperations(etcdModel, patched, { timeoutMs: input.checkerTimeoutMs });
  report.checkerMs = result.stats.elapsedMs;
  if (result.verdict === 'illegal') add('linearizability', [result.explanation ?? 'not linearizable']);
  if (result.verdict === 'unknown') add('checker-unknown', [result.explanation ?? 'the checker ran out of budget']);
  // The watches are checked against what the cluster committed: the complete full watch, or
  // without it what the watches saw together (etcd's fallback). Not against the linearisation:
  // when several requests of unknown outcome could each have made a revision (two deletes of
  // one key, say), it may pick the wrong one, which no read tells apart from the right one, and
  // every later event of those keys then "differs". The full watch itself is held to the
  // requests by the checks below (acknowledged writes, final states, HashKV).
  const linearized = result.linearization ? committedHistory(patched, result.linearization) : undefined;
  const history = complete ? full : mergeWatchHistories(input.streams);
  // What the cluster committed: the complete full watch (checked against the linearisation just
  // below), else the linearisation's own history.
  const truth = complete ? full : linearized ?? full;
  report.fullWatchComplete = complete;
  for (const v of validateWatches({ streams: input.streams, chains: input.chains, history })) add(`watch-${v.guarantee}`, [formatViolations([v])]);
  const acked = acknowledgedWrites(ops);
  report.acknowledgedWrites = acked.length;
  add('acknowledged-write-lost', lostWrites(acked, truth));
  const finalState = replay(truth);
  add('member-state-differs', input.finals.flatMap((m) => stateDiffs(m, finalState)));
  add('hashkv-differs', hashDiffs(input.finals));
  const leases: LeaseViolation[] = checkLeases(input.leases, patched, truth, finalState);
  add('lease-early-expiry', leases.filter((v) => v.kind === 'early-expiry').map((v) => v.message));
  add('lease-orphan-keys', leases.filter((v) => v.kind === 'orphan-keys').map((v) => v.message));
  add('revision-went-back', input.probeViolations);
  add('unexpected-crash', input.unexpectedCrashes);
  return report;
}

export function violationCount(report: ValidationReport): number {
  return Object.values(report.violations).reduce((a, b) => a + (b ?? 0), 0);
}

function groupByRevision(events: readonly WatchEvent[]): CommittedRevision[] {
  const out: CommittedRevision[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (last !== undefined && last.revision === e.modRevision) last.events.push(e);
    else out.push({ revision: e.modRevision, events: [e] });
  }
  return out;
}

/** Revisions 2, 3, ... each present once: every write since the store was empty. */
function gapless(history: readonly CommittedRevision[]): boolean {
  return history.every((r, i) => r.revision === i + 2);
}

interface AckedPut {
  key: string;
  value: string;
  revision: number;
  op: string;
}

function acknowledgedWrites(ops: readonly EtcdOperation[]): AckedPut[] {
  const out: AckedPut[] = [];
  ops.forEach((o, i) => {
    if (o.return === Infinity || o.output === undefined) return;
    const wrote = writesOf(o.input, o.output);
    for (const k of wrote?.keys ?? []) if (k.value !== undefined) out.push({ key: k.key, value: k.value, revision: wrote!.revision, op: `#${i} (client ${o.clientId})` });
  });
  return out;
}

function lostWrites(acked: readonly AckedPut[], history: readonly CommittedRevision[]): string[] {
  const at = new Map<string, string>();
  for (const r of history) for (const e of r.events) if (e.type === 'put') at.set(`${r.revision}\0${e.key}`, e.value!);
  return acked
    .filter((a) => at.get(`${a.revision}\0${a.key}`) !== a.value)
    .map((a) => `${a.op} put ${a.key}=${JSON.stringify(a.value)} was acknowledged at revision ${a.revision}, which committed ${JSON.stringify(at.get(`${a.revision}\0${a.key}`) ?? 'nothing for that key')}`);
}

function replay(history: readonly CommittedRevision[]): EtcdState {
  let state = EtcdState.empty();
  for (const r of history) state = applyEvents(state, r.events);
  return state;
}

function stateDiffs(member: MemberFinal, expected: EtcdState): string[] {
  const diffs: string[] = [];
  if (member.revision !== expected.revision) diffs.push(`${member.name} is at revision ${member.revision}, the history at ${expected.revision}`);
  const want = new Map(expected.entries());
  for (const [key, kv] of want) {
    const got = member.kvs.get(key);
    if (got === undefined) diffs.push(`${member.name} lacks ${key}=${JSON.stringify(kv.value)}@${kv.modRevision}`);
    else if (got.value !== kv.value || got.modRevision !== kv.modRevision || got.createRevision !== kv.createRevision || got.version !== kv.version) {
      diffs.push(`${member.name} holds ${key}=${JSON.stringify(got.value)} mod ${got.modRevision} create ${got.createRevision} version ${got.version}; the history ends with ${JSON.stringify(kv.value)} mod ${kv.modRevision} create ${kv.createRevision} version ${kv.version}`);
    }
  }
  for (const key of member.kvs.keys()) if (!want.has(key)) diffs.push(`${member.name} holds ${key}, which the history deleted or never wrote`);
  return diffs;
}

function hashDiffs(finals: readonly MemberFinal[]): string[] {
  const first = finals[0];
  if (first === undefined) return [];
  return finals
    .filter((m) => m.hashRevision !== first.hashRevision || m.hash !== first.hash)
    .map((m) => `${m.name} HashKV ${m.hash} at revision ${m.hashRevision}, ${first.name} ${first.hash} at revision ${first.hashRevision}`);
}
