/**
 * The seeded cluster simulation with watches and leases (issue 4): besides
 * everything raft-sim checks, each seed runs watch clients that resume
 * across members and lease clients that keep leases alive through any
 * member, with clock skew between members, compaction, deletes and txns,
 * and checks etcd's six watch guarantees and the lease rules (sim-watch.ts,
 * lease-check.ts). The members run the models of the store, the watchable
 * store and the lessor (real-stores-sim.test.ts runs the shipped ones).
 *
 *   SIM_WL_SEEDS=200 npx mocha ... watch-lease-sim.test.js    more seeds
 *   SIM_SEED=123                                              replay one seed (prints its trace hash)
 *   SIM_WL_OPS=1000                                           operations per seed
 *   SIM_TRACE=/tmp/trace.txt                                  with SIM_SEED: write the readable trace there
 *   SIM_MUTANT=lease-early-expiry                             with one injected bug (mutations.ts): must fail
 *                                                             (mutants.test.ts runs them all)
 */
import { watchLeaseSim } from './ci-profile.js';
import { envInt, envName } from './env.js';
import { mutations } from './mutations.js';
import { runSeeds, seedsFromEnv, summarize } from './seed-runner.js';

describe('watch and lease simulation', function () {
  this.timeout(0);
  const seeds = seedsFromEnv('SIM_WL_SEEDS', watchLeaseSim.seeds);
  const ops = envInt('SIM_WL_OPS') ?? watchLeaseSim.ops;
  const mutation = envName('SIM_MUTANT', mutations);

  it(`keeps the watch guarantees and lease expiry over ${seeds.length} seed(s) x ${ops} ops`, async () => {
    const started = Date.now();
    const reports = await runSeeds({ ops, watchLease: true, mutation }, seeds);
    console.log(summarize(reports, (Date.now() - started) / 1000).map((l) => `      ${l}`).join('\n'));
  });
});
