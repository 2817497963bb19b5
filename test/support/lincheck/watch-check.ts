// Validators for etcd's six watch guarantees (https://etcd.io/docs/v3.6/learning/api_guarantees/):
// Ordered, Unique, Reliable, Atomic, Resumable, Bookmarkable; plus Consistent (every
// delivered event is the committed one, so all watchers agree on each revision).
//
// Input shapes:
// - a `WatchStream` is what one watch (one watch id on one client) received, response by
//   response, in arrival order, with the range and start revision it asked for;
// - a resumed watch is a chain of streams: stream i+1 was opened at (last revision stream i
//   delivered) + 1, after stream i broke;
// - the `CommittedRevision[]` history lists, per revision, the events the store committed
//   in op order (from `etcd-model.ts` `committedHistory` over the checker's linearisation,
//   from the simulator's ground truth, or `mergeWatchHistories` over all watchers). It must
//   be complete between its first and last revision; revisions without events are absent.
//
// Each validator returns violations; an empty list means the guarantee held.
import { compareBytes } from './etcd-store.js';

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** Put only. */
  value?: string;
  /** The revision of the write (for a delete, the deleting revision). */
  modRevision: number;
  /** Put only, checked when both sides have them. */
  createRevision?: number;
  version?: number;
}

export interface WatchResponse {
  /** The response header's revision. */
  revision: number;
  events: WatchEvent[];
  /** An empty response sent as a progress notification ("bookmark") at `revision`. */
  progressNotify?: boolean;
  /** etcd's fragment flag: the events of this batch continue in the next response. */
  fragment?: boolean;
  /** The watch ended (cancellation or compaction); nothing may follow. */
  canceled?: boolean;
}

export interface WatchStream {
  /** Label used in messages, e.g. "client 3 watch 1". */
  name: string;
  key: string;
  /** etcd semantics: absent = only `key`; "\0" = every key >= `key`; else [key, rangeEnd). */
  rangeEnd?: string;
  /** Watch every key that starts with `key` (etcdctl --prefix); overrides rangeEnd. */
  prefix?: boolean;
  /** The revision the watch asked to start at; 0 = "from now". */
  startRevision: number;
  /** For startRevision 0: the header revision of the creation response (events follow it). */
  createdRevision?: number;
  responses: WatchResponse[];
}

export interface CommittedRevision {
  revision: number;
  events: WatchEvent[];
}

export type WatchGuarantee = 'ordered' | 'unique' | 'reliable' | 'atomic' | 'resumable' | 'bookmarkable' | 'consistent';

export interface WatchViolation {
  guarantee: WatchGuarantee;
  stream: string;
  revision?: number;
  message: string;
}

/** Violations reported per stream and guarantee before the rest are summarised. */
const violationsPerCheckMax = 20;

export function inRange(stream: Pick<WatchStream, 'key' | 'rangeEnd' | 'prefix'>, key: string): boolean {
  if (stream.prefix) return key.startsWith(stream.key);
  if (stream.rangeEnd === undefined || stream.rangeEnd === '') return key === stream.key;
  if (compareBytes(key, stream.key) < 0) return false;
  return stream.rangeEnd === '\0' || compareBytes(key, stream.rangeEnd) < 0;
}

/** An event as delivered, with where it was delivered. */
interface Delivered {
  event: WatchEvent;
  response: number;
}

function delivered(stream: WatchStream): Delivered[] {
  return stream.responses.flatMap((r, response) => r.events.map((event) => ({ event, response })));
}

function describeEvent(e: WatchEvent): string {
  return e.type === 'put' ? `put ${e.key}=${JSON.stringify(e.value)} @${e.modRevision}` : `delete ${e.key} @${e.modRevision}`;
}

class Violations {
  readonly list: WatchViolation[] = [];
  private readonly counts = new Map<string, number>();

  add(guarantee: WatchGuarantee, stream: string, message: string, revision?: number): void {
    const id = `${guarantee}\0${stream}`;
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    if (count <= violationsPerCheckMax) this.list.push({ guarantee, stream, revision, message });
    else if (count === violationsPerCheckMax + 1) this.list.push({ guarantee, stream, message: 'further violations of this kind omitted' });
  }
}

/** Revision index of a committed history, and its bounds. */
class HistoryIndex {
  readonly byRevision = new Map<number, WatchEvent[]>();
  readonly first: number;
  readonly last: number;

