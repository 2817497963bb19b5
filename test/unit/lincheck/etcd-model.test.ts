import assert from 'node:assert/strict';
import { checkOperations } from '../../support/lincheck/checker.js';
import {
  applyRequest, committedHistory, compare, del, etcdModel, EtcdState, get, patchUnknownWrites, plainEtcdModel, put, quickCheckEtcd, txn,
  type EtcdInput, type EtcdOperation, type EtcdOutput,
} from '../../support/lincheck/etcd-model.js';

/** Runs requests one after another on an empty store and returns every answer. */
function runSequentially(requests: EtcdInput[]): { outputs: EtcdOutput[]; state: EtcdState } {
  let state = EtcdState.empty();
  const outputs = requests.map((r) => {
    const applied = applyRequest(state, r);
    state = applied.state;
    return applied.output;
  });
  return { outputs, state };
}

let nextClient = 0;
const op = (input: EtcdInput, output: EtcdOutput | undefined, call: number, ret: number): EtcdOperation =>
  ({ clientId: nextClient++, input, output, call, return: ret });
/** The verdict, which the model with and without its history-based shortcuts must agree on. */
function verdict(ops: EtcdOperation[]): string {
  const fast = checkOperations(etcdModel, ops).verdict;
  assert.equal(checkOperations(plainEtcdModel, ops).verdict, fast, 'shortcuts changed the verdict');
  return fast;
}

