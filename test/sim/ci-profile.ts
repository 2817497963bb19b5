/**
 * How much of each simulation CI runs (the environment variables of each
 * test override them for longer runs). The mutation tables hunt within
 * these seeds and operation counts, so that every seed a mutant fails on is
 * one the unmutated simulation passes in the same CI run.
 */
export const raftSim = { seeds: 100, ops: 700 };
export const watchLeaseSim = { seeds: 40, ops: 500 };
export const realStoresSim = { seeds: 300, ops: 300 };