  constructor(history: readonly CommittedRevision[]) {
    for (const r of history) this.byRevision.set(r.revision, r.events);
    this.first = history.length > 0 ? history[0].revision : Infinity;
    this.last = history.length > 0 ? history[history.length - 1].revision : 0;
  }

  /** The committed events in the stream's range with revision in [from, to]. */
  eventsIn(stream: WatchStream, from: number, to: number): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (let rev = from; rev <= to; rev++) {
      for (const e of this.byRevision.get(rev) ?? []) if (inRange(stream, e.key)) out.push(e);
    }
    return out;
  }
}

/**
 * Ordered: revisions never go back, no event precedes the requested start revision, and
 * the events of one revision come in the committed (txn op) order.
 */
export function validateOrdered(stream: WatchStream, history?: readonly CommittedRevision[]): WatchViolation[] {
  const v = new Violations();
  const events = delivered(stream).map((d) => d.event);
  let last: WatchEvent | undefined;
  for (const e of events) {
    if (stream.startRevision > 0 && e.modRevision < stream.startRevision) {
      v.add('ordered', stream.name, `${describeEvent(e)} is older than the start revision ${stream.startRevision}`, e.modRevision);
    }
    if (last && e.modRevision < last.modRevision) {
      v.add('ordered', stream.name, `${describeEvent(e)} arrived after ${describeEvent(last)}`, e.modRevision);
    }
    last = e;
  }
  const canceled = stream.responses.findIndex((r) => r.canceled);
  if (canceled >= 0 && canceled < stream.responses.length - 1) {
    v.add('ordered', stream.name, `${stream.responses.length - 1 - canceled} response(s) after the cancellation at response ${canceled}`);
  }
  if (history) {
    const index = new HistoryIndex(history);
    for (const [rev, got] of groupByRevision(events)) {
      const committed = (index.byRevision.get(rev) ?? []).filter((e) => inRange(stream, e.key)).map((e) => e.key);
      const seen = [...new Set(got.map((e) => e.key))].filter((k) => committed.includes(k));
      const expected = committed.filter((k) => seen.includes(k));
      if (seen.join('\0') !== expected.join('\0')) {
        v.add('ordered', stream.name, `revision ${rev}: events for keys [${seen}] arrived out of op order [${expected}]`, rev);
      }
    }
  }
  return v.list;
}

/** Unique: no (revision, key) is delivered twice; a txn writes a key at most once. */
export function validateUnique(stream: WatchStream): WatchViolation[] {
  const v = new Violations();
  const seen = new Set<string>();
  for (const { event } of delivered(stream)) {
    const id = `${event.modRevision}\0${event.key}`;
    if (seen.has(id)) v.add('unique', stream.name, `${describeEvent(event)} delivered more than once`, event.modRevision);
    seen.add(id);
  }
  return v.list;
}

/**
 * Atomic: the events of one revision arrive in one response, unless that response is
 * marked as a fragment to be continued.
 */
export function validateAtomic(stream: WatchStream): WatchViolation[] {
  const v = new Violations();
  const responsesOf = new Map<number, number[]>();
  for (const { event, response } of delivered(stream)) {
    const list = responsesOf.get(event.modRevision) ?? [];
    if (list[list.length - 1] !== response) list.push(response);
    responsesOf.set(event.modRevision, list);
  }
  for (const [rev, responses] of responsesOf) {
    for (let i = 0; i + 1 < responses.length; i++) {
      const a = responses[i];
      const b = responses[i + 1];
      const fragmented = b === a + 1 && stream.responses[a].fragment === true;
      if (!fragmented) {
        v.add('atomic', stream.name, `revision ${rev} is split over responses ${a} and ${b} without the fragment flag`, rev);
      }
    }
  }
  return v.list;
}

/** The range of revisions a stream vouches for: from its start to the last it saw. */
function coveredRevisions(stream: WatchStream): { from: number; to: number } | null {
  let to = 0;
  for (const r of stream.responses) {
    for (const e of r.events) to = Math.max(to, e.modRevision);
    if (r.progressNotify) to = Math.max(to, r.revision);
  }
  let from: number;
  if (stream.startRevision > 0) from = stream.startRevision;
  else if (stream.createdRevision !== undefined) from = stream.createdRevision + 1;
  else {
    // "From now" without the creation revision: the first event is the best lower bound.
    const first = stream.responses.flatMap((r) => r.events)[0];
    if (!first) return null;
    from = first.modRevision;
  }
  return to >= from ? { from, to } : null;
}

