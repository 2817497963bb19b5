import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../../../src/server/wal/wal.js';
import { killAll, kill9, start, waitFor, type Spawned } from '../../support/procs.js';
import { Prng, cleanupTempDirs, crashEntryData, tempDir } from './helpers.js';

/**
 * Real processes killed while writing: by SIGKILL at a random moment, and
 * by themselves at each WAL failpoint. Every save() that resolved before
 * the crash must be there after reopening, byte for byte, and the WAL must
 * accept appends again.
 */

const child = fileURLToPath(new URL('./crash-child.js', import.meta.url));
const segmentBytes = 8192;

function ackedIn(proc: Spawned): bigint {
  let max = 0n;
  for (const match of proc.output().matchAll(/^acked (\d+)$/gm)) {
    const index = BigInt(match[1]!);
    if (index > max) max = index;
  }
  return max;
}

function startChild(dir: string, saves: number, failpoints = ''): Spawned {
  return start(process.execPath, [child, dir, String(segmentBytes), String(saves)], {
    env: { ...process.env, ETCDTS_FAILPOINTS: failpoints },
  });
}

/** Opens the WAL and checks it holds 1..n with the data the child wrote, n >= acked. */
async function checkSurvivors(dir: string, acked: bigint, label: string): Promise<bigint> {
  const opened = await Wal.open(dir, { index: 0n, term: 0n }, { segmentBytes });
  await opened.wal.close();
  const last = opened.entries.at(-1)?.index ?? 0n;
  assert.ok(last >= acked, `${label}: acknowledged ${acked} but only ${last} survived`);
  opened.entries.forEach((e, i) => {
    assert.equal(e.index, BigInt(i + 1), label);
    assert.ok(e.data.equals(crashEntryData(e.index)), `${label}: entry ${e.index} differs`);
  });
  assert.ok(opened.hardState.commit <= last, `${label}: hard state ahead of the entries`);
  return last;
}

describe('wal crashes', function () {
  this.timeout(120_000);
  after(async () => {
    await killAll();
    cleanupTempDirs();
  });

  it('keeps every acknowledged save across SIGKILLs at random moments', async () => {
    const dir = join(tempDir(), 'wal');
    const prng = new Prng(42);
    let acked = 0n;
    for (let cycle = 0; cycle < 6; cycle++) {
      const proc = startChild(dir, 100_000);
      const target = acked + BigInt(20 + prng.int(150));
      await waitFor(`ack ${target}`, () => ackedIn(proc) >= target || proc.output().includes('crash-child:'), 30_000, 5);
      await kill9(proc);
      assert.ok(!proc.output().includes('crash-child:'), proc.output());
      acked = ackedIn(proc);
      acked = await checkSurvivors(dir, acked, `cycle ${cycle}`);
    }
    assert.ok(acked >= 120n);
  });

  for (const failpoint of ['walBeforeSync', 'walAfterSync', 'walBeforeCut', 'walAfterCut']) {
    it(`recovers after a crash at ${failpoint}`, async () => {
      const dir = join(tempDir(), 'wal');
      // A first run without failpoints so the crash lands in a WAL with history.
      const warm = startChild(dir, 40);
      await warm.exited;
      assert.match(warm.output(), /done/);
      const proc = startChild(dir, 400, `${failpoint}=panic`);
      const exit = await proc.exited;
      assert.equal(exit, 'SIGKILL', `${failpoint} fired: ${proc.output()}`);
      const acked = ackedIn(proc);
      await checkSurvivors(dir, acked > 0n ? acked : 40n, failpoint);
      // And the member carries on from there.
      const restarted = startChild(dir, 16);
      await restarted.exited;
      assert.match(restarted.output(), /done/);
      await checkSurvivors(dir, ackedIn(restarted), `${failpoint}, after restart`);
    });
  }
});
