// A sequential etcd KV store with revisions: the reference the checker's model is built on.
//
// Semantics follow etcd v3 (`etcd v3.4.23:etcdserver/apply.go`, `mvcc/kvstore_txn.go`):
// - an empty store is at revision 1; every write request (put, delete of an existing key,
//   txn with at least one effective write) increments the revision by exactly one, however
//   many keys it writes;
// - a key's modRevision is the revision of its last write, createRevision the revision
//   that created its current incarnation, version the number of writes since creation;
// - a delete of a missing key, and a txn without effective writes, change nothing;
// - a txn evaluates all compares against the state before it; its branch ops run in order
//   and a get after a put in the same txn sees that put; a compare on a missing key uses
//   zero revisions and version, and a value compare on a missing key always fails.
//
// Revisions are plain numbers: this is test data and stays far below 2^53.
import assert from 'node:assert';
import type { Operation } from './checker.js';
import type { WatchEvent } from './watch-check.js';

export interface PutInput { type: 'put'; key: string; value: string }
export interface GetInput { type: 'get'; key: string }
export interface DeleteInput { type: 'delete'; key: string }
export type TxnOpInput = PutInput | GetInput | DeleteInput;

export type CompareTarget = 'mod' | 'version' | 'value' | 'create';
export type CompareOp = '==' | '!=' | '<' | '>';
export interface Compare { key: string; target: CompareTarget; op: CompareOp; value: number | string }

export interface TxnInput { type: 'txn'; compares: Compare[]; success: TxnOpInput[]; failure: TxnOpInput[] }
export type EtcdInput = TxnOpInput | TxnInput;

export interface PutOutput { revision: number }
export interface GetOutput { value: string | null; modRevision: number; revision: number }
export interface DeleteOutput { deleted: number; revision: number }
/** Results of the ops inside a txn: responses without their own revision. */
export type TxnOpResult = Record<string, never> | { value: string | null; modRevision: number } | { deleted: number };
export interface TxnOutput { succeeded: boolean; revision: number; results: TxnOpResult[] }
export type EtcdOutput = PutOutput | GetOutput | DeleteOutput | TxnOutput;

export type EtcdOperation = Operation<EtcdInput, EtcdOutput | undefined>;

// Builders, so that tests read like the requests they make.
export const put = (key: string, value: string): PutInput => ({ type: 'put', key, value });
export const get = (key: string): GetInput => ({ type: 'get', key });
export const del = (key: string): DeleteInput => ({ type: 'delete', key });
export const compare = (key: string, target: CompareTarget, op: CompareOp, value: number | string): Compare => ({ key, target, op, value });
export const txn = (compares: Compare[], success: TxnOpInput[], failure: TxnOpInput[] = []): TxnInput => ({ type: 'txn', compares, success, failure });

export interface KeyValue {
  readonly value: string;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly version: number;
}

const bucketCount = 32;

/**
 * An immutable store state. Keys live in fixed hash buckets so that a write copies one
 * bucket, not the whole map. `hashA`/`hashB` are the XOR of a per-entry hash over all
 * keys (order-independent, updated per write), so the canonical key costs O(1).
 */
export class EtcdState {
  readonly key: string;

  constructor(
    readonly revision: number,
    readonly buckets: ReadonlyArray<ReadonlyMap<string, KeyValue>>,
    readonly hashA: number,
    readonly hashB: number,
  ) {
    this.key = `${revision}.${hashA.toString(36)}.${hashB.toString(36)}`;
  }

  static empty(): EtcdState {
    return new EtcdState(1, Array.from({ length: bucketCount }, () => new Map()), 0, 0);
  }

  get(key: string): KeyValue | undefined {
    return this.buckets[bucketOf(key)].get(key);
  }

  /** All keys and values in key order (for descriptions and tests). */
  entries(): [string, KeyValue][] {
    const all = this.buckets.flatMap((b) => [...b.entries()]);
    return all.sort(([a], [b]) => compareBytes(a, b));
  }
}

/** Copy-on-write changes to a state, made by one request. */
class Draft {
  private buckets: Map<string, KeyValue>[] | null = null;
  private hashA: number;
  private hashB: number;
  wrote = false;

  constructor(private readonly base: EtcdState, readonly revision: number) {
    this.hashA = base.hashA;
    this.hashB = base.hashB;
  }

  get(key: string): KeyValue | undefined {
    return (this.buckets ?? this.base.buckets)[bucketOf(key)].get(key);
  }

  put(key: string, value: string): void {
    const old = this.get(key);
    const kv: KeyValue = old
      ? { value, modRevision: this.revision, createRevision: old.createRevision, version: old.version + 1 }
      : { value, modRevision: this.revision, createRevision: this.revision, version: 1 };
    this.set(key, old, kv);
  }

  delete(key: string): boolean {
    const old = this.get(key);
    if (!old) return false;
    this.set(key, old, undefined);
    return true;
  }

