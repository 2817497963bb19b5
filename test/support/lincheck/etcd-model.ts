// The etcd model for the linearizability checker, and what it can learn from a history.
//
// Semantics are those of `etcd-store.ts` (etcd v3 KV with revisions). An operation with
// unknown outcome (output undefined) forks into "applied" and "not applied"; the checker
// treats an unknown-outcome operation that is never linearised as not applied and skips
// that branch when linearising it, so the fork costs nothing.
//
// Checking a history (`checkOperations(etcdModel, ops)`) first runs `quickCheck`, which finds
// the common anomalies (stale or lost reads, revisions going back, two writes at one
// revision) in O(n log n) with a precise message, then searches with a model specialised to
// the history (`prepare`): an unknown-outcome write is only tried at revisions that the
// completed operations leave open. Both use only facts that hold in every linearisation,
// so verdicts are the same as with the plain model, only faster.
import type { Model } from './checker.js';
import type { CommittedRevision, WatchEvent } from './watch-check.js';
import {
  applyRequest, describeRequest, describeStore, EtcdState, isReadOnlyRequest, outputsEqual, readResults, revisionPlausible, writesOf,
  type DeleteOutput, type EtcdInput, type EtcdOperation, type EtcdOutput, type GetOutput, type TxnOutput,
} from './etcd-store.js';

export * from './etcd-store.js';
export * from './etcd-history.js';

type EtcdModel = Model<EtcdState, EtcdInput, EtcdOutput | undefined>;

/** The model; `facts` (from the history being checked) only prune the search. */
function createEtcdModel(facts?: HistoryFacts): EtcdModel {
  return {
    init: () => EtcdState.empty(),
    step(state, input, output) {
      // Cheap rejection first: most candidates the search tries fail on the revision.
      if (output && !revisionPlausible(state, input, output)) return [];
      const applied = applyRequest(state, input);
      if (output !== undefined) return outputsEqual(applied.output, output) ? [applied.state] : [];
      if (applied.state === state) return [state];
      // An unknown-outcome write can only have taken effect where the completed operations
      // leave room for it; elsewhere only "not applied" remains.
      if (facts && !facts.allows(applied.state.revision, applied.events)) return [state];
      return [applied.state, state];
    },
    key: (state) => state.key,
    // Revisions never go back: a response that reported revision R cannot be linearised once
    // the store is past R (or at R, for a put, which always writes).
    reachable: (state, input, output) =>
      output === undefined || (input.type === 'put' ? output.revision > state.revision : output.revision >= state.revision),
    // Every change of the store increments the revision, so none may happen while a
    // completed operation that may go next needs the current one, nor when a completed
    // write produced the next revision (only it can).
    changeAllowed: (state, next) => {
      const after = state.revision + 1;
      if (facts?.writers.has(after)) return false;
      return next.every((o) => o.output === undefined || (o.input.type === 'put' ? o.output.revision > after : o.output.revision >= after));
    },
    isReadOnly: isReadOnlyRequest,
    describeOperation: describeRequest,
    describeState: describeStore,
  };
}

/** etcd's KV semantics for `checkOperations`. */
export const etcdModel: EtcdModel = {
  ...createEtcdModel(),
  prepare: (ops) => createEtcdModel(factsOf(ops)),
  quickCheck: quickCheckEtcd,
};

/** The facts of a history, built once for the quick check and the search of one check. */
const factsCache = new WeakMap<readonly EtcdOperation[], HistoryFacts>();

function factsOf(ops: readonly EtcdOperation[]): HistoryFacts {
  let facts = factsCache.get(ops);
  if (!facts) factsCache.set(ops, (facts = new HistoryFacts(ops)));
  return facts;
}

/** The same model without the history-based shortcuts: the reference for cross-checks. */
export const plainEtcdModel: EtcdModel = createEtcdModel();

/**
 * What every linearisation must respect, read off the completed operations of a history:
 * which revisions completed writes produced, and what completed reads saw of each key.
 */
