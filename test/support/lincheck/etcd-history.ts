// Committed write histories for etcd traffic: derived from a linearisation, and used to
// settle requests whose outcome the client never learned ("patching", as etcd's robustness
// suite calls it).
import assert from 'node:assert';
import type { CommittedRevision, WatchEvent } from './watch-check.js';
import {
  applyEvents, applyRequest, EtcdState, readResults, writesOf,
  type EtcdInput, type EtcdOperation, type PutInput,
} from './etcd-store.js';

/**
 * The committed history implied by a linearisation: the events of each revision in op
 * order, for the watch validators. Unknown-outcome operations in the linearisation are
 * applied; absent ones were not.
 */
export function committedHistory(ops: readonly EtcdOperation[], linearization: readonly number[]): CommittedRevision[] {
  let state = EtcdState.empty();
  const history: CommittedRevision[] = [];
  for (const i of linearization) {
    const applied = applyRequest(state, ops[i].input);
    if (applied.events.length > 0) history.push({ revision: applied.state.revision, events: applied.events });
    state = applied.state;
  }
  return history;
}

export interface PatchOptions {
  /** The committed history (simulator ground truth, or a watch from revision 1). */
  history?: readonly CommittedRevision[];
  /** The history holds every write since revision 1 (no compaction, nothing missed). */
  historyComplete?: boolean;
}

/**
 * Settles unknown-outcome writes from what was observed. Requires every written
 * (key, value) pair to be unique in the history, which is asserted.
 * - From reads (and a partial history): a put whose value was seen at revision R took
 *   effect at R and gets output {revision: R}.
 * - From a complete history, which must hold every write since revision 1 and only writes
 *   of recorded requests: each revision no completed request reported was made by an
 *   unknown one. A revision only one unknown request can produce (replayed on the store as
 *   it was before) is attributed to it, repeatedly until nothing changes; the request gets
 *   the answer the replay gives. Unknown requests that can produce no unattributed
 *   revision changed nothing and are dropped.
 * - A settled write gets a return bound: it is linearised before the first read that saw
 *   its value returned, and before any completed request that reported R or later returned.
 * Every patch holds in every linearisation consistent with the given history, so verdicts
 * do not change as long as that history is the truth (simulator ground truth; a final watch
 * from revision 1, itself checked by the watch validators). The search gets much smaller
 * because settled writes no longer compete to fill revisions.
 */
export function patchUnknownWrites(ops: readonly EtcdOperation[], options: PatchOptions = {}): EtcdOperation[] {
  const history = options.history ?? [];
  const seen = observedWrites(ops, history);
  const bound = revisionBound(ops);
  const replay = options.historyComplete ? replayHistory(history) : null;
  const settled = replay ? attributeRevisions(ops, replay, bound) : settleFromReads(ops, seen);
  const patched: EtcdOperation[] = [];
  ops.forEach((op, i) => {
    const s = settled.get(i);
    if (s === undefined) patched.push(op);
    else if (s !== 'dropped') {
      const readBy = Math.min(...putsOf(op.input).map((w) => seen.get(pair(w.key, w.value))?.readBy ?? Infinity));
      // A bound before the call means the history is illegal; leave the return open then
      // and let the checker report it.
      const by = Math.min(readBy, bound(s.revision));
      patched.push({ ...op, output: s, return: by >= op.call ? by : Infinity });
    }
  });
  return patched;
}

type Settlement = NonNullable<EtcdOperation['output']> | 'dropped';

const isUnknownWrite = (op: EtcdOperation) => op.return === Infinity && op.output === undefined && op.input.type !== 'get';

/** Unknown puts whose value was seen get the revision it was seen at. */
function settleFromReads(ops: readonly EtcdOperation[], seen: Map<string, Observation>): Map<number, Settlement> {
  const settled = new Map<number, Settlement>();
  ops.forEach((op, i) => {
    if (!isUnknownWrite(op) || op.input.type !== 'put') return;
    const found = seen.get(pair(op.input.key, op.input.value));
    if (found) settled.set(i, { revision: found.revision });
  });
  return settled;
}

/**
 * Attributes each revision of a complete history that no completed request reported to
 * the one unknown request that can produce it (unit propagation: an attribution can make
 * another revision's choice unique).
 */
