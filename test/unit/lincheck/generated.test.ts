import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOperations, type Operation } from '../../support/lincheck/checker.js';
import { committedHistory, etcdModel, patchUnknownWrites, plainEtcdModel, type EtcdOperation } from '../../support/lincheck/etcd-model.js';
import { registerModel, type RegisterInput, type RegisterOutput } from '../../support/lincheck/register-model.js';
import { bruteForceLinearizable, isValidLinearization } from './brute-force.js';
import { alwaysIllegalKinds, generateHistory, mutate, mutationKinds, Prng, type GenerateOptions, type MutationKind } from './generate.js';

/** A spread of shapes: few or many clients and keys, with and without lost requests. */
function shape(seed: number, opsMin: number, opsMax: number, clientsMax: number, keysMax: number): GenerateOptions {
  const p = new Prng(seed * 7919 + 1);
  return {
    seed,
    ops: opsMin + p.int(opsMax - opsMin + 1),
    clients: 2 + p.int(clientsMax - 1),
    keys: 1 + p.int(keysMax),
    unknownRate: p.next() * 0.15,
  };
}

const verdictOf = (linearizable: boolean) => (linearizable ? 'ok' : 'illegal');

/** Renames every value v<n> to v<n mod 2> in requests and answers alike. */
function reuseValues(ops: readonly EtcdOperation[]): EtcdOperation[] {
  const rename = (text: string) => text.replace(/"v(\d+)"/g, (_, n: string) => `"v${Number(n) % 2}"`);
  return ops.map((o) => ({
    ...o,
    input: JSON.parse(rename(JSON.stringify(o.input))) as EtcdOperation['input'],
    output: o.output === undefined ? undefined : JSON.parse(rename(JSON.stringify(o.output))) as EtcdOperation['output'],
  }));
}

describe('lincheck: generated histories', function () {
  this.timeout(120_000);

  it('accepts 1,000 valid histories and returns a valid linearization for each', () => {
    for (let seed = 0; seed < 1000; seed++) {
      const options = shape(seed, 20, 200, 12, 6);
      const { ops } = generateHistory(options);
      const result = checkOperations(etcdModel, ops, { timeoutMs: 10_000 });
      assert.equal(result.verdict, 'ok', `seed ${seed} ${JSON.stringify(options)}\n${result.explanation}`);
      assert.ok(isValidLinearization(etcdModel, ops, result.linearization!), `seed ${seed}: bad linearization`);
    }
  });

  it('agrees with the brute-force oracle on 1,000 small histories and all their mutations', () => {
    const tally = new Map<MutationKind, { made: number; illegal: number; detected: number }>();
    for (let seed = 0; seed < 1000; seed++) {
      const { ops } = generateHistory(shape(seed, 4, 12, 4, 3));
      assert.ok(bruteForceLinearizable(etcdModel, ops), `seed ${seed}: generator made an invalid history`);
      assert.equal(checkOperations(etcdModel, ops).verdict, 'ok', `seed ${seed}`);
      const prng = new Prng(seed);
      for (const kind of mutationKinds) {
        const mutant = mutate(ops, kind, prng);
        if (!mutant) continue;
        const t = tally.get(kind) ?? { made: 0, illegal: 0, detected: 0 };
        tally.set(kind, t);
        const expected = verdictOf(bruteForceLinearizable(etcdModel, mutant));
        const actual = checkOperations(etcdModel, mutant).verdict;
        assert.equal(actual, expected, `seed ${seed}, ${kind}: ${JSON.stringify(mutant)}`);
        assert.equal(checkOperations(plainEtcdModel, mutant).verdict, expected, `seed ${seed}, ${kind}, plain model`);
        t.made++;
        if (expected === 'illegal') t.illegal++;
        if (expected === 'illegal' && actual === 'illegal') t.detected++;
      }
    }
    const lines = [...tally].map(([kind, t]) => `${kind}: ${t.detected}/${t.illegal} illegal detected (${t.made - t.illegal} of ${t.made} mutants still linearizable, accepted)`);
    console.log(`      mutation detection vs brute force:\n        ${lines.join('\n        ')}`);
  });

  it('detects every mutation that is illegal by construction in 300 longer histories', () => {
    let detected = 0;
    let made = 0;
    for (let seed = 0; seed < 300; seed++) {
      const { ops } = generateHistory(shape(seed, 100, 200, 10, 5));
      const prng = new Prng(seed);
      for (const kind of alwaysIllegalKinds) {
        const mutant = mutate(ops, kind, prng, true);
        if (!mutant) continue;
        made++;
        const result = checkOperations(etcdModel, mutant, { timeoutMs: 10_000 });
        assert.equal(result.verdict, 'illegal', `seed ${seed}, ${kind}`);
        detected++;
      }
    }
    console.log(`      strict mutations detected: ${detected}/${made}`);
  });

  it('checks 1,000 operations from 10 clients and 10,000 from 20 clients, with lost requests', () => {
    for (const options of [{ seed: 1, ops: 1000, clients: 10, keys: 5, unknownRate: 0.05 }, { seed: 1, ops: 10_000, clients: 20, keys: 5, unknownRate: 0.05 }]) {
      const { ops } = generateHistory(options);
      const result = checkOperations(etcdModel, ops, { timeoutMs: 60_000 });
      assert.equal(result.verdict, 'ok', JSON.stringify(options));
      assert.ok(isValidLinearization(etcdModel, ops, result.linearization!));
    }
  });

  it('gives the same verdicts after patching unknown writes from reads', () => {
    for (let seed = 0; seed < 150; seed++) {
      const { ops } = generateHistory({ ...shape(seed, 4, 12, 4, 3), unknownRate: 0.3 });
      const prng = new Prng(seed);
      for (const kind of mutationKinds) {
        const mutant = mutate(ops, kind, prng) ?? ops;
        const patched = patchUnknownWrites(mutant);
        assert.equal(checkOperations(etcdModel, patched).verdict, verdictOf(bruteForceLinearizable(etcdModel, mutant)), `seed ${seed} ${kind}`);
      }
    }
  });

  it('patching from the complete ground truth keeps valid histories valid and illegal ones illegal', () => {
    for (let seed = 0; seed < 150; seed++) {
      const { ops, applied } = generateHistory({ ...shape(seed, 4, 12, 4, 3), unknownRate: 0.3 });
      const truth = { history: committedHistory(ops, applied), historyComplete: true };
      assert.equal(checkOperations(etcdModel, patchUnknownWrites(ops, truth)).verdict, 'ok', `seed ${seed}`);
      const prng = new Prng(seed);
      for (const kind of mutationKinds) {
        const mutant = mutate(ops, kind, prng);
        if (!mutant || bruteForceLinearizable(etcdModel, mutant)) continue;
        // The truth only narrows the choices: what is illegal stays illegal.
        assert.equal(checkOperations(etcdModel, patchUnknownWrites(mutant, truth)).verdict, 'illegal', `seed ${seed} ${kind}`);
      }
    }
  });
});