export class HistoryFacts {
  /** Revision -> the completed write that produced it. */
  readonly writers = new Map<number, number>();
  /** Key -> completed writes of it, by revision. */
  readonly writesByKey = new Map<string, { revision: number; op: number; value?: string }[]>();
  /** Key -> completed reads of it, by revision. */
  readonly readsByKey = new Map<string, KeyReads>();
  /**
   * When no two requests put the same value into the same key (etcd's robustness traffic
   * and our generators make values unique), each (key, value) has one writer, and a read
   * that saw it pins that writer: `writerOf` and `seenAt` hold those facts. Otherwise both
   * are empty and only value-free facts are used.
   */
  readonly writerOf = new Map<string, number>();
  readonly seenAt = new Map<string, number>();

  constructor(readonly ops: readonly EtcdOperation[]) {
    const reads = new Map<string, { revision: number; op: number; value: string | null; modRevision: number }[]>();
    ops.forEach((o, op) => {
      if (o.return === Infinity || o.output === undefined) return;
      const wrote = writesOf(o.input, o.output);
      if (wrote && !this.writers.has(wrote.revision)) this.writers.set(wrote.revision, op);
      for (const w of wrote?.keys ?? []) listFor(this.writesByKey, w.key).push({ revision: wrote!.revision, op, value: w.value });
      if (!isReadOnlyRequest(o.input, o.output)) return;
      for (const [get, result] of readResults(o.input, o.output)) {
        listFor(reads, get.key).push({ revision: o.output.revision, op, ...result });
      }
    });
    for (const list of this.writesByKey.values()) list.sort((a, b) => a.revision - b.revision);
    for (const [key, list] of reads) this.readsByKey.set(key, new KeyReads(list));
    if (this.indexWriters()) {
      for (const [key, list] of reads) {
        for (const r of list) if (r.value !== null && !this.seenAt.has(pair(key, r.value))) this.seenAt.set(pair(key, r.value), r.modRevision);
      }
    }
  }

  /** Fills `writerOf` when every written (key, value) has one writer; false otherwise. */
  private indexWriters(): boolean {
    for (let op = 0; op < this.ops.length; op++) {
      const input = this.ops[op].input;
      const puts = input.type === 'put' ? [input] : input.type === 'txn' ? [...input.success, ...input.failure] : [];
      for (const w of puts) {
        if (w.type !== 'put') continue;
        const id = pair(w.key, w.value);
        const other = this.writerOf.get(id);
        if (other !== undefined && other !== op) {
          this.writerOf.clear();
          return false;
        }
        this.writerOf.set(id, op);
      }
    }
    return true;
  }

  /**
   * Whether a write producing `events` at `revision` fits the completed operations: no
   * completed write produced that revision; no completed read of a written key, at or
   * after it, saw an older incarnation (mod revisions only grow while a key exists) or saw
   * something else written at exactly that revision; and, with unique values, no read saw
   * a value it puts written at another revision.
   */
  allows(revision: number, events: readonly WatchEvent[]): boolean {
    if (this.writers.has(revision)) return false;
    for (const e of events) {
      if (e.type === 'put') {
        const seen = this.seenAt.get(pair(e.key, e.value!));
        if (seen !== undefined && seen !== revision) return false;
      }
      const reads = this.readsByKey.get(e.key);
      if (!reads) continue;
      if (reads.minModFrom(revision) < revision) return false;
      const seen = reads.valueAtMod.get(revision);
      if (seen !== undefined && (e.type === 'delete' || seen !== e.value)) return false;
    }
    return true;
  }
}

function pair(key: string, value: string): string {
  return `${key}\0${value}`;
}

/** Completed reads of one key, sorted by revision, answering "oldest mod seen from R on". */
class KeyReads {
  private readonly revisions: number[];
  private readonly suffixMinMod: number[];
  /** Mod revision -> the value a read saw written at it. */
  readonly valueAtMod = new Map<number, string>();

  constructor(reads: { revision: number; value: string | null; modRevision: number }[]) {
    reads.sort((a, b) => a.revision - b.revision);
    this.revisions = reads.map((r) => r.revision);
    this.suffixMinMod = new Array<number>(reads.length);
    let min = Infinity;
    for (let i = reads.length - 1; i >= 0; i--) {
      if (reads[i].value !== null) min = Math.min(min, reads[i].modRevision);
      this.suffixMinMod[i] = min;
    }
    for (const r of reads) if (r.value !== null && !this.valueAtMod.has(r.modRevision)) this.valueAtMod.set(r.modRevision, r.value);
  }