/**
 * Reliable: between the start revision and the last revision the stream saw (an event or
 * a progress notification), every committed event in the watched range was delivered.
 */
export function validateReliable(stream: WatchStream, history: readonly CommittedRevision[]): WatchViolation[] {
  return reliableAs('reliable', stream, history);
}

function reliableAs(guarantee: WatchGuarantee, stream: WatchStream, history: readonly CommittedRevision[]): WatchViolation[] {
  const v = new Violations();
  const covered = coveredRevisions(stream);
  if (!covered) return v.list;
  const index = new HistoryIndex(history);
  const got = new Set(delivered(stream).map((d) => `${d.event.modRevision}\0${d.event.key}`));
  const to = Math.min(covered.to, index.last);
  for (const e of index.eventsIn(stream, covered.from, to)) {
    if (!got.has(`${e.modRevision}\0${e.key}`)) {
      v.add(guarantee, stream.name, `missing ${describeEvent(e)} (stream covers revisions ${covered.from}..${covered.to})`, e.modRevision);
    }
  }
  return v.list;
}

/**
 * Consistent: every delivered event is the one the store committed at that revision, and
 * none is delivered for a revision past the end of a complete history.
 */
export function validateConsistent(stream: WatchStream, history: readonly CommittedRevision[]): WatchViolation[] {
  const v = new Violations();
  const index = new HistoryIndex(history);
  for (const { event } of delivered(stream)) {
    const committed = (index.byRevision.get(event.modRevision) ?? []).find((e) => e.key === event.key);
    if (!committed) {
      v.add('consistent', stream.name, `${describeEvent(event)} was never committed`, event.modRevision);
    } else if (!sameEvent(event, committed)) {
      v.add('consistent', stream.name, `${describeEvent(event)} differs from the committed ${describeEvent(committed)}`, event.modRevision);
    }
  }
  return v.list;
}

function sameEvent(a: WatchEvent, b: WatchEvent): boolean {
  const optional = (x?: number, y?: number) => x === undefined || y === undefined || x === y;
  return a.type === b.type && a.key === b.key && a.modRevision === b.modRevision &&
    (a.type === 'delete' || a.value === b.value) &&
    optional(a.createRevision, b.createRevision) && optional(a.version, b.version);
}

/**
 * Bookmarkable: a progress notification at revision R promises that every event up to R
 * was delivered before it, so no event at or below R may follow it, and (given the
 * history) none committed in range between the start and R may be missing.
 */
export function validateBookmarkable(stream: WatchStream, history?: readonly CommittedRevision[]): WatchViolation[] {
  const v = new Violations();
  const index = history ? new HistoryIndex(history) : undefined;
  const before = new Set<string>();
  let bookmark = 0;
  stream.responses.forEach((r, i) => {
    for (const e of r.events) {
      if (e.modRevision <= bookmark) {
        v.add('bookmarkable', stream.name, `${describeEvent(e)} arrived after a progress notification at ${bookmark}`, e.modRevision);
      }
      before.add(`${e.modRevision}\0${e.key}`);
    }
    if (!r.progressNotify) return;
    bookmark = Math.max(bookmark, r.revision);
    const covered = coveredRevisions({ ...stream, responses: stream.responses.slice(0, i + 1) });
    if (!index || !covered) return;
    for (const e of index.eventsIn(stream, covered.from, Math.min(r.revision, index.last))) {
      if (!before.has(`${e.modRevision}\0${e.key}`)) {
        v.add('bookmarkable', stream.name, `progress notification at ${r.revision} (response ${i}) came before ${describeEvent(e)}`, e.modRevision);
      }
    }
  });
  return v.list;
}

/**
 * Resumable: a watch reopened after the last revision it saw continues the broken one with
 * no gap and no duplicate. The chain is checked as one merged stream. A link must start
 * after the last delivered event and at most one past the last revision vouched for (an
 * event or a progress notification; etcd's client resumes from either); a link opened
 * elsewhere is a mistake of the test harness and reported as such.
 */
