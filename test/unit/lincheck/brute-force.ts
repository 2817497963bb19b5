// The test oracle: decides linearizability by trying every order of the operations that
// respects real time, with no memo, no candidate ordering and no pruning beyond the model
// rejecting a prefix. Exponential; for histories of a dozen operations.
import type { Model, Operation } from '../../support/lincheck/checker.js';

export function bruteForceLinearizable<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const done = new Array<boolean>(ops.length).fill(false);
  const finiteCount = ops.filter((o) => o.return !== Infinity).length;

  // An operation may go next when no pending completed operation returned before its call.
  const minimal = (i: number): boolean =>
    ops.every((o, j) => done[j] || j === i || o.return === Infinity || !(o.return < ops[i].call));

  const search = (state: S, linearisedFinite: number): boolean => {
    if (linearisedFinite === finiteCount) return true;
    for (let i = 0; i < ops.length; i++) {
      if (done[i] || !minimal(i)) continue;
      for (const next of model.step(state, ops[i].input, ops[i].output)) {
        done[i] = true;
        const ok = search(next, linearisedFinite + (ops[i].return === Infinity ? 0 : 1));
        done[i] = false;
        if (ok) return true;
      }
    }
    return false;
  };
  return search(model.init(), 0);
}

/**
 * Independent check of a linearization the checker returned: every completed operation
 * appears once, real-time order is respected, and the model accepts the sequence.
 */
export function isValidLinearization<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], order: readonly number[]): boolean {
  const position = new Map<number, number>();
  order.forEach((op, i) => position.set(op, i));
  if (position.size !== order.length) return false;
  for (let i = 0; i < ops.length; i++) {
    if (ops[i].return !== Infinity && !position.has(i)) return false;
  }
  // Real time: nothing may be placed after an operation that was called after it returned.
  let latestCall = Number.NEGATIVE_INFINITY;
  for (const i of order) {
    if (ops[i].return < latestCall) return false;
    latestCall = Math.max(latestCall, ops[i].call);
  }
  let states = [model.init()];
  for (const i of order) {
    const next = new Map<string, S>();
    for (const s of states) for (const t of model.step(s, ops[i].input, ops[i].output)) next.set(model.key(t), t);
    states = [...next.values()];
    if (states.length === 0) return false;
  }
  return true;
}