  /** The smallest mod revision a read at revision >= `revision` saw the key present at. */
  minModFrom(revision: number): number {
    const i = lowerBound(this.revisions, revision);
    return i < this.suffixMinMod.length ? this.suffixMinMod[i] : Infinity;
  }
}

/**
 * Finds, in O(n log n), violations that no linearisation can avoid:
 * - a completed request reports a lower revision than one that returned before it was
 *   called (or the same, when it wrote): revisions only grow along real time;
 * - two completed writes report the same revision;
 * - a read saw a key at mod revision m at read revision R while a completed write of that
 *   key produced a revision in (m, R], or while the write that produced m wrote otherwise.
 * Returns a description of the first one found, or null.
 */
export function quickCheckEtcd(ops: readonly EtcdOperation[]): string | null {
  for (const i of completed(ops)) {
    const problem = malformed(ops[i] as Completed);
    if (problem) return `${describeAt(ops, i)} is impossible in any state: ${problem}`;
  }
  const facts = factsOf(ops);
  return revisionsFollowRealTime(ops) ?? writesHaveDistinctRevisions(ops, facts) ?? readsFitWrites(ops, facts);
}

/** Why an answer cannot come from any store, or null (shape and range checks only). */
function malformed(o: Completed): string | null {
  const out = o.output;
  if (!Number.isInteger(out.revision) || out.revision < 1) return 'revisions start at 1';
  const input = o.input;
  if (input.type === 'put') return out.revision < 2 ? 'a put makes revision 2 or later' : null;
  if (input.type === 'get') return malformedRead(out as GetOutput, out.revision);
  if (input.type === 'delete') return malformedDelete(out as DeleteOutput, out.revision);
  const txnOut = out as TxnOutput;
  const branch = txnOut.succeeded ? input.success : input.failure;
  if (!Array.isArray(txnOut.results) || txnOut.results.length !== branch.length) {
    return `the ${txnOut.succeeded ? 'success' : 'failure'} branch has ${branch.length} ops but ${txnOut.results?.length} results`;
  }
  for (let i = 0; i < branch.length; i++) {
    const r = txnOut.results[i] as Partial<GetOutput & DeleteOutput>;
    const kind = 'value' in r ? 'get' : 'deleted' in r ? 'delete' : 'put';
    if (kind !== branch[i].type) return `result ${i} answers a ${kind}, but op ${i} is a ${branch[i].type}`;
    const problem = kind === 'get' ? malformedRead(r as GetOutput, out.revision) : kind === 'delete' ? malformedDelete(r as DeleteOutput, out.revision) : null;
    if (problem) return `result ${i}: ${problem}`;
  }
  return writesOf(input, out) && out.revision < 2 ? 'a write makes revision 2 or later' : null;
}

function malformedRead(r: Pick<GetOutput, 'value' | 'modRevision'>, revision: number): string | null {
  if (r.value === null) return r.modRevision === 0 ? null : 'a missing key has mod revision 0';
  return r.modRevision >= 2 && r.modRevision <= revision ? null : `mod revision ${r.modRevision} outside 2..${revision}`;
}

function malformedDelete(r: Pick<DeleteOutput, 'deleted'>, revision: number): string | null {
  if (r.deleted !== 0 && r.deleted !== 1) return 'a single-key delete deletes 0 or 1 keys';
  return r.deleted === 1 && revision < 2 ? 'a delete makes revision 2 or later' : null;
}

type Completed = EtcdOperation & { output: EtcdOutput };

function completed(ops: readonly EtcdOperation[]): number[] {
  return ops.flatMap((o, i) => (o.return !== Infinity && o.output !== undefined ? [i] : []));
}

