// A linearizability checker for recorded histories, written from Wing & Gong (1993) and
// Lowe, "Testing for Linearizability" (2017): a depth-first search for a total order of the
// operations that respects real time and the sequential model, with the "just-in-time"
// candidate rule and memoisation of (set of linearised operations, model state) so that
// each configuration is explored once. Histories are split into independent parts when the
// model can partition them (P-compositionality, Horn & Kroening 2015).
//
// Operations whose outcome is unknown (return = Infinity: a write that timed out or failed
// in a way that may still take effect) are optional: each may be linearised at any point
// after its call, or never. "Never" is the "not applied" branch, so a model need not fork
// for it; the search tries unknown operations only after every completed candidate failed,
// which places them as late as possible and keeps them out of the way when nobody saw them.
//
// A model can speed the search up with optional hooks, none of which may change a verdict:
// read-only operations are linearised at once without alternatives (`isReadOnly`), dead
// branches are cut early (`reachable`, `changeAllowed`), facts of the whole history can
// prune (`prepare`), and a cheap scan can report common anomalies before any search
// (`quickCheck`). The search is deterministic; the clock is read only for the timeout.
import assert from 'node:assert';
import { performance } from 'node:perf_hooks';

export interface Operation<I, O> {
  clientId: number;
  input: I;
  output: O;
  /** When the client sent the request (any monotonic unit, e.g. ms). */
  call: number;
  /** When the client got the answer; Infinity when the outcome is unknown. */
  return: number;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * Every state the object may be in after applying `input` in `state` and answering
   * `output`; empty when that answer is impossible. A model must not mutate `state`.
   */
  step(state: S, input: I, output: O): S[];
  /** Canonical identity of a state: equal keys mean equal states. */
  key(state: S): string;
  /** Splits a history into parts that can be checked independently. */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  describeOperation?(input: I, output: O): string;
  describeState?(state: S): string;
  /**
   * True when this operation, answering `output`, leaves every state in which it is legal
   * unchanged (a read; a txn whose executed branch only reads). For an unknown outcome
   * (output undefined) it must hold whatever the outcome. The search drops unknown-outcome
   * reads and linearises a legal completed read at once, without alternatives.
   */
  isReadOnly?(input: I, output: O): boolean;
  /**
   * False when no sequence of steps from `state` can make this completed operation legal
   * (say, the store's revision has passed the one it reported; revisions never go back).
   * The search then abandons the branch at once instead of discovering it op by op; without
   * this, every unknown-outcome write is tried in every combination after the branch died.
   */
  reachable?(state: S, input: I, output: O): boolean;
  /**
   * False when no change of `state` right now can be part of a linearisation, given the
   * completed operations that may go next (say, one of them must see this very revision).
   * Lets the search skip trying every unknown-outcome operation at such a node.
   */
  changeAllowed?(state: S, next: readonly Operation<I, O>[]): boolean;
  /**
   * Called once per check with the whole history; may return a model specialised with
   * facts of this history that hold in every linearisation, to prune the search. It must
   * accept exactly the histories the general model accepts.
   */
  prepare?(ops: readonly Operation<I, O>[]): Model<S, I, O>;
  /**
   * A fast necessary condition run before the search: the description of a violation no
   * linearisation can avoid, or null. Common anomalies then fail fast and clearly.
   */
  quickCheck?(ops: readonly Operation<I, O>[]): string | null;
}

export type Verdict = 'ok' | 'illegal' | 'unknown';

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is 'unknown'. */
  timeoutMs?: number;
  /** Deterministic budget: search steps over all partitions (for seeded simulations). */
  stepsMax?: number;
  /** Memo entries kept per partition before giving up with 'unknown'. */
  memoEntriesMax?: number;
}

export interface CheckResult {
  verdict: Verdict;
  /**
   * For 'ok': indices into the given operations, in linearisation order. Unknown-outcome
   * operations that are absent were judged never applied. With several partitions this is
   * the concatenation of the per-partition orders (see `partitions`).
   */
  linearization?: number[];
  /** Per partition, the operation indices it covered and the order found (when 'ok'). */
  partitions: PartitionResult[];
  /** For 'illegal' / 'unknown': the longest linearisable prefix found in a failing part. */
  longestPrefix?: number[];
  explanation?: string;
  stats: { steps: number; memoEntries: number; elapsedMs: number };
}

export interface PartitionResult {
  verdict: Verdict;
  operations: number[];
  linearization?: number[];
  longestPrefix?: number[];
}

export const checkTimeoutMsDefault = 60_000;
export const memoEntriesMaxDefault = 2_000_000;
const budgetCheckIntervalSteps = 256;

