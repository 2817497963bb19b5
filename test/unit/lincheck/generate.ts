// Seeded generators of etcd histories for the checker's own tests: valid histories made by
// running a sequential etcd and giving each request a random real-time window around its
// linearization point, and mutations of them.
import {
  applyRequest, compare, del, EtcdState, get, put, txn,
  type EtcdInput, type EtcdOperation, type EtcdOutput, type GetInput, type GetOutput, type TxnOutput,
} from '../../support/lincheck/etcd-model.js';

/** mulberry32: small, fast, and good enough for test data. */
export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export interface GenerateOptions {
  seed: number;
  ops: number;
  clients: number;
  keys: number;
  /** Share of requests whose outcome is lost (half of them still take effect). */
  unknownRate?: number;
  /** Longest time a request stays open after its linearization point. */
  latencyMax?: number;
}

export interface GeneratedHistory {
  ops: EtcdOperation[];
  /** Indices of the requests that took effect, in the order they did. */
  applied: number[];
}

/**
 * Runs a sequential etcd: linearization points advance in time, each request's call lies
 * between its client's previous return and its point, its return after the point. A
 * request with unknown outcome takes effect at its point, a little later (it lingered in
 * the cluster), or never.
 */
export function generateHistory(options: GenerateOptions): GeneratedHistory {
  const prng = new Prng(options.seed);
  const latencyMax = options.latencyMax ?? 6;
  const unknownRate = options.unknownRate ?? 0.05;
  const free = new Array<number>(options.clients).fill(0);
  const ops: EtcdOperation[] = [];
  const applied: number[] = [];
  const lingering: { op: number; at: number }[] = [];
  let state = EtcdState.empty();
  let t = 0;
  for (let i = 0; i < options.ops; i++) {
    t += 1 + prng.int(3);
    for (const l of lingering.filter((x) => x.at <= i)) {
      state = applyRequest(state, ops[l.op].input).state;
      applied.push(l.op);
    }
    lingering.splice(0, lingering.length, ...lingering.filter((x) => x.at > i));
    let idle = free.flatMap((f, c) => (f < t ? [c] : []));
    if (idle.length === 0) {
      t = Math.min(...free) + 1;
      idle = free.flatMap((f, c) => (f < t ? [c] : []));
    }
    const clientId = prng.pick(idle);
    const call = free[clientId] + prng.next() * (t - free[clientId]);
    const input = randomRequest(prng, state, options.keys, i);
    if (prng.chance(unknownRate)) {
      const fate = prng.int(4);
      if (fate === 0) lingering.push({ op: i, at: i + 1 + prng.int(5) });
      if (fate === 1 || fate === 2) {
        state = applyRequest(state, input).state;
        applied.push(i);
      }
      ops.push({ clientId, input, output: undefined, call, return: Infinity });
      free[clientId] = call + 1 + prng.next() * latencyMax;
      continue;
    }
    const result = applyRequest(state, input);
    state = result.state;
    applied.push(i);
    const ret = t + prng.next() * latencyMax;
    ops.push({ clientId, input, output: result.output, call, return: ret });
    free[clientId] = ret;
  }
  return { ops, applied };
}

function randomRequest(prng: Prng, state: EtcdState, keys: number, i: number): EtcdInput {
  const key = () => `k${prng.int(keys)}`;
  const value = `v${i}`;
  const roll = prng.next();
  if (roll < 0.3) return put(key(), value);
  if (roll < 0.55) return get(key());
  if (roll < 0.65) return del(key());
  const k = key();
  const kv = state.get(k);
  switch (prng.int(5)) {
    case 0: {
      // Kubernetes-style optimistic update: compare the mod revision last read.
      const seen = kv && prng.chance(0.7) ? kv.modRevision : prng.int(state.revision + 1);
      return txn([compare(k, 'mod', '==', seen)], [put(k, value)], [get(k)]);
    }
    case 1:
      return txn([compare(k, 'create', '==', 0)], [put(k, value)], [get(k)]);
    case 2: {
      // etcd refuses a txn that writes one key twice, so the put and the delete differ.
      const a = key();
      const b = `k${(Number(a.slice(1)) + 1 + prng.int(keys - 1)) % keys}`;
      const writes = a === b ? [put(a, value)] : [put(a, value), del(b)];
      return txn([compare(k, 'version', '>', 0)], writes, [put(k, value)]);
    }
    case 3: {
      const expected = kv && prng.chance(0.6) ? kv.value : 'other';
      return txn([compare(k, 'value', '==', expected)], [del(k), get(k)], [get(k)]);
    }
    default:
      return txn([], [get(k), get(key())], []);
  }
}

export type MutationKind =
  | 'stale-read' | 'lost-write' | 'revision-regression' | 'swapped-outputs'
  | 'never-written' | 'duplicate-revision' | 'txn-flip';

export const mutationKinds: readonly MutationKind[] = [
  'stale-read', 'lost-write', 'revision-regression', 'swapped-outputs', 'never-written', 'duplicate-revision', 'txn-flip',
];

/** Mutations that make any history illegal whatever its timing (see each mutator). */
export const alwaysIllegalKinds: readonly MutationKind[] = ['never-written', 'duplicate-revision', 'lost-write', 'revision-regression'];

type Finite = EtcdOperation & { output: EtcdOutput };
type FiniteGet = EtcdOperation & { input: GetInput; output: GetOutput };

