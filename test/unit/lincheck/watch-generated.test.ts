import assert from 'node:assert/strict';
import { committedHistory } from '../../support/lincheck/etcd-model.js';
import { formatViolations, validateResumable, validateWatches, type WatchGuarantee } from '../../support/lincheck/watch-check.js';
import { generateHistory, Prng } from './generate.js';
import { breakAndResume, injectAnomaly, simulateWatch, watchAnomalies, type WatchAnomaly } from './watch-generate.js';

/** The guarantee each injected anomaly breaks. */
const breaks: Record<WatchAnomaly, WatchGuarantee> = {
  duplicate: 'unique',
  drop: 'reliable',
  reorder: 'ordered',
  'txn-order': 'ordered',
  split: 'atomic',
  'early-bookmark': 'bookmarkable',
  corrupt: 'consistent',
};

describe('lincheck: watch validators on generated streams', function () {
  this.timeout(60_000);

  it('accepts 1,000 correct watch streams and detects every injected anomaly', () => {
    const tally = new Map<WatchAnomaly, { injected: number; detected: number }>();
    for (let seed = 0; seed < 1000; seed++) {
      const keys = 1 + (seed % 5);
      const generated = generateHistory({ seed, ops: 60, clients: 4, keys, unknownRate: 0.05 });
      const history = committedHistory(generated.ops, generated.applied);
      const prng = new Prng(seed);
      const stream = simulateWatch(history, keys, prng, `watch ${seed}`);
      const clean = validateWatches({ streams: [stream], history });
      assert.deepEqual(clean, [], `seed ${seed}: false alarm\n${formatViolations(clean)}`);
      for (const kind of watchAnomalies) {
        const bad = injectAnomaly(stream, kind, prng);
        if (!bad) continue;
        const t = tally.get(kind) ?? { injected: 0, detected: 0 };
        tally.set(kind, t);
        t.injected++;
        const found = validateWatches({ streams: [bad], history });
        assert.ok(found.some((v) => v.guarantee === breaks[kind]), `seed ${seed}: ${kind} not detected as ${breaks[kind]}\n${formatViolations(found)}`);
        t.detected++;
      }
    }
    const lines = [...tally].map(([kind, t]) => `${kind}: ${t.detected}/${t.injected}`);
    console.log(`      watch anomalies detected: ${lines.join(', ')}`);
  });

  it('accepts 1,000 watches resumed where etcd would, and detects a lost or repeated first response', () => {
    let gaps = 0;
    let repeats = 0;
    for (let seed = 0; seed < 1000; seed++) {
      const keys = 1 + (seed % 5);
      const generated = generateHistory({ seed, ops: 60, clients: 4, keys, unknownRate: 0.05 });
      const history = committedHistory(generated.ops, generated.applied);
      const prng = new Prng(seed + 1);
      const links = breakAndResume(simulateWatch(history, keys, prng, `watch ${seed}`), prng);
      if (!links) continue;
      const [first, second] = links;
      assert.deepEqual(validateResumable(links, history), [], `seed ${seed}`);
      const firstEvents = second.responses.findIndex((r) => r.events.length > 0);
      if (firstEvents < 0) continue;
      // The resumed watch loses its first batch of events.
      const lost = { ...second, responses: second.responses.filter((_, i) => i !== firstEvents) };
      assert.ok(validateResumable([first, lost], history).length > 0, `seed ${seed}: gap after resume not detected`);
      gaps++;
      // The resumed watch starts again from the beginning of the broken one.
      const again = { ...second, responses: [...first.responses, ...second.responses] };
      if (first.responses.some((r) => r.events.length > 0)) {
        assert.ok(validateResumable([first, again], history).length > 0, `seed ${seed}: repeat after resume not detected`);
        repeats++;
      }
    }
    console.log(`      resumed watches: ${gaps} gaps and ${repeats} repeats injected, all detected`);
  });
});