export function validateResumable(chain: readonly WatchStream[], history: readonly CommittedRevision[]): WatchViolation[] {
  if (chain.length === 0) return [];
  const v = new Violations();
  const name = `${chain[0].name} (resumed ${chain.length - 1}x)`;
  for (let i = 1; i < chain.length; i++) {
    const { lastEvent, lastVouched } = progressOf(chain.slice(0, i));
    const start = chain[i].startRevision;
    if (start < lastEvent + 1 || start > lastVouched + 1) {
      v.add('resumable', name, `link ${i} restarted at ${start}, outside ${lastEvent + 1}..${lastVouched + 1}: the harness must resume right after the last revision seen`, start);
    }
    for (const e of chain[i].responses.flatMap((r) => r.events)) {
      if (e.modRevision <= lastEvent) v.add('resumable', name, `link ${i} redelivered ${describeEvent(e)}`, e.modRevision);
    }
  }
  const merged: WatchStream = { ...chain[0], name, responses: chain.flatMap((s) => s.responses) };
  for (const x of [...validateOrdered(merged, history), ...reliableAs('resumable', merged, history)]) {
    v.add('resumable', name, x.message, x.revision);
  }
  return v.list;
}

function progressOf(streams: readonly WatchStream[]): { lastEvent: number; lastVouched: number } {
  let lastEvent = streams.length > 0 ? Math.max(0, streams[0].startRevision - 1) : 0;
  // A watch "from now" vouches for its creation revision: it resumes right after it (clientv3).
  let lastVouched = streams.length > 0 && streams[0].startRevision === 0 ? Math.max(lastEvent, streams[0].createdRevision ?? 0) : lastEvent;
  for (const s of streams) {
    for (const r of s.responses) {
      for (const e of r.events) lastEvent = Math.max(lastEvent, e.modRevision);
      if (r.progressNotify) lastVouched = Math.max(lastVouched, r.revision);
    }
  }
  return { lastEvent, lastVouched: Math.max(lastEvent, lastVouched) };
}

/** Consistent across watchers: all streams that saw (revision, key) saw the same event. */
export function validateAgreement(streams: readonly WatchStream[]): WatchViolation[] {
  return mergeWatches(streams).violations;
}

/**
 * Builds a committed history from what all watchers saw together (etcd's robustness suite
 * checks Reliable against this merge when no ground truth exists). Within a revision the
 * order is the first order any stream delivered.
 */
export function mergeWatchHistories(streams: readonly WatchStream[]): CommittedRevision[] {
  return mergeWatches(streams).history;
}

function mergeWatches(streams: readonly WatchStream[]): { history: CommittedRevision[]; violations: WatchViolation[] } {
  const v = new Violations();
  const byRevision = new Map<number, Map<string, { event: WatchEvent; from: string }>>();
  for (const s of streams) {
    for (const { event } of delivered(s)) {
      const rev = byRevision.get(event.modRevision) ?? new Map();
      byRevision.set(event.modRevision, rev);
      const known = rev.get(event.key);
      if (!known) rev.set(event.key, { event, from: s.name });
      else if (!sameEvent(known.event, event)) {
        v.add('consistent', s.name, `${describeEvent(event)} differs from ${describeEvent(known.event)} seen by ${known.from}`, event.modRevision);
      }
    }
  }
  const history = [...byRevision.entries()]
    .sort(([a], [b]) => a - b)
    .map(([revision, events]) => ({ revision, events: [...events.values()].map((x) => x.event) }));
  return { history, violations: v.list };
}

export interface WatchCheckInput {
  /** Every stream, including each link of resumed chains. */
  streams: readonly WatchStream[];
  /** Resumed watches: the streams of each chain, in order. */
  chains?: readonly (readonly WatchStream[])[];
  /** The committed history; without it only the history-free checks run. */
  history?: readonly CommittedRevision[];
}

/** Runs every validator that applies and returns all violations. */
export function validateWatches(input: WatchCheckInput): WatchViolation[] {
  const out: WatchViolation[] = [];
  const { history } = input;
  for (const s of input.streams) {
    out.push(...validateOrdered(s, history), ...validateUnique(s), ...validateAtomic(s), ...validateBookmarkable(s, history));
    if (history) out.push(...validateReliable(s, history), ...validateConsistent(s, history));
  }
  out.push(...validateAgreement(input.streams));
  if (history) for (const chain of input.chains ?? []) out.push(...validateResumable(chain, history));
  return out;
}

export function formatViolations(violations: readonly WatchViolation[]): string {
  return violations.map((x) => `[${x.guarantee}] ${x.stream}: ${x.message}`).join('\n');
}

function groupByRevision(events: readonly WatchEvent[]): Map<number, WatchEvent[]> {
  const groups = new Map<number, WatchEvent[]>();
  for (const e of events) {
    const list = groups.get(e.modRevision) ?? [];
    list.push(e);
    groups.set(e.modRevision, list);
  }
  return groups;
}
