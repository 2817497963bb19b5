import assert from 'node:assert/strict';

/** A non-negative integer from the environment (SIM_SEED, SIM_SEEDS, ...), undefined when unset or empty. */
export function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  assert.ok(Number.isInteger(n) && n >= 0, `${name} must be a non-negative integer, got ${v}`);
  return n;
}