describe('lincheck: checker vs brute force (fast-check)', () => {
  const registerOp = fc.record({
    kind: fc.constantFrom('read', 'write', 'cas'),
    a: fc.integer({ min: 0, max: 2 }),
    b: fc.integer({ min: 0, max: 2 }),
    nullRead: fc.boolean(),
    ok: fc.boolean(),
    call: fc.integer({ min: 0, max: 20 }),
    length: fc.integer({ min: 0, max: 8 }),
    unknown: fc.integer({ min: 0, max: 6 }),
  }).map(({ kind, a, b, nullRead, ok, call, length, unknown }, ): Operation<RegisterInput, RegisterOutput | undefined> => {
    const lost = unknown === 0;
    const input: RegisterInput = kind === 'read' ? { type: 'read' } : kind === 'write' ? { type: 'write', value: a } : { type: 'cas', from: a, to: b };
    const output: RegisterOutput = kind === 'read' ? { value: nullRead ? null : a } : kind === 'write' ? {} : { ok };
    return { clientId: 0, input, output: lost ? undefined : output, call, return: lost ? Infinity : call + length };
  });

  it('agrees on random register histories', () => {
    fc.assert(
      fc.property(fc.array(registerOp, { minLength: 1, maxLength: 9 }), (ops) => {
        const expected = verdictOf(bruteForceLinearizable(registerModel, ops));
        assert.equal(checkOperations(registerModel, ops).verdict, expected);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('agrees on small etcd histories with random answers swapped in, and values reused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }), fc.boolean(), (seed, swaps, reuse) => {
        const { ops } = generateHistory({ seed, ops: 8, clients: 3, keys: 2, unknownRate: 0.15 });
        // Reusing values turns off the model's unique-value shortcuts.
        const mutant = (reuse ? reuseValues(ops) : ops).map((o) => ({ ...o }));
        for (const [i, j] of swaps) {
          const a = mutant[i % mutant.length];
          const b = mutant[j % mutant.length];
          if (a.input.type === b.input.type && a.return !== Infinity && b.return !== Infinity) [a.output, b.output] = [b.output, a.output];
        }
        const expected = verdictOf(bruteForceLinearizable(etcdModel, mutant));
        assert.equal(checkOperations(etcdModel, mutant).verdict, expected);
        assert.equal(checkOperations(plainEtcdModel, mutant).verdict, expected);
      }),
      { numRuns: 1000, seed: 7 },
    );
  });
});