function revisionsFollowRealTime(ops: readonly EtcdOperation[]): string | null {
  const done = completed(ops);
  const byReturn = [...done].sort((a, b) => ops[a].return - ops[b].return);
  const byCall = [...done].sort((a, b) => ops[a].call - ops[b].call);
  let j = 0;
  let latest = -1;
  for (const b of byCall) {
    const later = ops[b] as Completed;
    while (j < byReturn.length && ops[byReturn[j]].return < later.call) {
      const a = byReturn[j++];
      if (latest < 0 || (ops[a] as Completed).output.revision > (ops[latest] as Completed).output.revision) latest = a;
    }
    if (latest < 0) continue;
    const before = (ops[latest] as Completed).output.revision;
    const wrote = writesOf(later.input, later.output) !== null;
    if (later.output.revision < before || (wrote && later.output.revision === before)) {
      return `${describeAt(ops, b)} reports revision ${later.output.revision}, but ${describeAt(ops, latest)} returned before it was called`;
    }
  }
  return null;
}

function writesHaveDistinctRevisions(ops: readonly EtcdOperation[], facts: HistoryFacts): string | null {
  for (const i of completed(ops)) {
    const o = ops[i] as Completed;
    const wrote = writesOf(o.input, o.output);
    const first = wrote ? facts.writers.get(wrote.revision) : undefined;
    if (first !== undefined && first !== i) {
      return `two writes produced revision ${wrote!.revision}: ${describeAt(ops, first)} and ${describeAt(ops, i)}`;
    }
  }
  return null;
}

function readsFitWrites(ops: readonly EtcdOperation[], facts: HistoryFacts): string | null {
  for (const i of completed(ops)) {
    const o = ops[i] as Completed;
    if (!isReadOnlyRequest(o.input, o.output)) continue;
    for (const [get, seen] of readResults(o.input, o.output)) {
      if (seen.value === null) continue;
      const writes = facts.writesByKey.get(get.key) ?? [];
      const next = writes[upperBound(writes, seen.modRevision)];
      const newer = next && next.revision <= o.output.revision ? next : undefined;
      if (newer) {
        return `${describeAt(ops, i)} saw ${get.key} as written at revision ${seen.modRevision}, but ${describeAt(ops, newer.op)} wrote it at revision ${newer.revision}`;
      }
      const writer = facts.writers.get(seen.modRevision);
      const w = writer === undefined ? undefined : ops[writer] as Completed;
      if (writer !== undefined && w && !writesOf(w.input, w.output)!.keys.some((k) => k.key === get.key && k.value === seen.value)) {
        return `${describeAt(ops, i)} saw ${get.key}=${JSON.stringify(seen.value)} written at revision ${seen.modRevision}, but that revision was ${describeAt(ops, writer)}`;
      }
      const unique = valueFromItsWriter(ops, facts, i, get.key, seen);
      if (unique) return unique;
    }
  }
  return null;
}

/** With unique values: the value read was written by someone, at the revision it shows. */
function valueFromItsWriter(ops: readonly EtcdOperation[], facts: HistoryFacts, reader: number, key: string, seen: { value: string | null; modRevision: number }): string | null {
  if (facts.writerOf.size === 0 || seen.value === null) return null;
  const writer = facts.writerOf.get(pair(key, seen.value));
  if (writer === undefined) return `${describeAt(ops, reader)} saw ${key}=${JSON.stringify(seen.value)}, which no request wrote`;
  const w = ops[writer];
  const at = w.return !== Infinity && w.output !== undefined ? writesOf(w.input, w.output)?.revision : undefined;
  if (at !== undefined && at !== seen.modRevision) {
    return `${describeAt(ops, reader)} saw ${key}=${JSON.stringify(seen.value)} written at revision ${seen.modRevision}, but its only writer ${describeAt(ops, writer)} produced revision ${at}`;
  }
  if (ops[writer].call > ops[reader].return) {
    return `${describeAt(ops, reader)} saw ${key}=${JSON.stringify(seen.value)} before its only writer ${describeAt(ops, writer)} was called`;
  }
  return null;
}

function describeAt(ops: readonly EtcdOperation[], i: number): string {
  const o = ops[i];
  const ret = o.return === Infinity ? 'unknown' : o.return.toFixed(3);
  return `#${i} (client ${o.clientId}, [${o.call.toFixed(3)}, ${ret}]) ${describeRequest(o.input, o.output)}`;
}

function listFor<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}

/** The first index of a write with revision > `x`, in writes sorted by revision. */
function upperBound(sorted: readonly { revision: number }[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].revision <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose value is >= `x` in an ascending array. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