export function checkOperations<S, I, O>(
  general: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult {
  const started = performance.now();
  const budget = new Budget(started, options);
  const indexOf = new Map<Operation<I, O>, number>();
  operations.forEach((op, i) => {
    assert(op.call <= op.return, `operation ${i}: return ${op.return} before call ${op.call}`);
    assert(Number.isFinite(op.call), `operation ${i}: call time must be finite`);
    assert(!indexOf.has(op), `operation ${i} is listed twice`);
    indexOf.set(op, i);
  });
  const violation = general.quickCheck?.(operations);
  if (violation) {
    const stats = { steps: 0, memoEntries: 0, elapsedMs: performance.now() - started };
    return { verdict: 'illegal', partitions: [], explanation: `history is not linearizable\n${violation}`, stats };
  }
  const model = general.prepare ? general.prepare(operations) : general;
  const parts = model.partition ? model.partition([...operations]) : [[...operations]];
  assert.equal(parts.reduce((n, p) => n + p.length, 0), operations.length, 'partitions must cover every operation once');
  const partitions: PartitionResult[] = [];
  let failing: { part: PartitionResult; search: Search<S, I, O> } | undefined;
  let steps = 0;
  let memoEntries = 0;
  for (const part of parts) {
    const indices = part.map((op) => {
      const i = indexOf.get(op);
      assert(i !== undefined, 'partition returned an operation that is not in the history');
      return i;
    });
    const search = new Search(model, operations, indices, budget, options.memoEntriesMax);
    const result = search.run();
    partitions.push(result);
    steps += search.steps;
    memoEntries += search.memoSize;
    if (result.verdict === 'illegal' || (result.verdict === 'unknown' && !failing)) {
      failing = { part: result, search };
    }
    if (result.verdict === 'illegal') break;
  }
  const stats = { steps, memoEntries, elapsedMs: performance.now() - started };
  if (!failing) {
    return { verdict: 'ok', linearization: partitions.flatMap((p) => p.linearization ?? []), partitions, stats };
  }
  return {
    verdict: failing.part.verdict,
    partitions,
    longestPrefix: failing.part.longestPrefix,
    explanation: failing.search.explain(failing.part.verdict),
    stats,
  };
}

/** Shared wall-clock and step budget across the partitions of one check. */
class Budget {
  private readonly deadline: number;
  private readonly stepsMax: number;
  private steps = 0;

  constructor(started: number, options: CheckOptions) {
    this.deadline = started + (options.timeoutMs ?? checkTimeoutMsDefault);
    this.stepsMax = options.stepsMax ?? Number.POSITIVE_INFINITY;
  }

  /** Counts one search step; false once the budget is spent. */
  spend(): boolean {
    this.steps++;
    if (this.steps > this.stepsMax) return false;
    // The clock is read only every few hundred steps: it is the search's only
    // non-deterministic input and it is comparatively slow.
    if (this.steps % budgetCheckIntervalSteps === 0 && performance.now() > this.deadline) return false;
    return true;
  }
}

/**
 * One entry of the event list: the call or the return of a completed operation, or the
 * call of an unknown-outcome one. Lifting an operation unlinks its entries in O(1) and
 * restoring relinks them ("dancing links"), so backtracking is cheap.
 */
interface Entry {
  op: number;
  isCall: boolean;
  time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** An operation that may be linearised next, with the states it leads to (lazy). */
interface Candidate<S> {
  entry: Entry;
  states: S[] | null;
}

/**
 * A node's candidates and how far they have been tried; pushed on the stack with the
 * operation linearised from it. `forced` marks a read taken without alternatives: if the
 * search fails after it, its node fails too (see `Search.expand`).
 */
interface Frame<S> {
  candidates: Candidate<S>[];
  /** The completed operations that may go next at this node. */
  window: number[];
  index: number;
  stateIndex: number;
  forced: boolean;
  prevState: S;
  prevKey: string;
}

/** The linearised prefix as an immutable list, so the best one is kept in O(1). */
interface PathNode<S> {
  op: number;
  state: S;
  depth: number;
  parent: PathNode<S> | null;
}

class Search<S, I, O> {
  steps = 0;
  /** The operations of this part (indices into `all`), minus unknown-outcome reads. */
  private readonly indices: number[];
  private readonly n: number;
  private readonly finite: boolean[];
  private readonly head: Entry;
  private readonly unknownHead: Entry;
  /** Each operation's call entry, indexed by operation. */
  private readonly calls: Entry[] = [];
  /** Unknown-outcome operations with equal input and output share a group. */
  private readonly groupOf: number[];
  private readonly zobrist: Uint32Array;
  private readonly memo = new Set<string>();
  private readonly memoMax: number;
  private readonly stack: Frame<S>[] = [];
  private state: S;
  private stateKey: string;
  private setHash = [0, 0, 0];
  private remainingFinite = 0;
  private path: PathNode<S> | null = null;
  private best: PathNode<S> | null = null;
  private bestDepth = 0;

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly all: readonly Operation<I, O>[],
    indices: number[],
    private readonly budget: Budget,
    memoMax: number | undefined,
  ) {
    // Unknown-outcome reads cannot influence anything: leave them out of the search.
    this.indices = indices.filter((i) => {
      const op = all[i];
      return op.return !== Infinity || !model.isReadOnly?.(op.input, op.output);
    });
    this.n = this.indices.length;
    this.finite = this.indices.map((i) => all[i].return !== Infinity);
    this.remainingFinite = this.finite.filter(Boolean).length;
    this.memoMax = memoMax ?? memoEntriesMaxDefault;
    this.zobrist = zobristTable(this.n);
    this.groupOf = this.groupIdentical();
    [this.head, this.unknownHead] = this.buildLists();
    this.state = model.init();
    this.stateKey = model.key(this.state);
  }

  get memoSize(): number {
    return this.memo.size;
  }

  private groupIdentical(): number[] {
    const ids = new Map<string, number>();
    return this.indices.map((i, op) => {
      const o = this.all[i];
      if (o.return !== Infinity) return -1 - op;
      const id = JSON.stringify([o.input, o.output], (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
      if (!ids.has(id)) ids.set(id, ids.size);
      return ids.get(id)!;
    });
  }

  private buildLists(): [Entry, Entry] {
    const entries: Entry[] = [];
    const unknown: Entry[] = [];
    for (let op = 0; op < this.n; op++) {
      const o = this.all[this.indices[op]];
      const call: Entry = { op, isCall: true, time: o.call, match: null, prev: null, next: null };
      this.calls.push(call);
      if (this.finite[op]) {
        const ret: Entry = { op, isCall: false, time: o.return, match: null, prev: null, next: null };
        call.match = ret;
        entries.push(call, ret);
      } else {
        unknown.push(call);
      }
    }
    // Calls sort before returns at equal times: operations that touch in time count as
    // concurrent, which is the permissive reading of real-time order.
    const order = (a: Entry, b: Entry) =>
      a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op;
    return [link(entries.sort(order)), link(unknown.sort(order))];
  }

  run(): PartitionResult {
    const operations = this.indices;
    if (this.remainingFinite === 0) return { verdict: 'ok', operations, linearization: [] };
    let frame: Frame<S> | null = null;
    for (;;) {
      if (!this.budget.spend() || this.memo.size > this.memoMax) {
        return { verdict: 'unknown', operations, longestPrefix: this.prefix(this.best) };
      }
      this.steps++;
      const advanced = frame ? this.resume(frame) : this.expand();
      if (advanced) {
        frame = null;
        if (this.remainingFinite === 0) {
          return { verdict: 'ok', operations, linearization: this.prefix(this.path) };
        }
        continue;
      }
      frame = this.backtrack();
      if (!frame) return { verdict: 'illegal', operations, longestPrefix: this.prefix(this.best) };
    }
  }

  /**
   * Lists the operations that may go next at the current node and linearises the first
   * that leads to an unseen configuration. A completed read-only operation (see
   * `Model.isReadOnly`) that is legal here is taken at once and without alternatives:
   * moving it to the front of any completion that exists keeps that completion valid,
   * because it changes no state wherever it is legal, and everything that must precede it
   * in real time is already linearised. (A write that happens to leave this state as it
   * is, such as writing the current value, does not qualify: elsewhere it would change it.)
   */
  private expand(): boolean {
    const candidates: Candidate<S>[] = [];
    const window: number[] = [];
    let entry = this.head.next;
    while (entry && entry.isCall) {
      if (!this.reachable(this.state, entry.op)) return false;
      const states = this.stepOp(entry.op);
      if (states.length > 0 && this.readOnly(entry.op)) {
        assert(states.length === 1 && this.model.key(states[0]) === this.stateKey, 'a read-only operation changed the state');
        return this.push({ candidates: [], window, index: 0, stateIndex: 0, forced: true, prevState: this.state, prevKey: this.stateKey }, entry, states[0]);
      }
      if (states.length > 0) candidates.push({ entry, states });
      window.push(entry.op);
      entry = entry.next;
    }
    assert(entry, 'a completed operation is pending, so its return entry must be listed');
    if (this.unknownHead.next && this.changeAllowed(window)) candidates.push(...this.unknownCandidates(entry.time));
    return this.resume({ candidates, window, index: 0, stateIndex: 0, forced: false, prevState: this.state, prevKey: this.stateKey });
  }

  /**
   * Unknown-outcome operations called by `deadline` (the first pending return). They go
   * after the completed candidates, newest first: a lost request that took effect usually
   * did so soon after it was sent, while old ones that never did pile up.
   */
  private unknownCandidates(deadline: number): Candidate<S>[] {
    const unknown: Candidate<S>[] = [];
    const groups = new Set<number>();
    for (let u = this.unknownHead.next; u && u.time <= deadline; u = u.next) {
      // Identical unknown-outcome requests are interchangeable: any linearisation can be
      // rearranged so that the earlier-called one goes first (swapping two identical
      // requests keeps every state, and the earlier call fits wherever the later one did).
      // So only the earliest pending request of each group is a candidate.
      const group = this.groupOf[u.op];
      if (groups.has(group)) continue;
      groups.add(group);
      unknown.push({ entry: u, states: null });
    }
    return unknown.reverse();
  }

  /** Tries the node's candidates from the frame's position on. */
  private resume(frame: Frame<S>): boolean {
    for (; frame.index < frame.candidates.length; frame.index++, frame.stateIndex = 0) {
      const candidate = frame.candidates[frame.index];
      candidate.states ??= this.unknownStates(candidate.entry.op, frame.window);
      for (; frame.stateIndex < candidate.states.length; frame.stateIndex++) {
        if (this.push(frame, candidate.entry, candidate.states[frame.stateIndex])) return true;
      }
    }
    return false;
  }

  /**
   * States an unknown-outcome operation can lead to, minus "no effect" (never applying it)
   * and minus states in which a completed operation that may go next could never happen.
   */
  private unknownStates(op: number, window: number[]): S[] {
    return this.stepOp(op).filter((s) => this.model.key(s) !== this.stateKey && window.every((w) => this.reachable(s, w)));
  }

  private readOnly(op: number): boolean {
    const o = this.all[this.indices[op]];
    return this.model.isReadOnly?.(o.input, o.output) ?? false;
  }

  private changeAllowed(window: number[]): boolean {
    if (!this.model.changeAllowed) return true;
    return this.model.changeAllowed(this.state, window.map((op) => this.all[this.indices[op]]));
  }

  private reachable(state: S, op: number): boolean {
    if (!this.model.reachable) return true;
    const o = this.all[this.indices[op]];
    return this.model.reachable(state, o.input, o.output);
  }

  private stepOp(op: number): S[] {
    const o = this.all[this.indices[op]];
    return this.model.step(this.state, o.input, o.output);
  }

  /** Linearises `entry`'s operation into `next` unless that configuration was seen. */
  private push(frame: Frame<S>, entry: Entry, next: S): boolean {
    const op = entry.op;
    const nextKey = this.model.key(next);
    const z = this.zobrist;
    const h0 = this.setHash[0] ^ z[3 * op];
    const h1 = this.setHash[1] ^ z[3 * op + 1];
    const h2 = this.setHash[2] ^ z[3 * op + 2];
    const depth = (this.path?.depth ?? 0) + 1;
    const memoKey = `${h0},${h1},${h2},${depth}|${nextKey}`;
    if (this.memo.has(memoKey)) return false;
    this.memo.add(memoKey);
    this.setHash = [h0, h1, h2];
    lift(entry);
    if (this.finite[op]) this.remainingFinite--;
    this.stack.push(frame);
    this.state = next;
    this.stateKey = nextKey;
    this.path = { op, state: next, depth, parent: this.path };
    if (depth > this.bestDepth) {
      this.bestDepth = depth;
      this.best = this.path;
    }
    return true;
  }

  /**
   * Undoes linearisations until a node with untried candidates is reached. Returns its
   * frame positioned at the next candidate state, or null when the root is exhausted.
   */
  private backtrack(): Frame<S> | null {
    for (;;) {
      const frame = this.stack.pop();
      if (!frame) return null;
      const node = this.path;
      assert(node, 'stack and path have the same depth');
      unlift(this.calls[node.op]);
      if (this.finite[node.op]) this.remainingFinite++;
      const z = this.zobrist;
      this.setHash = [this.setHash[0] ^ z[3 * node.op], this.setHash[1] ^ z[3 * node.op + 1], this.setHash[2] ^ z[3 * node.op + 2]];
      this.state = frame.prevState;
      this.stateKey = frame.prevKey;
      this.path = node.parent;
      if (frame.forced) continue;
      frame.stateIndex++;
      return frame;
    }
  }

  private prefix(node: PathNode<S> | null): number[] {
    const ops: number[] = [];
    for (let p = node; p; p = p.parent) ops.push(this.indices[p.op]);
    return ops.reverse();
  }

  explain(verdict: Verdict): string {
    return explainFailure(this.model, this.all, this.indices, this.best, verdict);
  }
}

/** Links entries behind a sentinel head and returns the head. */
function link(entries: Entry[]): Entry {
  const head: Entry = { op: -1, isCall: false, time: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function unlink(e: Entry): void {
  assert(e.prev, 'a listed entry has a predecessor (at least the head)');
  e.prev.next = e.next;
  if (e.next) e.next.prev = e.prev;
}

/** Relinks an entry between the neighbours it had when unlinked (LIFO order only). */
function relink(e: Entry): void {
  assert(e.prev, 'an unlinked entry remembers its predecessor');
  e.prev.next = e;
  if (e.next) e.next.prev = e;
}

function lift(call: Entry): void {
  unlink(call);
  if (call.match) unlink(call.match);
}

function unlift(call: Entry): void {
  if (call.match) relink(call.match);
  relink(call);
}

/**
 * Random 96-bit tags per operation (Zobrist hashing): the XOR of the tags of the
 * linearised operations identifies the set in O(1) per step. Together with the set's size
 * and the model's exact state key, two different configurations collide with probability
 * about 2^-96 per pair. The generator is seeded so that runs are reproducible.
 */
function zobristTable(n: number): Uint32Array {
  const table = new Uint32Array(3 * n);
  let seed = 0x9e3779b9;
  for (let i = 0; i < table.length; i++) {
    // splitmix32
    seed = (seed + 0x9e3779b9) | 0;
    let z = seed;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    table[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return table;
}

const explainOpsMax = 8;

/**
 * Describes where the search got stuck: the longest linearisable prefix, the state after
 * it, and why each operation that could go next does not fit.
 */
function explainFailure<S, I, O>(
  model: Model<S, I, O>,
  all: readonly Operation<I, O>[],
  indices: number[],
  best: PathNode<S> | null,
  verdict: Verdict,
): string {
  const prefix: number[] = [];
  for (let p = best; p; p = p.parent) prefix.push(indices[p.op]);
  prefix.reverse();
  const state = best ? best.state : model.init();
  const done = new Set(prefix);
  const pending = indices.filter((i) => !done.has(i));
  const finitePending = pending.filter((i) => all[i].return !== Infinity);
  const lines: string[] = [];
  const unknownCount = indices.filter((i) => all[i].return === Infinity).length;
  lines.push(
    verdict === 'illegal'
      ? 'history is not linearizable'
      : 'the search ran out of budget before reaching a verdict',
    `longest linearizable prefix: ${prefix.length} of ${indices.length} operations (${unknownCount} with unknown outcome)`,
  );
  if (prefix.length > 0) {
    lines.push('last operations of that prefix:');
    for (const i of prefix.slice(-explainOpsMax / 2)) lines.push(`  ${describeOp(model, all, i)}`);
  }
  lines.push(`state after it: ${model.describeState ? model.describeState(state) : model.key(state)}`);
  if (finitePending.length === 0) return lines.join('\n');
  const deadline = Math.min(...finitePending.map((i) => all[i].return));
  const window = pending.filter((i) => all[i].call <= deadline).slice(0, explainOpsMax);
  lines.push('operations that could go next, none of which leads to a full linearization:');
  for (const i of window) {
    const o = all[i];
    const fits = model.step(state, o.input, o.output).length > 0;
    const why = fits ? 'fits this state, but the rest of the history cannot follow it' : 'impossible in this state';
    lines.push(`  ${describeOp(model, all, i)}: ${why}`);
  }
  return lines.join('\n');
}

export function describeOp<S, I, O>(model: Model<S, I, O>, all: readonly Operation<I, O>[], i: number): string {
  const o = all[i];
  const what = model.describeOperation ? model.describeOperation(o.input, o.output) : `${JSON.stringify(o.input)} -> ${JSON.stringify(o.output)}`;
  const ret = o.return === Infinity ? 'unknown' : formatTime(o.return);
  return `#${i} client ${o.clientId} [${formatTime(o.call)}, ${ret}] ${what}`;
}

function formatTime(t: number): string {
  return Number.isInteger(t) ? String(t) : t.toFixed(3);
}