  private set(key: string, old: KeyValue | undefined, kv: KeyValue | undefined): void {
    const b = bucketOf(key);
    this.buckets ??= [...this.base.buckets] as Map<string, KeyValue>[];
    if (this.buckets[b] === this.base.buckets[b]) this.buckets[b] = new Map(this.base.buckets[b]);
    if (old) [this.hashA, this.hashB] = [this.hashA ^ entryHash(key, old, 1), this.hashB ^ entryHash(key, old, 2)];
    if (kv) {
      this.buckets[b].set(key, kv);
      [this.hashA, this.hashB] = [this.hashA ^ entryHash(key, kv, 1), this.hashB ^ entryHash(key, kv, 2)];
    } else {
      this.buckets[b].delete(key);
    }
    this.wrote = true;
  }

  finish(): EtcdState {
    if (!this.wrote || !this.buckets) return this.base;
    return new EtcdState(this.revision, this.buckets, this.hashA, this.hashB);
  }
}

export interface Applied {
  state: EtcdState;
  output: EtcdOutput;
  /** Watch events of this request, in op order (empty when it wrote nothing). */
  events: WatchEvent[];
}

/** Executes one request on a sequential etcd: the reference for the model and generators. */
export function applyRequest(state: EtcdState, input: EtcdInput): Applied {
  const draft = new Draft(state, state.revision + 1);
  const events: WatchEvent[] = [];
  if (input.type === 'txn') {
    const succeeded = input.compares.every((c) => evaluateCompare(state, c));
    const results = (succeeded ? input.success : input.failure).map((op) => applyTxnOp(draft, op, events));
    const next = draft.finish();
    return { state: next, output: { succeeded, revision: next.revision, results }, events };
  }
  const result = applyTxnOp(draft, input, events);
  const next = draft.finish();
  if (input.type === 'put') return { state: next, output: { revision: next.revision }, events };
  if (input.type === 'delete') return { state: next, output: { ...(result as { deleted: number }), revision: next.revision }, events };
  return { state: next, output: { ...(result as { value: string | null; modRevision: number }), revision: next.revision }, events };
}

/** The store after one revision's events (from a committed history) are applied. */
export function applyEvents(state: EtcdState, events: readonly WatchEvent[]): EtcdState {
  const draft = new Draft(state, state.revision + 1);
  for (const e of events) {
    if (e.type === 'put') draft.put(e.key, e.value ?? '');
    else assert(draft.delete(e.key), `history deletes missing key ${e.key} at revision ${draft.revision}`);
  }
  return draft.finish();
}

function applyTxnOp(draft: Draft, op: TxnOpInput, events: WatchEvent[]): TxnOpResult {
  switch (op.type) {
    case 'put': {
      draft.put(op.key, op.value);
      const kv = draft.get(op.key)!;
      events.push({ type: 'put', key: op.key, value: op.value, modRevision: kv.modRevision, createRevision: kv.createRevision, version: kv.version });
      return {};
    }
    case 'delete': {
      const deleted = draft.delete(op.key);
      if (deleted) events.push({ type: 'delete', key: op.key, modRevision: draft.revision });
      return { deleted: deleted ? 1 : 0 };
    }
    case 'get': {
      const kv = draft.get(op.key);
      return { value: kv ? kv.value : null, modRevision: kv ? kv.modRevision : 0 };
    }
  }
}

export function evaluateCompare(state: EtcdState, c: Compare): boolean {
  const kv = state.get(c.key);
  let order: number;
  if (c.target === 'value') {
    // etcd: "Always fail if comparing a value on a key/keys that doesn't exist".
    if (!kv) return false;
    order = compareBytes(kv.value, String(c.value));
  } else {
    const field = c.target === 'mod' ? 'modRevision' : c.target === 'create' ? 'createRevision' : 'version';
    const actual = kv ? kv[field] : 0;
    assert(typeof c.value === 'number', `compare on ${c.target} needs a number`);
    order = Math.sign(actual - c.value);
  }
  switch (c.op) {
    case '==': return order === 0;
    case '!=': return order !== 0;
    case '<': return order < 0;
    case '>': return order > 0;
  }
}

/**
 * A get, a txn that only reads, or a txn whose answer shows that the branch it ran wrote
 * nothing (only gets, and deletes that found no key): such an answer is only possible when
 * nothing changes. Puts always write.
 */
export function isReadOnlyRequest(input: EtcdInput, output: EtcdOutput | undefined): boolean {
  if (input.type === 'get') return true;
  if (input.type === 'put') return false;
  if (input.type === 'delete') return output !== undefined && (output as DeleteOutput).deleted === 0;
  if (output === undefined) return [...input.success, ...input.failure].every((op) => op.type === 'get');
  const out = output as TxnOutput;
  const branch = out.succeeded ? input.success : input.failure;
  return branch.every((op, i) => op.type === 'get' || (op.type === 'delete' && (out.results[i] as { deleted?: number } | undefined)?.deleted === 0));
}

export function revisionPlausible(state: EtcdState, input: EtcdInput, output: EtcdOutput): boolean {
  const r = output.revision;
  switch (input.type) {
    case 'put': return r === state.revision + 1;
    case 'get': return r === state.revision;
    case 'delete': return r === state.revision + (output as DeleteOutput).deleted;
    case 'txn': return r === state.revision || r === state.revision + 1;
  }
}

