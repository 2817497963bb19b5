/**
 * The mutation tables: each deliberate bug, switched on alone, must make
 * the simulation fail within its seed bound, and the check that failed is
 * reported. A checker that never fails proves nothing; these show which of
 * the simulation's checks stop which bug.
 *
 * Raft bugs (raft-mutations.ts) run the plain simulation, the watch and
 * lease bugs (mutations.ts) the watch/lease one over the models, the bugs
 * in the shipped stores (real-mutations.ts) the one over the shipped
 * stores, each with the seeds and operation counts of its CI run: every
 * seed a bug fails on is one the correct simulation passes in
 * raft-sim.test.ts, watch-lease-sim.test.ts or real-stores-sim.test.ts.
 * Bugs whose scenario the seeds almost never reach (`rare`) are listed and
 * not run here; the long run (scripts/sim-long-run.mjs) hunts them.
 *
 *   SIM_MUTANT=vote-twice npx mocha ... mutants.test.js   only this bug (Raft or watch/lease)
 */
import assert from 'node:assert/strict';
import { raftSim, realStoresSim, watchLeaseSim } from './ci-profile.js';
import { hunt, type Catch } from './mutant-hunt.js';
import type { SimOptions } from './simulator.js';
import { mutations, type Mutation, type MutationInfo } from './mutations.js';
import { raftMutants, type RaftMutant, type RaftMutantName } from './raft-mutations.js';
import { realMutants, type RealMutant, type RealMutantName } from './real-mutations.js';

/** Seeds a bug held to be harmless must pass (each would be a catch that refutes the reason given). */
const harmlessSeeds = 8;

const only = process.env.SIM_MUTANT;
const selected = (name: string) => only === undefined || only === '' || only === name;

interface Row {
  name: string;
  catch: Catch;
}

/** A test that hunts the bug within `seedsMax` seeds of `options` and records the row. */
function caughtWithin(rows: Row[], name: string, bug: string, seedsMax: number, ciSeeds: number, options: Omit<SimOptions, 'seed'>): void {
  it(`${name}: ${bug}; caught within ${seedsMax} seeds`, async () => {
    assert.ok(seedsMax <= ciSeeds, 'a bound within the seeds CI runs without the bug');
    const c = await hunt(options, seedsMax);
    rows.push({ name, catch: c });
    assert.ok(c.seed !== undefined, `not caught in ${seedsMax} seeds`);
  });
}

function table(rows: readonly Row[]): string {
  const lines = ['mutant | seeds to detection | caught by | ms', ...rows.map(({ name, catch: c }) => `${name} | ${c.seed ?? '-'} | ${c.caughtBy} | ${c.elapsedMs}`)];
  return lines.map((l) => `      ${l}`).join('\n');
}

describe('mutation tables: the simulation catches injected bugs', function () {
  this.timeout(0);

  describe('Raft', () => {
    const rows: Row[] = [];
    const entries = Object.entries(raftMutants) as Array<[RaftMutantName, RaftMutant]>;
    after(() => console.log(table(rows)));

    for (const [name, m] of entries) {
      if (m.rare !== undefined || m.seedsMax === undefined || !selected(name)) continue;
      caughtWithin(rows, name, m.bug, m.seedsMax, raftSim.seeds, { ops: raftSim.ops, raftMutant: name });
    }

    it('has 14 bugs the seeds catch and 5 rare ones, each with the reason', () => {
      const rare = entries.filter(([, m]) => m.rare !== undefined);
      assert.equal(entries.length - rare.length, 14);
      assert.deepEqual(rare.map(([name]) => name), ['commit-old-term', 'accept-stale-leader', 'stale-ack-counted', 'campaign-unapplied-conf', 'leader-counts-unwritten-log']);
      for (const [name, m] of entries) assert.ok((m.rare === undefined) !== (m.seedsMax === undefined), `${name}: either a seed bound or a reason it is rare`);
    });
  });

  describe('shipped stores', () => {
    const rows: Row[] = [];
    const entries = Object.entries(realMutants) as Array<[RealMutantName, RealMutant]>;
    after(() => console.log(table(rows)));

    for (const [name, m] of entries) {
      if (!selected(name)) continue;
      caughtWithin(rows, name, m.bug, m.seedsMax, realStoresSim.seeds, { ops: realStoresSim.ops, watchLease: true, stores: 'real', realMutant: name });
    }
  });

  describe('watch and lease', () => {
    const rows: Row[] = [];
    const entries = Object.entries(mutations) as Array<[Mutation, MutationInfo]>;
    after(() => console.log(table(rows)));

    for (const [name, m] of entries) {
      if (m.rare !== undefined || !selected(name)) continue;
      if (m.harmless !== undefined) {
        it(`${name}: ${m.bug}; harmless here, not caught in ${harmlessSeeds} seeds`, async () => {
          const c = await hunt({ ops: watchLeaseSim.ops, watchLease: true, mutation: name }, harmlessSeeds);
          rows.push({ name, catch: c });
          assert.equal(c.seed, undefined, `caught (${c.caughtBy}), which refutes why it was held harmless: ${m.harmless}`);
        });
        continue;
      }
      if (m.seedsMax === undefined) continue;
      caughtWithin(rows, name, m.bug, m.seedsMax, watchLeaseSim.seeds, { ops: watchLeaseSim.ops, watchLease: true, mutation: name });
    }

    it('has 15 bugs the seeds catch, 2 harmless ones and 1 rare one, each with the reason', () => {
      const kind = (m: MutationInfo) => (m.harmless !== undefined ? 'harmless' : m.rare !== undefined ? 'rare' : 'caught');
      const count = (k: string) => entries.filter(([, m]) => kind(m) === k).length;
      assert.deepEqual({ caught: count('caught'), harmless: count('harmless'), rare: count('rare') }, { caught: 15, harmless: 2, rare: 1 });
      for (const [name, m] of entries) assert.equal(kind(m) === 'caught', m.seedsMax !== undefined, `${name}: a seed bound exactly when it must be caught`);
    });
  });
});
