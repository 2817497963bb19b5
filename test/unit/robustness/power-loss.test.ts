import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Wal } from '../../../src/server/wal/wal.js';
import { dropUnsyncedWalTail } from '../../robustness/power-loss.js';
import { cleanupTempDirs, entries, hardState, Prng, tempDir } from '../wal/helpers.js';

/**
 * The power-loss model of the robustness runner: after a crash between a WAL
 * write and its fsync, the sectors of that last batch may or may not have
 * reached the disk, and everything before it has. The WAL must come back with
 * every earlier batch and a prefix of the last one.
 */
describe('power loss: dropping the unsynced WAL batch', () => {
  after(cleanupTempDirs);

  async function walWithBatches(): Promise<string> {
    const dataDir = tempDir('power-loss-');
    const dir = join(dataDir, 'member', 'wal');
    mkdirSync(join(dataDir, 'member'), { recursive: true });
    const wal = await Wal.create(dir, Buffer.from('meta'), { segmentBytes: 64 * 1024 });
    for (let i = 1n; i <= 40n; i += 4n) await wal.save(hardState(1n, 1n, i), entries(i, i + 3n, 1n));
    // The last batch: what the crash left unsynced. Large enough to span several sectors.
    await wal.save(hardState(1n, 1n, 44n), entries(41n, 60n, 1n, 'last-batch-entry-with-some-length-'));
    await wal.close();
    return dataDir;
  }

  async function recoveredIndexes(dataDir: string): Promise<bigint[]> {
    const opened = await Wal.open(join(dataDir, 'member', 'wal'), { index: 0n, term: 0n }, { segmentBytes: 64 * 1024 });
    await opened.wal.close();
    return opened.entries.map((e) => e.index);
  }

  it('measures exactly the last batch and, losing all of it, keeps every earlier batch', async () => {
    const dataDir = await walWithBatches();
    const dropped = await dropUnsyncedWalTail(dataDir, () => 0);
    assert.ok(dropped !== undefined);
    assert.ok(dropped.unsyncedBytes > 1024, `last batch is ${dropped.unsyncedBytes} bytes`);
    assert.equal(dropped.droppedBytes, dropped.unsyncedBytes);
    const indexes = await recoveredIndexes(dataDir);
    assert.deepEqual(indexes, Array.from({ length: 40 }, (_, i) => BigInt(i + 1)));
  });

  it('losing nothing keeps the whole batch', async () => {
    const dataDir = await walWithBatches();
    const dropped = await dropUnsyncedWalTail(dataDir, () => 0.99);
    assert.equal(dropped?.droppedBytes, 0);
    assert.equal((await recoveredIndexes(dataDir)).length, 60);
  });

  it('losing random sectors of the batch recovers every earlier batch and a prefix of the last, for 30 seeds', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const dataDir = await walWithBatches();
      const prng = new Prng(seed);
      await dropUnsyncedWalTail(dataDir, () => prng.next());
      const indexes = await recoveredIndexes(dataDir);
      assert.ok(indexes.length >= 40 && indexes.length <= 60, `seed ${seed}: ${indexes.length} entries`);
      indexes.forEach((index, i) => assert.equal(index, BigInt(i + 1), `seed ${seed}: entries are a prefix`));
    }
  });
});
