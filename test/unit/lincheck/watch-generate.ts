// Simulated watchers over a committed history, and anomalies to inject into what they
// received, for testing the watch validators.
import type { CommittedRevision, WatchEvent, WatchResponse, WatchStream } from '../../support/lincheck/watch-check.js';
import { inRange } from '../../support/lincheck/watch-check.js';
import type { Prng } from './generate.js';

/**
 * What a correct etcd watcher delivers: the in-range events from a start revision, whole
 * revisions per response (occasionally split into fragments), now and then a progress
 * notification at the last revision delivered so far.
 */
export function simulateWatch(history: readonly CommittedRevision[], keys: number, prng: Prng, name: string): WatchStream {
  const last = history.length > 0 ? history[history.length - 1].revision : 1;
  const range = pickRange(keys, prng);
  const stream: WatchStream = { name, ...range, startRevision: 1 + prng.int(last), responses: [] };
  let pending: WatchEvent[] = [];
  let delivered = stream.startRevision - 1;
  const flush = () => {
    if (pending.length > 0) stream.responses.push({ revision: delivered, events: pending });
    pending = [];
  };
  for (const rev of history) {
    if (rev.revision < stream.startRevision) continue;
    const events = rev.events.filter((e) => inRange(stream, e.key));
    if (events.length > 1 && prng.chance(0.2)) {
      flush();
      const cut = 1 + prng.int(events.length - 1);
      stream.responses.push({ revision: rev.revision, events: events.slice(0, cut), fragment: true }, { revision: rev.revision, events: events.slice(cut) });
    } else {
      pending.push(...events);
    }
    delivered = rev.revision;
    if (prng.chance(0.4)) flush();
    if (prng.chance(0.1)) {
      flush();
      stream.responses.push({ revision: delivered, events: [], progressNotify: true });
    }
  }
  flush();
  stream.responses.push({ revision: last, events: [], progressNotify: true });
  return stream;
}

function pickRange(keys: number, prng: Prng): Pick<WatchStream, 'key' | 'rangeEnd' | 'prefix'> {
  switch (prng.int(3)) {
    case 0: return { key: `k${prng.int(keys)}` };
    case 1: return { key: 'k', prefix: true };
    default: {
      const a = prng.int(keys);
      return { key: `k${a}`, rangeEnd: `k${a + 1 + prng.int(keys)}` };
    }
  }
}

export type WatchAnomaly = 'duplicate' | 'drop' | 'reorder' | 'txn-order' | 'split' | 'early-bookmark' | 'corrupt';
export const watchAnomalies: readonly WatchAnomaly[] = ['duplicate', 'drop', 'reorder', 'txn-order', 'split', 'early-bookmark', 'corrupt'];

interface Located { response: number; index: number; event: WatchEvent }

/** Injects one anomaly into a copy of the stream; null when the stream has no room for it. */
export function injectAnomaly(stream: WatchStream, kind: WatchAnomaly, prng: Prng): WatchStream | null {
  const s: WatchStream = { ...stream, responses: stream.responses.map((r) => ({ ...r, events: r.events.map((e) => ({ ...e })) })) };
  const all: Located[] = s.responses.flatMap((r, response) => r.events.map((event, index) => ({ response, index, event })));
  if (all.length === 0) return null;
  switch (kind) {
    case 'duplicate': {
      const x = prng.pick(all);
      s.responses[x.response].events.splice(x.index + 1, 0, { ...x.event });
      return s;
    }
    case 'drop': {
      // Every stream ends with a progress notification, so any dropped event leaves a gap.
      const x = prng.pick(all);
      s.responses[x.response].events.splice(x.index, 1);
      return s;
    }
    case 'reorder': {
      const pairs = all.slice(1).map((b, i) => [all[i], b]).filter(([a, b]) => a.event.modRevision < b.event.modRevision);
      if (pairs.length === 0) return null;
      const [a, b] = prng.pick(pairs);
      s.responses[a.response].events[a.index] = b.event;
      s.responses[b.response].events[b.index] = a.event;
      return s;
    }
    case 'txn-order': {
      const pairs = all.slice(1).map((b, i) => [all[i], b]).filter(([a, b]) => a.event.modRevision === b.event.modRevision && a.response === b.response);
      if (pairs.length === 0) return null;
      const [a, b] = prng.pick(pairs);
      const events = s.responses[a.response].events;
      [events[a.index], events[b.index]] = [events[b.index], events[a.index]];
      return s;
    }
    case 'split': {
      const candidates = s.responses.map((r, i) => ({ r, i })).filter(({ r }) => !r.fragment && r.events.some((e, j) => j > 0 && e.modRevision === r.events[j - 1].modRevision));
      if (candidates.length === 0) return null;
      const { r, i } = prng.pick(candidates);
      const cut = r.events.findIndex((e, j) => j > 0 && e.modRevision === r.events[j - 1].modRevision);
      const tail: WatchResponse = { ...r, events: r.events.slice(cut) };
      s.responses.splice(i, 1, { ...r, events: r.events.slice(0, cut) }, tail);
      return s;
    }
    case 'early-bookmark': {
      const x = prng.pick(all);
      s.responses.splice(x.response, 0, { revision: x.event.modRevision, events: [], progressNotify: true });
      return s;
    }
    case 'corrupt': {
      const x = prng.pick(all);
      x.event.type = 'put';
      x.event.value = `${x.event.value ?? ''}-corrupt`;
      s.responses[x.response].events[x.index] = x.event;
      return s;
    }
  }
}

/**
 * Breaks a stream after one of its responses (not inside a fragmented revision) and
 * resumes it where etcd's client would: after the last event, or after a later progress
 * notification. Null when there is no place to break.
 */
export function breakAndResume(stream: WatchStream, prng: Prng): [WatchStream, WatchStream] | null {
  const cuts = stream.responses.map((_, i) => i + 1).filter((i) => i < stream.responses.length && !stream.responses[i - 1].fragment);
  if (cuts.length === 0) return null;
  const cut = prng.pick(cuts);
  const first: WatchStream = { ...stream, responses: stream.responses.slice(0, cut) };
  let lastEvent = stream.startRevision - 1;
  let lastVouched = lastEvent;
  for (const r of first.responses) {
    for (const e of r.events) lastEvent = Math.max(lastEvent, e.modRevision);
    if (r.progressNotify) lastVouched = Math.max(lastVouched, r.revision);
  }
  const start = (lastVouched > lastEvent && prng.chance(0.5) ? lastVouched : lastEvent) + 1;
  const second: WatchStream = { ...stream, name: `${stream.name} resumed`, startRevision: start, responses: stream.responses.slice(cut) };
  return [first, second];
}
