// A model of read / write / compare-and-set registers, one per key (the shape of Jepsen's
// etcd register test and of Porcupine's Jepsen logs). Registers are independent, so the
// model partitions histories by key (P-compositionality) and each key is checked alone.
import type { Model, Operation } from './checker.js';

export type RegisterInput =
  | { type: 'read'; key?: string }
  | { type: 'write'; key?: string; value: number }
  | { type: 'cas'; key?: string; from: number; to: number };

/** read: the value (null = never written); cas: whether it swapped; write: {}. */
export type RegisterOutput = { value: number | null } | { ok: boolean } | Record<string, never>;

/** The value of one register; null until the first write. */
export type RegisterState = number | null;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput | undefined> = {
  init: () => null,
  step(state, input, output) {
    switch (input.type) {
      case 'read':
        if (output === undefined) return [state];
        return (output as { value: number | null }).value === state ? [state] : [];
      case 'write':
        return output === undefined ? [input.value, state] : [input.value];
      case 'cas': {
        const swaps = state === input.from;
        if (output === undefined) return swaps ? [input.to, state] : [state];
        if ((output as { ok: boolean }).ok !== swaps) return [];
        return [swaps ? input.to : state];
      }
    }
  },
  key: (state) => (state === null ? 'null' : String(state)),
  isReadOnly: (input) => input.type === 'read',
  partition(ops: Operation<RegisterInput, RegisterOutput | undefined>[]) {
    const byKey = new Map<string, Operation<RegisterInput, RegisterOutput | undefined>[]>();
    for (const op of ops) {
      const k = op.input.key ?? '';
      const list = byKey.get(k);
      if (list) list.push(op);
      else byKey.set(k, [op]);
    }
    return [...byKey.values()];
  },
  describeOperation(input, output) {
    const key = input.key === undefined ? '' : `${input.key}: `;
    const out = output === undefined ? '?' : JSON.stringify(output);
    if (input.type === 'read') return `${key}read() -> ${out}`;
    if (input.type === 'write') return `${key}write(${input.value}) -> ${out}`;
    return `${key}cas(${input.from}, ${input.to}) -> ${out}`;
  },
};
