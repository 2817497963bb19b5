'use strict';
// Mocha's spec reporter plus two machine-readable lines at the end:
//   tests per tier: unit 1456, sim 40, e2e 120, cluster 20, compat 380, robustness 4
//   N passed, M failed, K skipped
// The tier of a test is the folder under test/ its file is in. The per-tier
// line shows that no tier silently shrank (a failing before-all hook, a file
// that no longer loads); .ci/run greps the last line, which must stay last.
const path = require('node:path');
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL } = Mocha.Runner.constants;

const tierOrder = ['unit', 'sim', 'e2e', 'cluster', 'compat', 'robustness'];

function tierOf(test) {
  const file = test.file ?? '';
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('test');
  return at >= 0 && at + 2 < parts.length ? parts[at + 1] : 'other';
}

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const ran = new Map();
    const count = (test) => ran.set(tierOf(test), (ran.get(tierOf(test)) ?? 0) + 1);
    runner.on(EVENT_TEST_PASS, count);
    runner.on(EVENT_TEST_FAIL, (test) => {
      // A failing hook is reported as a failed "test" with no file of its own tier counted: count tests only.
      if (test.type === 'test') count(test);
    });
    runner.once(EVENT_RUN_END, () => {
      const s = this.stats;
      const tiers = [...ran.keys()].sort((a, b) => rank(a) - rank(b)).map((t) => `${t} ${ran.get(t)}`);
      process.stdout.write(`\ntests per tier: ${tiers.join(', ') || 'none'}\n`);
      process.stdout.write(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

function rank(tier) {
  const i = tierOrder.indexOf(tier);
  return i < 0 ? tierOrder.length : i;
}

module.exports = SummaryReporter;
