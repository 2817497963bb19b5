/**
 * Loaded with `node --import` by scenario-mutants.test.ts: switches the Raft
 * bug named in SIM_SCENARIO_MUTANT on in every node of the process (on the
 * prototypes), so that the scripted scenario tests of test/unit/raft run
 * against it.
 */
import { envName } from './env.js';
import { raftMutants } from './raft-mutations.js';

const name = envName('SIM_SCENARIO_MUTANT', raftMutants);
if (name === undefined) throw new Error('SIM_SCENARIO_MUTANT names no Raft bug');
const patchAll = (raftMutants[name] as { patchAll?: () => void }).patchAll;
if (patchAll === undefined) throw new Error(`${name} cannot be installed on the prototypes`);
patchAll();
