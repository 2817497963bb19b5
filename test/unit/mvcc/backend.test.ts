import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../../../src/server/mvcc/backend.js';

const key = (i: number) => Buffer.from(`k${String(i).padStart(6, '0')}`);

describe('backend: defragmentation while writes go on', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A backend with `count` 4 KiB values of which every other one was deleted again: half its pages are free. */
  async function fragmented(count: number): Promise<Backend> {
    const dir = mkdtempSync(join(tmpdir(), 'etcdts-backend-'));
    dirs.push(dir);
    const backend = Backend.open(join(dir, 'db'));
    for (let i = 0; i < count; i++) backend.put('key', key(i), Buffer.alloc(4096, i % 251));
    await backend.commit();
    for (let i = 0; i < count; i += 2) backend.delete('key', key(i));
    await backend.commit();
    return backend;
  }

  it('commits writes made during the copy into the new file, in order, and serves them meanwhile', async () => {
    const backend = await fragmented(2000);
    let swapped = false;
    const defrag = backend.defragment(async (swap) => {
      // Everything written before the swap is still readable, from the overlay.
      assert.deepEqual(backend.get('key', Buffer.from('during')), Buffer.from('second'));
      const result = await swap();
      swapped = true;
      return result;
    });
    while (!backend.defragmenting) await new Promise((resolve) => setImmediate(resolve));
    backend.put('key', Buffer.from('during'), Buffer.from('first'));
    const first = backend.commit();
    backend.put('key', Buffer.from('during'), Buffer.from('second'));
    backend.delete('key', key(1));
    const second = backend.commit();
    assert.deepEqual(backend.get('key', Buffer.from('during')), Buffer.from('second'));
    await Promise.all([first, second]);
    assert.ok(swapped, 'commits made during the copy resolve only once they are in the new file');
    const { before, after } = await defrag;
    assert.ok(after < before, `the file shrank (${before} -> ${after} bytes)`);
    assert.deepEqual(backend.get('key', Buffer.from('during')), Buffer.from('second'));
    assert.equal(backend.get('key', key(1)), undefined);
    assert.deepEqual(backend.get('key', key(3)), Buffer.alloc(4096, 3));
    const path = backend.path;
    await backend.close();
    const reopened = Backend.open(path);
    assert.deepEqual(reopened.get('key', Buffer.from('during')), Buffer.from('second'));
    assert.equal(reopened.get('key', key(1)), undefined);
    assert.equal(reopened.get('key', key(0)), undefined);
    await reopened.close();
  });

  it('counts the bytes its held commits keep in memory, and says when the copy is written', async () => {
    const backend = await fragmented(500);
    const defrag = backend.defragment(async (swap) => {
      let written = false;
      await Promise.race([backend.copyFinished().then(() => (written = true)), new Promise((resolve) => setImmediate(resolve))]);
      assert.ok(written, 'the copy is reported written before the swap');
      assert.equal(backend.heldBytes, 3 + 100, 'the held commit\'s key and value');
      return swap();
    });
    while (!backend.defragmenting) await new Promise((resolve) => setImmediate(resolve));
    backend.put('key', Buffer.from('new'), Buffer.alloc(100, 1));
    const held = backend.commit();
    await Promise.all([held, defrag]);
    assert.equal(backend.heldBytes, 0, 'nothing is held once the new file is in place');
    await backend.close();
  });
});