function attributeRevisions(ops: readonly EtcdOperation[], replay: Replay, bound: (revision: number) => number): Map<number, Settlement> {
  const reported = new Set<number>();
  for (const o of ops) if (o.return !== Infinity && o.output !== undefined && writesOf(o.input, o.output)) reported.add(o.output.revision);
  const unknown = ops.flatMap((op, i) => (isUnknownWrite(op) ? [i] : []));
  // For each unexplained revision, the unknown requests that could have made it.
  const candidates = new Map<number, Set<number>>();
  const answers = new Map<string, NonNullable<EtcdOperation['output']>>();
  for (const [revision, events] of replay.events) {
    if (reported.has(revision)) continue;
    const keys = new Set(events.map((e) => e.key));
    const fits = new Set<number>();
    for (const i of unknown) {
      const op = ops[i];
      if (op.call > bound(revision) || !touchesAll(op.input, keys)) continue;
      const applied = applyRequest(replay.states[revision - 1], op.input);
      if (applied.state.revision !== revision || !sameEvents(applied.events, events)) continue;
      fits.add(i);
      answers.set(`${i}@${revision}`, applied.output);
    }
    candidates.set(revision, fits);
  }
  const settled = new Map<number, Settlement>();
  for (let progress = true; progress;) {
    progress = false;
    for (const [revision, fits] of candidates) {
      if (fits.size !== 1) continue;
      const [i] = fits;
      settled.set(i, answers.get(`${i}@${revision}`)!);
      candidates.delete(revision);
      for (const other of candidates.values()) other.delete(i);
      progress = true;
    }
  }
  const stillPossible = new Set([...candidates.values()].flatMap((fits) => [...fits]));
  for (const i of unknown) if (!settled.has(i) && !stillPossible.has(i)) settled.set(i, 'dropped');
  return settled;
}

/** True when the request mentions every key in `keys` in some write. */
function touchesAll(input: EtcdInput, keys: ReadonlySet<string>): boolean {
  const writes = input.type === 'txn' ? [...input.success, ...input.failure].filter((w) => w.type !== 'get') : [input];
  return [...keys].every((k) => writes.some((w) => w.key === k));
}

function putsOf(input: EtcdInput): PutInput[] {
  const all = input.type === 'put' ? [input] : input.type === 'txn' ? [...input.success, ...input.failure] : [];
  return all.filter((w): w is PutInput => w.type === 'put');
}

function sameEvents(a: readonly WatchEvent[], b: readonly WatchEvent[]): boolean {
  return a.length === b.length && a.every((e, i) => e.type === b[i].type && e.key === b[i].key && (e.type === 'delete' || e.value === b[i].value));
}

interface Observation { revision: number; readBy: number }

/** Where each written (key, value) was observed: its revision, and the first read's return. */
function observedWrites(ops: readonly EtcdOperation[], history: readonly CommittedRevision[]): Map<string, Observation> {
  const writers = new Set<string>();
  for (const op of ops) {
    for (const id of new Set(putsOf(op.input).map((w) => pair(w.key, w.value)))) {
      assert(!writers.has(id), `patching needs unique written values; ${JSON.stringify(id)} is written twice`);
      writers.add(id);
    }
  }
  const seen = new Map<string, Observation>();
  const note = (key: string, value: string, revision: number, readBy: number) => {
    const old = seen.get(pair(key, value));
    seen.set(pair(key, value), { revision: old?.revision ?? revision, readBy: Math.min(old?.readBy ?? Infinity, readBy) });
  };
  for (const rev of history) for (const e of rev.events) if (e.type === 'put') note(e.key, e.value!, rev.revision, Infinity);
  for (const op of ops) {
    if (op.return === Infinity || op.output === undefined) continue;
    for (const [input, result] of readResults(op.input, op.output)) {
      if (result.value !== null) note(input.key, result.value, result.modRevision, op.return);
    }
  }
  return seen;
}

/**
 * For a revision R, the earliest return among completed requests that reported R or later:
 * whatever produced R was linearised before each of them.
 */
function revisionBound(ops: readonly EtcdOperation[]): (revision: number) => number {
  const done = ops.filter((o) => o.return !== Infinity && o.output !== undefined).map((o) => ({ revision: o.output!.revision, ret: o.return }));
  done.sort((a, b) => a.revision - b.revision);
  const suffixMin = new Array<number>(done.length + 1).fill(Infinity);
  for (let i = done.length - 1; i >= 0; i--) suffixMin[i] = Math.min(suffixMin[i + 1], done[i].ret);
  return (revision) => {
    let lo = 0;
    let hi = done.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (done[mid].revision < revision) lo = mid + 1;
      else hi = mid;
    }
    return suffixMin[lo];
  };
}

interface Replay {
  /** states[r]: the store at revision r. */
  states: EtcdState[];
  events: Map<number, readonly WatchEvent[]>;
}

/** Replays a complete history into the store at every revision; null if it has gaps. */
function replayHistory(history: readonly CommittedRevision[]): Replay | null {
  const states = [EtcdState.empty(), EtcdState.empty()];
  const events = new Map<number, readonly WatchEvent[]>();
  for (const rev of history) {
    if (rev.revision !== states.length) return null;
    const next = applyEvents(states[states.length - 1], rev.events);
    if (next.revision !== rev.revision) return null;
    states.push(next);
    events.set(rev.revision, rev.events);
  }
  return { states, events };
}

function pair(key: string, value: string): string {
  return `${key}\0${value}`;
}