/**
 * Applies one mutation of `kind` to a copy of `ops`; null when the history has nothing
 * to mutate that way. With `strict`, only the variant proven illegal is produced:
 * - never-written: a get returns a value no put wrote (values are unique);
 * - duplicate-revision: two completed puts claim the same revision;
 * - lost-write: a get that saw put P's value instead returns the non-null value P
 *   overwrote, at the same read revision, which is at or after P's pinned revision;
 * - revision-regression: an operation that started after another returned reports a
 *   revision below it, while revisions only grow along a linearization.
 */
export function mutate(ops: readonly EtcdOperation[], kind: MutationKind, prng: Prng, strict = false): EtcdOperation[] | null {
  const copy = ops.map((o) => ({ ...o, output: o.output === undefined ? undefined : structuredClone(o.output) }));
  const finite = copy.filter((o): o is Finite => o.return !== Infinity && o.output !== undefined);
  const gets = finite.filter((o) => o.input.type === 'get') as FiniteGet[];
  switch (kind) {
    case 'never-written': {
      const g = gets.length > 0 ? prng.pick(gets) : null;
      if (!g) return null;
      g.output.value = 'never-written';
      return copy;
    }
    case 'duplicate-revision': {
      const puts = finite.filter((o) => o.input.type === 'put');
      if (puts.length < 2) return null;
      const a = prng.pick(puts);
      const b = prng.pick(puts.filter((o) => o !== a));
      b.output.revision = a.output.revision;
      return copy;
    }
    case 'lost-write': return lostWrite(copy, finite, gets, prng);
    case 'revision-regression': return revisionRegression(copy, finite, prng, strict);
    case 'stale-read': {
      const g = gets.filter((o) => o.output.modRevision > 0);
      if (g.length === 0) return null;
      const target = prng.pick(g);
      const older = olderVersion(copy, target.input.key, target.output.modRevision, prng);
      target.output.value = older.value;
      target.output.modRevision = older.modRevision;
      if (prng.chance(0.5)) target.output.revision = Math.max(1, older.modRevision);
      return copy;
    }
    case 'swapped-outputs': {
      const a = finite.length > 0 ? prng.pick(finite) : null;
      const others = finite.filter((o) => a && o !== a && o.input.type === a.input.type && JSON.stringify(o.output) !== JSON.stringify(a.output));
      if (!a || others.length === 0) return null;
      const b = prng.pick(others);
      [a.output, b.output] = [b.output, a.output];
      return copy;
    }
    case 'txn-flip': {
      const txns = finite.filter((o) => o.input.type === 'txn') as (Finite & { output: TxnOutput })[];
      if (txns.length === 0) return null;
      const t = prng.pick(txns);
      t.output.succeeded = !t.output.succeeded;
      return copy;
    }
  }
}

function lostWrite(copy: EtcdOperation[], finite: Finite[], gets: FiniteGet[], prng: Prng): EtcdOperation[] | null {
  const pairs: [Finite, FiniteGet][] = [];
  for (const p of finite) {
    if (p.input.type !== 'put') continue;
    const { key, value } = p.input;
    for (const g of gets) if (g.input.key === key && g.output.value === value) pairs.push([p, g]);
  }
  for (const [p, g] of shuffle(pairs, prng)) {
    const before = versionBefore(copy, (p.input as { key: string }).key, p.output.revision);
    if (!before || before.value === null) continue;
    g.output.value = before.value;
    g.output.modRevision = before.modRevision;
    return copy;
  }
  return null;
}

function revisionRegression(copy: EtcdOperation[], finite: Finite[], prng: Prng, strict: boolean): EtcdOperation[] | null {
  if (!strict) {
    const candidates = finite.filter((o) => o.output.revision > 1);
    if (candidates.length === 0) return null;
    const o = prng.pick(candidates);
    o.output.revision = Math.max(1, o.output.revision - 1 - prng.int(2));
    return copy;
  }
  const pairs: [Finite, Finite][] = [];
  for (const a of finite) {
    if (a.output.revision <= 1) continue;
    for (const b of finite) if (a.return < b.call) pairs.push([a, b]);
  }
  if (pairs.length === 0) return null;
  const [a, b] = prng.pick(pairs);
  b.output.revision = a.output.revision - 1;
  return copy;
}

interface Version { value: string | null; modRevision: number }

/** The version of `key` just before revision `revision`, replaying the completed writes. */
function versionBefore(ops: readonly EtcdOperation[], key: string, revision: number): Version | null {
  const versions = versionsOf(ops, key).filter((v) => v.at < revision);
  return versions.length > 0 ? versions[versions.length - 1] : { value: null, modRevision: 0 };
}

/** A version of `key` older than `modRevision` (possibly "missing"). */
function olderVersion(ops: readonly EtcdOperation[], key: string, modRevision: number, prng: Prng): Version {
  const older = versionsOf(ops, key).filter((v) => v.at < modRevision);
  return older.length > 0 && prng.chance(0.8) ? prng.pick(older) : { value: null, modRevision: 0 };
}

/** The versions of a key that completed puts and deletes made, by revision. */
function versionsOf(ops: readonly EtcdOperation[], key: string): (Version & { at: number })[] {
  const out: (Version & { at: number })[] = [];
  for (const o of ops) {
    if (o.output === undefined || o.input.type === 'get' || o.input.type === 'txn') continue;
    if (o.input.key !== key) continue;
    const at = o.output.revision;
    if (o.input.type === 'put') out.push({ value: o.input.value, modRevision: at, at });
    else if ((o.output as { deleted: number }).deleted > 0) out.push({ value: null, modRevision: 0, at });
  }
  return out.sort((a, b) => a.at - b.at);
}

function shuffle<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
