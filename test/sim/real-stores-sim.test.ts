/**
 * The seeded cluster simulation over the shipped stores (issue 12): every
 * member runs the real MVCC store, watchable store and lessor behind the
 * server's apply path (real-state-machine.ts), under the same faults,
 * workload and checks as the watch/lease simulation: Raft safety at every
 * step, a linearizable history equal to what the members applied, etcd's
 * six watch guarantees, the lease rules, and HashKV equal on every member
 * at the end.
 *
 *   SIM_REAL_SEEDS=2000 npx mocha ... real-stores-sim.test.js   more seeds
 *   SIM_SEED=123                                                replay one seed (prints its trace hash)
 *   SIM_REAL_OPS=1000                                           operations per seed
 *   SIM_TRACE=/tmp/trace.txt                                    with SIM_SEED: write the readable trace there
 *   SIM_MUTANT=revoke-leaves-a-key                              with one injected bug (real-mutations.ts): must fail
 */
import { realStoresSim } from './ci-profile.js';
import { envInt, envName } from './env.js';
import { realMutants } from './real-mutations.js';
import { runSeeds, seedsFromEnv, summarize } from './seed-runner.js';

describe('simulation over the shipped stores', function () {
  this.timeout(0);
  const seeds = seedsFromEnv('SIM_REAL_SEEDS', realStoresSim.seeds);
  const ops = envInt('SIM_REAL_OPS') ?? realStoresSim.ops;
  const realMutant = envName('SIM_MUTANT', realMutants);

  it(`keeps Raft safe, the history linearizable, the watch guarantees and the lease rules over ${seeds.length} seed(s) x ${ops} ops`, async () => {
    const started = Date.now();
    const reports = await runSeeds({ ops, watchLease: true, stores: 'real', realMutant }, seeds);
    console.log(summarize(reports, (Date.now() - started) / 1000).map((l) => `      ${l}`).join('\n'));
  });
});
