// Checker timings on generated etcd histories (reported, never asserted).
// Run after a build: node dist/test/unit/lincheck/bench-checker.js [seeds]
import { checkOperations } from '../../support/lincheck/checker.js';
import { committedHistory, etcdModel, patchUnknownWrites } from '../../support/lincheck/etcd-model.js';
import { generateHistory, mutate, Prng } from './generate.js';

const seeds = Number(process.argv[2] ?? 5);
const shapes = [
  { ops: 1000, clients: 10, unknownRate: 0 },
  { ops: 1000, clients: 10, unknownRate: 0.05 },
  { ops: 1000, clients: 20, unknownRate: 0.05 },
  { ops: 10_000, clients: 10, unknownRate: 0 },
  { ops: 10_000, clients: 20, unknownRate: 0.05 },
  { ops: 10_000, clients: 10, unknownRate: 0.1 },
];

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

console.log('ops\tclients\tunknown\tvariant\tverdicts\tp50 ms\tmax ms\tmax steps');
for (const shape of shapes) {
  for (const variant of ['valid', 'valid+patch', 'valid+truth', 'lost-write', 'never-written', 'txn-flip']) {
    const times: number[] = [];
    const verdicts = new Map<string, number>();
    let steps = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const { ops, applied } = generateHistory({ seed, keys: 5, ...shape });
      const truth = { history: committedHistory(ops, applied), historyComplete: true };
      const history = variant === 'lost-write' || variant === 'never-written' || variant === 'txn-flip' ? mutate(ops, variant, new Prng(seed), true) ?? ops
        : variant === 'valid+patch' ? patchUnknownWrites(ops)
          : variant === 'valid+truth' ? patchUnknownWrites(ops, truth) : ops;
      const result = checkOperations(etcdModel, history, { timeoutMs: 60_000 });
      times.push(result.stats.elapsedMs);
      steps = Math.max(steps, result.stats.steps);
      // A verdict reached without search came from the model's quick check.
      const verdict = result.verdict === 'illegal' && result.stats.steps === 0 ? 'illegal(quick)' : result.verdict;
      verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
    }
    const v = [...verdicts].map(([k, n]) => `${k}:${n}`).join(' ');
    console.log(`${shape.ops}\t${shape.clients}\t${shape.unknownRate}\t${variant}\t${v}\t${pct(times, 0.5).toFixed(0)}\t${Math.max(...times).toFixed(0)}\t${steps}`);
  }
}
