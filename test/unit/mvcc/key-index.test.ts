import assert from 'node:assert/strict';
import { KeyIndex } from '../../../src/server/mvcc/key-index.js';

const rev = (main: number, sub = 0) => ({ main: BigInt(main), sub });

/** The worked example of key-index.ts: put(1); put(2); tombstone(3); put(4); tombstone(5). */
function example(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(rev(1));
  ki.put(rev(2));
  ki.tombstone(rev(3));
  ki.put(rev(4));
  ki.tombstone(rev(5));
  return ki;
}

function shape(ki: KeyIndex): string[] {
  return ki.generations.map((g) => g.revs.map((r) => `${r.main}.${r.sub}`).join(',') || '{}');
}

describe('KeyIndex', () => {
  it('keeps generations that close at each tombstone', () => {
    assert.deepEqual(shape(example()), ['1.0,2.0,3.0', '4.0,5.0', '{}']);
  });

  const reads: Array<[number, string | undefined]> = [
    [0, undefined], [1, '1:v1'], [2, '2:v2'], [3, undefined], [4, '4:v1'], [5, undefined], [6, undefined],
  ];
  for (const [at, want] of reads) {
    it(`reads the key at revision ${at} as ${want ?? 'absent'}`, () => {
      const hit = example().get(BigInt(at));
      assert.equal(hit === undefined ? undefined : `${hit.modified.main}:v${hit.version}`, want);
    });
  }

  it('reports the creation revision of the generation alive at the read', () => {
    assert.equal(example().get(2n)?.created.main, 1n);
    assert.equal(example().get(4n)?.created.main, 4n);
  });

  const compactions: Array<[number, string[], string[]]> = [
    [1, ['1.0,2.0,3.0', '4.0,5.0', '{}'], ['1_0']],
    [2, ['2.0,3.0', '4.0,5.0', '{}'], ['2_0']],
    [3, ['4.0,5.0', '{}'], ['3_0']],
    [4, ['4.0,5.0', '{}'], ['4_0']],
    [5, ['{}'], ['5_0']],
    [6, ['{}'], []],
  ];
  for (const [at, gens, kept] of compactions) {
    it(`compacts at ${at} to ${gens.join(' | ')} keeping [${kept.join(',')}]`, () => {
      const ki = example();
      const keep = new Set<string>();
      ki.compact(BigInt(at), keep);
      assert.deepEqual(shape(ki), gens);
      assert.deepEqual([...keep], kept);
    });
  }

  it('still reads the latest value at the compaction revision after compacting', () => {
    const ki = new KeyIndex('k');
    ki.put(rev(2));
    ki.put(rev(4));
    ki.put(rev(6));
    ki.compact(5n, new Set());
    assert.equal(ki.get(5n)?.modified.main, 4n);
    assert.equal(ki.get(5n)?.version, 2n);
    assert.equal(ki.get(7n)?.version, 3n);
  });

  it('refuses to tombstone a key that is not live', () => {
    const ki = new KeyIndex('k');
    assert.throws(() => ki.tombstone(rev(1)));
    ki.put(rev(2));
    ki.tombstone(rev(3));
    assert.throws(() => ki.tombstone(rev(4)));
  });

  it('asserts that revisions only grow', () => {
    const ki = new KeyIndex('k');
    ki.put(rev(5));
    assert.throws(() => ki.put(rev(4)));
  });

  it('lists revisions since a point for watch catch-up', () => {
    assert.deepEqual(example().since(3n).map((r) => Number(r.main)), [3, 4, 5]);
  });
});
