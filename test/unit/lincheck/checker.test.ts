import assert from 'node:assert/strict';
import { checkOperations, type Operation } from '../../support/lincheck/checker.js';
import { registerModel, type RegisterInput, type RegisterOutput } from '../../support/lincheck/register-model.js';

type Op = Operation<RegisterInput, RegisterOutput | undefined>;

// One client per operation unless given: real-time order is all that matters here.
let nextClient = 0;
const write = (value: number, call: number, ret: number, key?: string): Op =>
  ({ clientId: nextClient++, input: { type: 'write', key, value }, output: ret === Infinity ? undefined : {}, call, return: ret });
const read = (value: number | null, call: number, ret: number, key?: string): Op =>
  ({ clientId: nextClient++, input: { type: 'read', key }, output: { value }, call, return: ret });
const cas = (from: number, to: number, ok: boolean | undefined, call: number, ret: number): Op =>
  ({ clientId: nextClient++, input: { type: 'cas', from, to }, output: ok === undefined ? undefined : { ok }, call, return: ret });

const verdict = (ops: Op[]) => checkOperations(registerModel, ops).verdict;

describe('lincheck: checker on a register', () => {
  describe('completed operations', () => {
    const cases: { name: string; ops: Op[]; expected: 'ok' | 'illegal' }[] = [
      { name: 'an empty history', ops: [], expected: 'ok' },
      { name: 'sequential operations that follow the model', ops: [read(null, 0, 1), write(1, 2, 3), read(1, 4, 5)], expected: 'ok' },
      { name: 'a read overlapping a write that sees the old value', ops: [write(1, 0, 10), read(null, 2, 3)], expected: 'ok' },
      { name: 'a read overlapping a write that sees the new value', ops: [write(1, 0, 10), read(1, 2, 3)], expected: 'ok' },
      { name: 'a read of the old value after a read saw the new one', ops: [write(1, 0, 10), read(1, 1, 3), read(null, 4, 6)], expected: 'illegal' },
      { name: 'a read after a completed write that misses it', ops: [write(1, 0, 1), read(null, 2, 3)], expected: 'illegal' },
      { name: 'a read of a value nobody wrote', ops: [write(1, 0, 1), read(7, 2, 3)], expected: 'illegal' },
      { name: 'concurrent writes in the order later reads show', ops: [write(1, 0, 10), write(2, 0, 10), read(2, 11, 12), read(2, 13, 14)], expected: 'ok' },
      { name: 'concurrent writes seen in two orders', ops: [write(1, 0, 10), write(2, 0, 10), read(2, 11, 12), read(1, 13, 14)], expected: 'illegal' },
      { name: 'operations that touch in time, in either order', ops: [write(1, 0, 5), read(null, 5, 6)], expected: 'ok' },
      { name: 'a zero-length read inside a write', ops: [write(1, 0, 10), read(1, 4, 4), read(1, 5, 5)], expected: 'ok' },
      { name: 'a successful cas that saw the current value', ops: [write(1, 0, 1), cas(1, 2, true, 2, 3), read(2, 4, 5)], expected: 'ok' },
      { name: 'two successful cas from the same value', ops: [write(1, 0, 1), cas(1, 2, true, 2, 10), cas(1, 3, true, 2, 10)], expected: 'illegal' },
    ];
    for (const c of cases) {
      it(`${c.expected === 'ok' ? 'accepts' : 'rejects'} ${c.name}`, () => {
        assert.equal(verdict(c.ops), c.expected);
      });
    }

    it('does not take a write of the current value as a read (it changes the state elsewhere)', () => {
      // After write(1), the concurrent write(1)' must go after write(2) for the final read to
      // see 1. Treating write(1)' as a harmless no-op at state 1 would wrongly reject this.
      const ops = [write(1, 0, 1), write(1, 2, 20), write(2, 3, 4), read(1, 21, 22)];
      assert.equal(verdict(ops), 'ok');
    });
  });

  describe('operations with unknown outcome (return = Infinity)', () => {
    it('lets an unknown write take effect', () => {
      assert.equal(verdict([write(5, 0, Infinity), read(5, 10, 11)]), 'ok');
    });

    it('lets an unknown write never take effect', () => {
      assert.equal(verdict([write(5, 0, Infinity), read(null, 10, 11), read(null, 12, 13)]), 'ok');
    });

    it('lets an unknown write take effect long after its client moved on', () => {
      const first: Op = { ...write(5, 0, Infinity), clientId: 100 };
      const later: Op = { ...write(6, 5, 6), clientId: 100 };
      assert.equal(verdict([first, later, read(6, 7, 8), read(5, 100, 101)]), 'ok');
    });

    it('does not let an unknown write take effect before it was called', () => {
      assert.equal(verdict([read(5, 0, 1), write(5, 2, Infinity)]), 'illegal');
    });

    it('does not let an observed unknown write be undone', () => {
      assert.equal(verdict([write(0, 0, 1), write(5, 2, Infinity), read(5, 10, 11), read(0, 12, 13)]), 'illegal');
    });

    it('applies an unknown cas only when its compare holds', () => {
      assert.equal(verdict([write(1, 0, 1), cas(1, 2, undefined, 2, Infinity), read(2, 5, 6)]), 'ok');
      assert.equal(verdict([write(1, 0, 1), cas(3, 2, undefined, 2, Infinity), read(2, 5, 6)]), 'illegal');
    });

    it('treats identical unknown writes as interchangeable, so counting them is quick', () => {
      // Twenty lost write(1)s, then reads that need write(1) to happen again after each
      // completed write(0): twenty rounds fit, twenty-one do not.
      const history = (rounds: number) => {
        const ops: Op[] = Array.from({ length: 20 }, (_, i) => write(1, i, Infinity));
        for (let r = 0; r < rounds; r++) ops.push(write(0, 100 + 4 * r, 101 + 4 * r), read(1, 102 + 4 * r, 103 + 4 * r));
        return ops;
      };
      assert.equal(verdict(history(20)), 'ok');
      const result = checkOperations(registerModel, history(21), { stepsMax: 100_000 });
      assert.equal(result.verdict, 'illegal');
    });

    it('ignores unknown reads whatever they claim', () => {
      const lostRead: Op = { ...read(42, 0, Infinity), output: undefined };
      assert.equal(verdict([lostRead, write(1, 1, 2), read(1, 3, 4)]), 'ok');
    });
  });

  describe('results', () => {
    it('returns a linearization that respects real time and the model', () => {
      const ops = [write(1, 0, 10), write(2, 0, 10), read(2, 11, 12), write(3, 13, Infinity), read(3, 20, 21)];
      const result = checkOperations(registerModel, ops);
      assert.equal(result.verdict, 'ok');
      assert.deepEqual(result.linearization, [0, 1, 2, 3, 4]);
    });

    it('leaves unknown writes that never took effect out of the linearization', () => {
      const result = checkOperations(registerModel, [write(9, 0, Infinity), read(null, 5, 6)]);
      assert.deepEqual(result.linearization, [1]);
    });

    it('checks keys independently when the model partitions the history', () => {
      const ops = [write(1, 0, 1, 'a'), read(1, 2, 3, 'a'), write(1, 0, 1, 'b'), read(null, 2, 3, 'b')];
      const result = checkOperations(registerModel, ops);
      assert.equal(result.verdict, 'illegal');
      assert.deepEqual(result.partitions.map((p) => [p.verdict, p.operations]), [['ok', [0, 1]], ['illegal', [2, 3]]]);
      assert.deepEqual(result.longestPrefix, [2]);
    });

    it('explains an illegal history with the operation that cannot go next', () => {
      const result = checkOperations(registerModel, [write(1, 0, 1), read(null, 2, 3)]);
      assert.equal(result.verdict, 'illegal');
      assert.match(result.explanation ?? '', /longest linearizable prefix: 1 of 2 operations/);
      assert.match(result.explanation ?? '', /#1 client \d+ \[2, 3\] read\(\) -> \{"value":null\}: impossible in this state/);
    });

    it('answers unknown when the step budget runs out', () => {
      const ops = [write(1, 0, 10), write(2, 0, 10), write(3, 0, 10), read(1, 11, 12)];
      const result = checkOperations(registerModel, ops, { stepsMax: 2 });
      assert.equal(result.verdict, 'unknown');
      assert.match(result.explanation ?? '', /ran out of budget/);
    });

    it('is deterministic', () => {
      const ops = [write(1, 0, 10), write(2, 0, 10), write(3, 1, Infinity), read(3, 11, 12), read(2, 13, 14)];
      const a = checkOperations(registerModel, ops);
      const b = checkOperations(registerModel, ops);
      assert.deepEqual([a.verdict, a.longestPrefix, a.explanation, a.stats.steps], [b.verdict, b.longestPrefix, b.explanation, b.stats.steps]);
    });

    it('refuses an operation that returns before it is called', () => {
      assert.throws(() => checkOperations(registerModel, [write(1, 5, 4)]), /return 4 before call 5/);
    });
  });
});
