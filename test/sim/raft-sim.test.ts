/**
 * The seeded cluster simulation (design.md §4.2). Each seed runs a 3- or
 * 5-member cluster through crashes, partitions, lossy links, membership
 * changes and leadership moves while clients read and write; safety is
 * checked at every step and the client history for linearizability.
 *
 *   SIM_SEEDS=500 npx mocha ... raft-sim.test.js   more seeds
 *   SIM_SEED=123  npx mocha ... raft-sim.test.js   replay one seed (prints its trace hash)
 *   SIM_OPS=1000                                   operations per seed
 *   SIM_TRACE=/tmp/trace.txt                       with SIM_SEED: write the readable trace there
 *   SIM_MUTANT=vote-twice                          with one injected Raft bug (raft-mutations.ts): must fail
 */
import { raftSim } from './ci-profile.js';
import { envInt, envName } from './env.js';
import { raftMutants } from './raft-mutations.js';
import { runSeeds, seedsFromEnv, summarize } from './seed-runner.js';

describe('raft simulation', function () {
  this.timeout(0);
  const seeds = seedsFromEnv('SIM_SEEDS', raftSim.seeds);
  const ops = envInt('SIM_OPS') ?? raftSim.ops;
  const raftMutant = envName('SIM_MUTANT', raftMutants);

  it(`keeps Raft safe and the KV history linearizable over ${seeds.length} seed(s) x ${ops} ops`, async () => {
    const started = Date.now();
    const reports = await runSeeds({ ops, raftMutant }, seeds);
    console.log(summarize(reports, (Date.now() - started) / 1000).map((l) => `      ${l}`).join('\n'));
  });
});
