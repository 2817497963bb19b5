import assert from 'node:assert/strict';

/** A non-negative integer from the environment (SIM_SEED, SIM_SEEDS, ...), undefined when unset or empty. */
export function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  assert.ok(Number.isInteger(n) && n >= 0, `${name} must be a non-negative integer, got ${v}`);
  return n;
}

/** A name from `table` given in the environment (SIM_MUTANT=...), undefined when unset or empty. */
export function envName<K extends string>(name: string, table: Readonly<Record<K, unknown>>): K | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  assert.ok(Object.hasOwn(table, v), `${name} must be one of ${Object.keys(table).join(', ')}`);
  return v as K;
}