export function outputsEqual(a: EtcdOutput, b: EtcdOutput): boolean {
  if (a.revision !== b.revision) return false;
  if ('succeeded' in a || 'succeeded' in b) {
    if (!('succeeded' in a) || !('succeeded' in b)) return false;
    if (a.succeeded !== b.succeeded || a.results.length !== b.results.length) return false;
    return a.results.every((r, i) => txnResultsEqual(r, b.results[i]));
  }
  return txnResultsEqual(a as TxnOpResult, b as TxnOpResult);
}

function txnResultsEqual(a: TxnOpResult, b: TxnOpResult): boolean {
  const x = a as Partial<GetOutput & DeleteOutput>;
  const y = b as Partial<GetOutput & DeleteOutput>;
  return x.value === y.value && x.modRevision === y.modRevision && x.deleted === y.deleted;
}

/** The gets of a completed request with what they returned. */
export function readResults(input: EtcdInput, output: EtcdOutput): [GetInput, { value: string | null; modRevision: number }][] {
  if (input.type === 'get') return [[input, output as GetOutput]];
  if (input.type !== 'txn') return [];
  const out = output as TxnOutput;
  const branch = out.succeeded ? input.success : input.failure;
  const pairs: [GetInput, { value: string | null; modRevision: number }][] = [];
  branch.forEach((op, i) => {
    const r = out.results[i];
    if (op.type === 'get' && r && 'value' in r) pairs.push([op, r as { value: string | null; modRevision: number }]);
  });
  return pairs;
}

/** A key written by a request: a put (with its value) or an effective delete. */
export interface KeyWrite { key: string; value?: string }

/**
 * What a completed request wrote, read off its answer: the revision it produced and the
 * keys, or null when it wrote nothing (a get, a delete that found nothing, a txn whose
 * branch only read).
 */
export function writesOf(input: EtcdInput, output: EtcdOutput): { revision: number; keys: KeyWrite[] } | null {
  let keys: KeyWrite[] = [];
  if (input.type === 'put') keys = [{ key: input.key, value: input.value }];
  if (input.type === 'delete' && (output as DeleteOutput).deleted > 0) keys = [{ key: input.key }];
  if (input.type === 'txn') {
    const out = output as TxnOutput;
    (out.succeeded ? input.success : input.failure).forEach((op, i) => {
      if (op.type === 'put') keys.push({ key: op.key, value: op.value });
      if (op.type === 'delete' && ((out.results[i] as { deleted?: number } | undefined)?.deleted ?? 0) > 0) keys.push({ key: op.key });
    });
  }
  return keys.length > 0 ? { revision: output.revision, keys } : null;
}

export function describeRequest(input: EtcdInput, output: EtcdOutput | undefined): string {
  const out = output === undefined ? '?' : describeOutput(output);
  return `${describeInput(input)} -> ${out}`;
}

function describeInput(input: EtcdInput): string {
  switch (input.type) {
    case 'put': return `put(${input.key}, ${JSON.stringify(input.value)})`;
    case 'get': return `get(${input.key})`;
    case 'delete': return `delete(${input.key})`;
    case 'txn': {
      const ifs = input.compares.map((c) => `${c.target}(${c.key}) ${c.op} ${JSON.stringify(c.value)}`).join(' && ');
      const ops = (l: TxnOpInput[]) => l.map(describeInput).join('; ');
      return `txn(if ${ifs || 'true'} then ${ops(input.success) || 'nothing'} else ${ops(input.failure) || 'nothing'})`;
    }
  }
}

function describeOutput(o: EtcdOutput): string {
  if ('succeeded' in o) {
    const results = o.results.map((r) => describeResult(r)).join(', ');
    return `${o.succeeded ? 'succeeded' : 'failed'} [${results}] @rev ${o.revision}`;
  }
  return `${describeResult(o as TxnOpResult)} @rev ${o.revision}`;
}

function describeResult(r: TxnOpResult): string {
  if ('value' in r) return r.value === null ? 'missing' : `${JSON.stringify(r.value)} mod ${r.modRevision}`;
  if ('deleted' in r) return `deleted ${r.deleted}`;
  return 'ok';
}

const describeKeysMax = 20;

export function describeStore(state: EtcdState): string {
  const entries = state.entries();
  const shown = entries.slice(0, describeKeysMax).map(([k, kv]) => `${k}=${JSON.stringify(kv.value)} (mod ${kv.modRevision}, create ${kv.createRevision}, v${kv.version})`);
  const more = entries.length > describeKeysMax ? `, ... ${entries.length - describeKeysMax} more` : '';
  return `revision ${state.revision} {${shown.join(', ')}${more}}`;
}

/** Byte order of the UTF-8 encodings, as etcd compares keys and values. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function bucketOf(key: string): number {
  return hashString(key, 7) & (bucketCount - 1);
}

function entryHash(key: string, kv: KeyValue, lane: number): number {
  return hashString(`${key}\0${kv.value}\0${kv.modRevision}.${kv.createRevision}.${kv.version}`, lane);
}

/** FNV-1a over UTF-16 code units with a murmur3 finaliser; `seed` picks the lane. */
function hashString(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
