/**
 * Runs seeds with one injected bug until the simulation fails, and says
 * which check failed. Shared by the mutation tables and the long run.
 */
import { AssertionError } from 'node:assert';
import { SafetyViolation } from './invariants.js';
import { runSeed, type SimOptions } from './simulator.js';

export interface Catch {
  /** The first seed that failed, or undefined when none of `seedsMax` did. */
  seed: number | undefined;
  /** The check that failed: a safety property, or the assertion that stopped the run. */
  caughtBy: string;
  /** The failure's first line, for the report. */
  detail: string;
  elapsedMs: number;
}

/**
 * What caught a bug: the violated property for a SafetyViolation, else where
 * the failed assertion sits (Raft's own assertions, or the simulator's).
 * Anything else is not a catch: the injection itself is broken.
 */
export function classify(err: unknown): string {
  if (err instanceof SafetyViolation) return err.property;
  if (err instanceof AssertionError) return /src\/server\/raft\//.test(err.stack ?? '') ? 'Raft core assertion' : 'simulator assertion';
  throw err;
}

/** Runs seeds 1..seedsMax with `options` (seed filled in) until one fails. */
export async function hunt(options: Omit<SimOptions, 'seed'>, seedsMax: number): Promise<Catch> {
  const started = Date.now();
  for (let seed = 1; seed <= seedsMax; seed++) {
    try {
      await runSeed({ ...options, seed });
    } catch (err) {
      const caughtBy = classify(err);
      const message = (err as Error).message;
      const detail = message.replace(/^seed \d+ failed at time \d+ \(.*?\): /s, '').split('\n')[0]!.slice(0, 200);
      return { seed, caughtBy, detail, elapsedMs: Date.now() - started };
    }
  }
  return { seed: undefined, caughtBy: '-', detail: '', elapsedMs: Date.now() - started };
}
