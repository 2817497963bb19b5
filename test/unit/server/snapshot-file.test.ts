import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backend } from '../../../src/server/mvcc/backend.js';
import { KVStore } from '../../../src/server/mvcc/kvstore.js';
import { restoreSnapshot, snapshotStatus, SnapshotFileError } from '../../../src/server/snapshot/snapshot-file.js';
import { checkLmdbFile, LmdbFileError } from '../../../src/server/mvcc/lmdb-file.js';
import { removeTempDirs, tempDir } from '../../support/procs.js';

async function sampleDb(dir: string): Promise<string> {
  const path = join(dir, 'db');
  const store = new KVStore(Backend.open(path));
  for (let i = 0; i < 2000; i++) {
    const txn = store.write();
    txn.put(Buffer.from(`k${i}`), Buffer.alloc(200, i % 256), 0n);
    txn.end();
  }
  store.backend.put('meta', Buffer.from('consistent_index'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
  await store.backend.close();
  return path;
}

const restoreOpts = (snapshotPath: string, dataDir: string) => ({
  snapshotPath, dataDir, name: 'x', initialCluster: new Map([['x', ['http://127.0.0.1:1']]]), initialClusterToken: 't', initialAdvertisePeerUrls: ['http://127.0.0.1:1'], skipHashCheck: true,
});

describe('snapshot files from outside are checked before LMDB maps them', () => {
  after(removeTempDirs);

  it('accepts an intact database', async () => {
    const dir = tempDir('lmdbfile-');
    await checkLmdbFile(await sampleDb(dir));
  });

  const hostile: Array<[string, (db: string, bad: string) => void]> = [
    ['a truncated database', (db, bad) => {
      copyFileSync(db, bad);
      truncateSync(bad, Math.floor(statSync(db).size / 2));
    }],
    ['random bytes', (_db, bad) => writeFileSync(bad, randomBytes(64 * 1024))],
    ['zeros', (_db, bad) => writeFileSync(bad, Buffer.alloc(64 * 1024))],
    ['a tiny file', (_db, bad) => writeFileSync(bad, Buffer.from('not a db'))],
  ];
  for (const [name, make] of hostile) {
    it(`refuses ${name} with a one-line error, without crashing, in check, status and restore`, async () => {
      const dir = tempDir('lmdbfile-');
      const db = await sampleDb(dir);
      const bad = join(dir, 'bad.db');
      make(db, bad);
      await assert.rejects(checkLmdbFile(bad), (err: Error) => err instanceof LmdbFileError && !err.message.includes('\n'));
      await assert.rejects(restoreSnapshot(restoreOpts(bad, join(dir, 'restored'))), (err: Error) => err instanceof SnapshotFileError && !err.message.includes('\n'));
      assert.ok(!existsSync(join(dir, 'restored')), 'a refused restore leaves no data dir');
      await assert.rejects(snapshotStatus(bad), SnapshotFileError);
    });
  }
});