describe('lincheck: etcd model', () => {
  describe('sequential semantics', () => {
    it('starts an empty store at revision 1', () => {
      assert.deepEqual(runSequentially([get('a')]).outputs, [{ value: null, modRevision: 0, revision: 1 }]);
    });

    it('gives every put the next revision and tracks create revision and version', () => {
      const { outputs, state } = runSequentially([put('a', '1'), put('b', '2'), put('a', '3'), get('a')]);
      assert.deepEqual(outputs, [{ revision: 2 }, { revision: 3 }, { revision: 4 }, { value: '3', modRevision: 4, revision: 4 }]);
      assert.deepEqual(state.get('a'), { value: '3', modRevision: 4, createRevision: 2, version: 2 });
    });

    it('does not spend a revision on deleting a missing key', () => {
      const { outputs } = runSequentially([del('a'), put('a', '1'), del('a'), del('a')]);
      assert.deepEqual(outputs, [{ deleted: 0, revision: 1 }, { revision: 2 }, { deleted: 1, revision: 3 }, { deleted: 0, revision: 3 }]);
    });

    it('starts a new incarnation when a deleted key is written again', () => {
      const { state } = runSequentially([put('a', '1'), put('a', '2'), del('a'), put('a', '3')]);
      assert.deepEqual(state.get('a'), { value: '3', modRevision: 5, createRevision: 5, version: 1 });
    });

    it('gives a txn one revision however many keys it writes, and sees its own writes', () => {
      const { outputs, state } = runSequentially([txn([], [put('a', '1'), put('b', '2'), get('a')])]);
      assert.deepEqual(outputs, [{ succeeded: true, revision: 2, results: [{}, {}, { value: '1', modRevision: 2 }] }]);
      assert.equal(state.get('b')?.modRevision, 2);
    });

    it('does not spend a revision on a txn that writes nothing', () => {
      const { outputs } = runSequentially([txn([], [get('a')]), txn([], [del('a')])]);
      assert.deepEqual(outputs.map((o) => o.revision), [1, 1]);
    });

    const compareCases: { name: string; setup: EtcdInput[]; cmp: ReturnType<typeof compare>; expected: boolean }[] = [
      { name: 'mod == current mod revision', setup: [put('a', 'x')], cmp: compare('a', 'mod', '==', 2), expected: true },
      { name: 'mod == a stale revision', setup: [put('a', 'x'), put('a', 'y')], cmp: compare('a', 'mod', '==', 2), expected: false },
      { name: 'version > 0 on an existing key', setup: [put('a', 'x')], cmp: compare('a', 'version', '>', 0), expected: true },
      { name: 'create == 0 on a missing key', setup: [], cmp: compare('a', 'create', '==', 0), expected: true },
      { name: 'mod == 0 on a missing key', setup: [], cmp: compare('a', 'mod', '==', 0), expected: true },
      { name: 'version < 1 on a missing key', setup: [], cmp: compare('a', 'version', '<', 1), expected: true },
      { name: 'value == on a missing key (always false)', setup: [], cmp: compare('a', 'value', '==', ''), expected: false },
      { name: 'value != on a missing key (always false)', setup: [], cmp: compare('a', 'value', '!=', 'x'), expected: false },
      { name: 'value == the current value', setup: [put('a', 'x')], cmp: compare('a', 'value', '==', 'x'), expected: true },
      { name: 'value < by bytes', setup: [put('a', 'abc')], cmp: compare('a', 'value', '<', 'abd'), expected: true },
      { name: 'value > by bytes', setup: [put('a', 'b')], cmp: compare('a', 'value', '>', 'abc'), expected: true },
    ];
    for (const c of compareCases) {
      it(`evaluates the compare ${c.name} as ${c.expected}`, () => {
        const { outputs } = runSequentially([...c.setup, txn([c.cmp], [get('a')], [])]);
        assert.equal((outputs[outputs.length - 1] as { succeeded: boolean }).succeeded, c.expected);
      });
    }

    it('keys states by content, so equal stores reached differently are equal', () => {
      const key = (requests: EtcdInput[]) => etcdModel.key(runSequentially(requests).state);
      assert.equal(key([txn([], [put('x', '1'), put('y', '2')])]), key([txn([], [put('y', '2'), put('x', '1')])]));
      assert.equal(key([put('x', '1'), del('gone'), put('y', '2')]), key([put('x', '1'), put('y', '2')]));
      assert.notEqual(key([put('x', '1'), put('y', '2')]), key([put('y', '2'), put('x', '1')]), 'mod revisions differ');
      assert.notEqual(key([put('x', '1')]), key([put('x', '2')]));
    });
  });

  describe('histories', () => {
    it('accepts a get overlapping a put that sees either side', () => {
      assert.equal(verdict([op(put('a', '1'), { revision: 2 }, 0, 10), op(get('a'), { value: null, modRevision: 0, revision: 1 }, 1, 2)]), 'ok');
      assert.equal(verdict([op(put('a', '1'), { revision: 2 }, 0, 10), op(get('a'), { value: '1', modRevision: 2, revision: 2 }, 1, 2)]), 'ok');
    });

    it('rejects a stale read: a get after an acknowledged put sees the old value and revision', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 1), op(get('a'), { value: null, modRevision: 0, revision: 1 }, 2, 3)];
      assert.equal(verdict(ops), 'illegal');
    });

    it('rejects a lost write: a later get at a newer revision misses an acknowledged put', () => {
      const ops = [
        op(put('a', '1'), { revision: 2 }, 0, 1),
        op(put('a', '2'), { revision: 3 }, 2, 3),
        op(put('b', '3'), { revision: 4 }, 4, 5),
        op(get('a'), { value: '1', modRevision: 2, revision: 4 }, 6, 7),
      ];
      assert.equal(verdict(ops), 'illegal');
    });

    it('rejects a revision going backwards between sequential reads', () => {
      const ops = [
        op(put('a', '1'), { revision: 2 }, 0, 1),
        op(get('b'), { value: null, modRevision: 0, revision: 2 }, 2, 3),
        op(get('b'), { value: null, modRevision: 0, revision: 1 }, 4, 5),
      ];
      assert.equal(verdict(ops), 'illegal');
    });

    it('rejects a read of a value never written', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 1), op(get('a'), { value: 'ghost', modRevision: 2, revision: 2 }, 2, 3)];
      assert.equal(verdict(ops), 'illegal');
    });

    it('rejects two puts that claim the same revision', () => {
      assert.equal(verdict([op(put('a', '1'), { revision: 2 }, 0, 10), op(put('b', '2'), { revision: 2 }, 0, 10)]), 'illegal');
    });

    it('accepts overlapping puts only in the order their revisions give', () => {
      const puts = [op(put('a', 'x'), { revision: 3 }, 0, 10), op(put('a', 'y'), { revision: 2 }, 0, 10)];
      assert.equal(verdict([...puts, op(get('a'), { value: 'x', modRevision: 3, revision: 3 }, 11, 12)]), 'ok');
      assert.equal(verdict([...puts, op(get('a'), { value: 'y', modRevision: 2, revision: 3 }, 11, 12)]), 'illegal');
    });

    it('lets only one of two concurrent compare-and-swaps on the same revision succeed', () => {
      const casA = (ok: boolean) => op(txn([compare('k', 'mod', '==', 2)], [put('k', 'a')], [get('k')]),
        ok ? { succeeded: true, revision: 3, results: [{}] } : { succeeded: false, revision: 3, results: [{ value: 'b', modRevision: 3 }] }, 2, 10);
      const casB = (ok: boolean) => op(txn([compare('k', 'mod', '==', 2)], [put('k', 'b')], [get('k')]),
        ok ? { succeeded: true, revision: 3, results: [{}] } : { succeeded: false, revision: 3, results: [{ value: 'a', modRevision: 3 }] }, 2, 10);
      const init = op(put('k', '0'), { revision: 2 }, 0, 1);
      assert.equal(verdict([init, casA(true), casB(false)]), 'ok');
      assert.equal(verdict([init, casA(false), casB(true)]), 'ok');
      assert.equal(verdict([init, casA(true), casB(true)]), 'illegal', 'both swapped');
      assert.equal(verdict([init, casA(false), casB(false)]), 'illegal', 'neither swapped, yet each saw the other');
    });

    it('accepts an unknown put that took effect, seen by a later get and a revision gap', () => {
      const ops = [
        op(put('a', '1'), undefined, 0, Infinity),
        op(put('b', '2'), { revision: 3 }, 5, 6),
        op(get('a'), { value: '1', modRevision: 2, revision: 3 }, 7, 8),
      ];
      assert.equal(verdict(ops), 'ok');
    });

    it('accepts an unknown put that never took effect', () => {
      const ops = [op(put('a', '1'), undefined, 0, Infinity), op(put('b', '2'), { revision: 2 }, 5, 6), op(get('a'), { value: null, modRevision: 0, revision: 2 }, 7, 8)];
      assert.equal(verdict(ops), 'ok');
    });

    it('rejects a revision gap that no unknown write can fill', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 1), op(put('b', '2'), { revision: 4 }, 2, 3)];
      assert.equal(verdict(ops), 'illegal');
    });
  });

  describe('patching and history', () => {
    const ops = [
      op(put('a', 'seen'), undefined, 0, Infinity),
      op(put('b', 'lost'), undefined, 0, Infinity),
      op(get('a'), { value: 'seen', modRevision: 2, revision: 2 }, 3, 4),
    ];

    it('pins an unknown put that a read observed to its revision, bounded by that read', () => {
      const patched = patchUnknownWrites(ops);
      assert.deepEqual(patched[0], { ...ops[0], output: { revision: 2 }, return: 4 });
      assert.equal(patched[1], ops[1]);
      assert.equal(verdict(patched), 'ok');
    });

    it('drops an unknown put absent from a complete committed history', () => {
      const history = [{ revision: 2, events: [{ type: 'put' as const, key: 'a', value: 'seen', modRevision: 2 }] }];
      const patched = patchUnknownWrites(ops, { history, historyComplete: true });
      assert.deepEqual(patched.map((o) => (o.input as { value?: string }).value ?? 'get'), ['seen', 'get']);
    });

    it('settles unknown writes from a complete history: replays a txn, drops what never ran', () => {
      const cas = txn([compare('a', 'mod', '==', 2)], [put('a', 'swapped')], [get('a')]);
      const unknown = [
        op(put('a', '1'), { revision: 2 }, 0, 1),
        op(cas, undefined, 2, Infinity),
        op(txn([], [put('b', 'never')], [put('b', 'never-either')]), undefined, 2, Infinity),
        op(del('b'), undefined, 2, Infinity),
        op(get('a'), { value: 'swapped', modRevision: 3, revision: 3 }, 10, 11),
      ];
      const history = committedHistory(unknown, [0, 1]);
      const patched = patchUnknownWrites(unknown, { history, historyComplete: true });
      assert.equal(patched.length, 3, 'the txn that never ran and the delete that found nothing are gone');
      assert.deepEqual(patched[1], { ...unknown[1], output: { succeeded: true, revision: 3, results: [{}] }, return: 11 });
      assert.equal(verdict(patched), 'ok');
    });

    it('refuses to patch when a value is written twice', () => {
      const twice = [op(put('a', 'v'), undefined, 0, Infinity), op(put('a', 'v'), { revision: 2 }, 0, 1)];
      assert.throws(() => patchUnknownWrites(twice), /unique written values/);
    });

    it('derives the committed history of a linearization, one entry per writing revision', () => {
      const history = [op(put('a', '1'), { revision: 2 }, 0, 1), op(del('zz'), { deleted: 0, revision: 2 }, 2, 3),
        op(txn([], [put('b', '2'), del('a')]), { succeeded: true, revision: 3, results: [{}, { deleted: 1 }] }, 4, 5)];
      const result = checkOperations(etcdModel, history);
      assert.equal(result.verdict, 'ok');
      assert.deepEqual(committedHistory(history, result.linearization!), [
        { revision: 2, events: [{ type: 'put', key: 'a', value: '1', modRevision: 2, createRevision: 2, version: 1 }] },
        { revision: 3, events: [{ type: 'put', key: 'b', value: '2', modRevision: 3, createRevision: 3, version: 1 }, { type: 'delete', key: 'a', modRevision: 3 }] },
      ]);
    });

    it('describes requests and the store in explanations of the search', () => {
      const result = checkOperations(plainEtcdModel, [op(put('a', '1'), { revision: 2 }, 0, 1), op(get('a'), { value: null, modRevision: 0, revision: 1 }, 2, 3)]);
      assert.match(result.explanation ?? '', /state after it: revision 2 \{a="1" \(mod 2, create 2, v1\)\}/);
      assert.match(result.explanation ?? '', /get\(a\) -> missing @rev 1: impossible in this state/);
    });
  });

  describe('quick check', () => {
    it('reports a revision that goes back in real time', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 1), op(get('a'), { value: null, modRevision: 0, revision: 1 }, 2, 3)];
      assert.match(quickCheckEtcd(ops) ?? '', /^#1 \(client \d+, \[2\.000, 3\.000\]\) get\(a\) -> missing @rev 1 reports revision 1, but #0 .* put\(a, "1"\) -> ok @rev 2 returned before it was called$/);
    });

    it('reports a write that does not move the revision past an earlier one', () => {
      const ops = [op(put('b', '0'), undefined, 0, Infinity), op(get('a'), { value: null, modRevision: 0, revision: 2 }, 0, 1), op(put('a', '1'), { revision: 2 }, 2, 3)];
      assert.match(quickCheckEtcd(ops) ?? '', /put\(a, "1"\) -> ok @rev 2 reports revision 2, but #1 .* returned before it was called/);
    });

    it('reports two writes of one revision', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 10), op(put('b', '2'), { revision: 2 }, 0, 10)];
      assert.match(quickCheckEtcd(ops) ?? '', /two writes produced revision 2/);
    });

    it('reports a read that misses a write of the key at or before its revision', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 10), op(put('a', '2'), { revision: 3 }, 0, 10), op(get('a'), { value: '1', modRevision: 2, revision: 3 }, 0, 10)];
      assert.match(quickCheckEtcd(ops) ?? '', /saw a as written at revision 2, but #1 .* wrote it at revision 3/);
    });

    it('reports a read of a value the write of that revision did not write', () => {
      const ops = [op(put('a', '1'), { revision: 2 }, 0, 10), op(get('a'), { value: 'other', modRevision: 2, revision: 2 }, 0, 10)];
      assert.match(quickCheckEtcd(ops) ?? '', /saw a="other" written at revision 2, but that revision was #0/);
    });

    it('reports an answer no store could give, such as a txn answering the other branch', () => {
      const cas = txn([compare('a', 'mod', '==', 0)], [put('a', '1')], [get('a')]);
      assert.match(quickCheckEtcd([op(cas, { succeeded: false, revision: 2, results: [{}] }, 0, 1)]) ?? '',
        /is impossible in any state: result 0 answers a put, but op 0 is a get/);
      assert.match(quickCheckEtcd([op(get('a'), { value: 'x', modRevision: 5, revision: 4 }, 0, 1)]) ?? '', /mod revision 5 outside 2\.\.4/);
    });

    it('finds nothing in a valid history with unknown writes', () => {
      const ops = [op(put('a', '1'), undefined, 0, Infinity), op(put('b', '2'), { revision: 3 }, 5, 6), op(get('a'), { value: '1', modRevision: 2, revision: 3 }, 7, 8)];
      assert.equal(quickCheckEtcd(ops), null);
    });
  });
});
