#!/usr/bin/env node
// The long simulation run (docs/robustness.md), on demand, never in CI:
//
//   npm run sim:long -- [--seeds 10000] [--from 1] [--ops 300] [--stores real|model]
//                       [--workload watch-lease|plain] [--out sim-long-run.json]
//   npm run sim:long -- --rare 1000     hunt the rare mutants for up to 1000 seeds each
//
// Unlike the CI tests it does not stop at the first failing seed: every seed
// runs, failures are counted by the check that failed (and listed with their
// replay line), and at the end one summary is printed and written as JSON.
// Build first (npm run sim:long does); it runs the compiled tests in dist/.
// It is meant to run in the background for an hour or more, e.g. with
// `nice -n 10` on a shared machine; progress goes to stderr every 100 seeds.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { raftSim, watchLeaseSim } from '../dist/test/sim/ci-profile.js';
import { classify, hunt } from '../dist/test/sim/mutant-hunt.js';
import { mutations } from '../dist/test/sim/mutations.js';
import { raftMutants } from '../dist/test/sim/raft-mutations.js';
import { checkedProperties, summarize } from '../dist/test/sim/seed-runner.js';
import { runSeed } from '../dist/test/sim/simulator.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10000' },
    from: { type: 'string', default: '1' },
    ops: { type: 'string', default: '300' },
    stores: { type: 'string', default: 'real' },
    workload: { type: 'string', default: 'watch-lease' },
    out: { type: 'string', default: 'sim-long-run.json' },
    rare: { type: 'string' },
  },
});

function positive(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

function quantile(xs, q) {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function longRun() {
  const seeds = positive('seeds', values.seeds);
  const from = positive('from', values.from);
  const ops = positive('ops', values.ops);
  if (!['real', 'model'].includes(values.stores)) throw new Error('--stores must be real or model');
  if (!['watch-lease', 'plain'].includes(values.workload)) throw new Error('--workload must be watch-lease or plain');
  const options = { ops, stores: values.stores, watchLease: values.workload === 'watch-lease' };
  const started = Date.now();
  const reports = [];
  const failures = [];
  const violations = new Map();
  for (let seed = from; seed < from + seeds; seed++) {
    try {
      const { trace: _trace, ...report } = await runSeed({ ...options, seed });
      reports.push(report);
    } catch (err) {
      const caughtBy = classify(err);
      violations.set(caughtBy, (violations.get(caughtBy) ?? 0) + 1);
      failures.push({ seed, caughtBy, message: err.message.split('\n')[0] });
      process.stderr.write(`seed ${seed} FAILED: ${err.message.split('\n')[0]}\n`);
    }
    const done = seed - from + 1;
    if (done % 100 === 0) {
      const s = (Date.now() - started) / 1000;
      process.stderr.write(`${done}/${seeds} seeds in ${s.toFixed(0)} s (${(done / s).toFixed(2)} seeds/s), ${failures.length} failed\n`);
    }
  }
  const elapsedS = (Date.now() - started) / 1000;
  const lines = reports.length > 0 ? summarize(reports, elapsedS, failures.length) : [];
  const classes = checkedProperties(reports);
  const summary = {
    options: { ...options, seeds, from },
    node: process.version,
    startedAt: new Date(started).toISOString(),
    elapsedS,
    seedsPerS: (seeds / elapsedS).toFixed(2),
    seedsPassed: reports.length,
    violationsByClass: Object.fromEntries(violations),
    classesChecked: classes,
    failures,
    operations: reports.reduce((n, r) => n + r.ops.writes + r.ops.reads, 0),
    operationsLinearized: reports.reduce((n, r) => n + r.lincheck.ops, 0),
    simulatedUnits: reports.reduce((n, r) => n + r.simUnits, 0),
    checkerMs: { p50: quantile(reports.map((r) => r.lincheck.ms), 0.5), p99: quantile(reports.map((r) => r.lincheck.ms), 0.99), max: Math.max(0, ...reports.map((r) => r.lincheck.ms)) },
    checkerStepsMax: Math.max(0, ...reports.map((r) => r.lincheck.steps)),
    summary: lines,
  };
  writeFileSync(values.out, JSON.stringify(summary, null, 2) + '\n');
  console.log([...lines, `violations by class: ${JSON.stringify(summary.violationsByClass)} (classes checked: ${classes})`, `written to ${values.out}`].join('\n'));
  if (failures.length > 0) process.exitCode = 1;
}

/** The mutants CI does not run (rare): how many seeds each takes, up to a bound. */
async function rareHunt() {
  const max = positive('rare', values.rare);
  const rows = [];
  const raft = Object.entries(raftMutants).filter(([, m]) => m.rare !== undefined);
  const watchLease = Object.entries(mutations).filter(([, m]) => m.rare !== undefined);
  for (const [name] of raft) rows.push({ table: 'raft', name, ...(await hunt({ ops: raftSim.ops, raftMutant: name }, max)) });
  for (const [name] of watchLease) rows.push({ table: 'watch/lease', name, ...(await hunt({ ops: watchLeaseSim.ops, watchLease: true, mutation: name }, max)) });
  for (const r of rows) console.log(`${r.table} ${r.name}: ${r.seed === undefined ? `not in ${max} seeds` : `seed ${r.seed}, caught by ${r.caughtBy}`} (${(r.elapsedMs / 1000).toFixed(0)} s)`);
  writeFileSync(values.out, JSON.stringify({ seedsMax: max, rows }, null, 2) + '\n');
}

await (values.rare !== undefined ? rareHunt() : longRun());
