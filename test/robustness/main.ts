import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { killAll, removeTempDirs } from '../support/procs.js';
import { scenarios } from './faults.js';
import { powerLossCycles } from './power-loss-cycles.js';
import { chaosPlan, longProfile, plan, shortProfile, type SessionPlan } from './profiles.js';
import { renderReport } from './report.js';
import { runSession, type SessionReport } from './session.js';
import { violationCount } from './validate.js';

/**
 * npm run robustness -- --list
 * npm run robustness -- --scenario kill-leader,failpoint-raftBeforeSave --duration 30s
 * npm run robustness -- --all --profile short
 * npm run robustness -- --all --profile long --duration 60s --chaos 10m --report docs/robustness-processes.md
 * npm run robustness -- --power-loss 200
 *
 * Exits 0 when every session validated with no violation and every fault
 * fired, 1 otherwise (the violations are printed).
 */
const usage = 'usage: npm run robustness -- (--list | --scenario a,b | --chaos 10m | --all | --power-loss cycles) [--profile short|long] [--duration 30s] [--seed n] [--report file.md]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      list: { type: 'boolean' },
      all: { type: 'boolean' },
      scenario: { type: 'string' },
      profile: { type: 'string', default: 'short' },
      duration: { type: 'string' },
      chaos: { type: 'string' },
      seed: { type: 'string', default: '1' },
      report: { type: 'string' },
      'power-loss': { type: 'string' },
    },
  });
  if (values.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(42)} ${s.description}\n`);
    return 0;
  }
  const seed = Number(values.seed);
  if (values['power-loss'] !== undefined) return powerLossRun(Number(values['power-loss']), seed);
  const durationMs = values.duration === undefined ? 0 : parseDuration(values.duration);
  let plans: SessionPlan[];
  if (values.all && values.profile === 'long') plans = longProfile(seed, durationMs || 60_000, values.chaos === undefined ? 600_000 : parseDuration(values.chaos));
  else if (values.all) plans = shortProfile(seed);
  else if (values.scenario !== undefined) plans = [{ ...plan(`scenario/${values.scenario}`, values.scenario.split(','), seed), durationMs }];
  else if (values.chaos !== undefined) plans = [chaosPlan(seed, parseDuration(values.chaos))];
  else throw new Error(usage);
  const reports: SessionReport[] = [];
  let failed = 0;
  for (const p of plans) {
    const report = await runSession({ ...p, log: (line) => process.stderr.write(`${line}\n`) });
    reports.push(report);
    const violations = violationCount(report.validation);
    const unfired = report.faults.filter((f) => !f.fired);
    if (violations > 0 || unfired.length > 0) failed++;
    process.stderr.write(`${report.name}: ${report.validation.operations.total} operations, ${report.faults.length} faults (${unfired.length} did not fire), ${violations} violations, ${(report.wallMs / 1000).toFixed(1)} s\n`);
    for (const m of report.validation.messages) process.stderr.write(`  ${m}\n`);
    if (values.report !== undefined) writeFileSync(values.report, renderReport(reports, process.argv.slice(2).join(' ')));
  }
  return failed === 0 ? 0 : 1;
}

/** Power-loss cycles of one member, then of a whole 3-member cluster: 0 when nothing was lost or broken. */
async function powerLossRun(cycles: number, seed: number): Promise<number> {
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error(usage);
  let failed = 0;
  for (const members of [1, 3] as const) {
    const started = performance.now();
    const r = await powerLossCycles({ members, cycles, seed, writesPerCycle: 100 });
    const refusals = [...new Set(r.refusals)];
    process.stderr.write(
      `power loss, ${members} member(s): ${r.cycles} cycles, ${r.recovered} recovered, ${r.refusals.length} refused to start, ` +
        `${r.lost.length} acknowledged writes lost of ${r.acknowledged}, ${r.broken.length} broken starts, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );
    for (const line of [...refusals, ...r.lost.slice(0, 20), ...r.broken]) process.stderr.write(`  ${line}\n`);
    if (r.lost.length > 0 || r.broken.length > 0) failed++;
  }
  return failed === 0 ? 0 : 1;
}

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (match === null) throw new Error(`bad duration "${text}": use e.g. 500ms, 30s, 10m`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000;
}

main().then(
  async (code) => {
    await killAll();
    removeTempDirs();
    process.exit(code);
  },
  async (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    await killAll();
    removeTempDirs();
    process.exit(2);
  },
);
