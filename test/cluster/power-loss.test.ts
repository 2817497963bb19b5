import assert from 'node:assert/strict';
import { killAll, removeTempDirs } from '../support/procs.js';
import { powerLossCycles, type PowerLossReport } from '../robustness/power-loss-cycles.js';

/**
 * Power loss under write load (test/robustness/power-loss.ts says what is modelled): each
 * member dies between a WAL write and its fsync and loses that batch's unsynced sectors.
 * After each loss it either comes back with every acknowledged write at its revision, or
 * refuses to start with a one-line error. The whole-cluster case is the one that caught the
 * leader counting its own unwritten entries towards commit (test/unit/raft/durable-commit).
 * `npm run robustness -- --power-loss 200` runs 200 cycles of each.
 */
describe('power loss: members lose their unsynced WAL bytes', function () {
  this.timeout(300_000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  function check(report: PowerLossReport, cycles: number): void {
    console.log(`      ${report.cycles} cycles: ${report.recovered} recovered, ${report.refusals.length} refused; ${report.acknowledged} writes acknowledged; unsynced bytes per loss ${report.unsyncedBytes.join(',')}, dropped ${report.droppedBytes.join(',')}`);
    assert.deepEqual(report.lost, [], 'acknowledged writes lost');
    assert.deepEqual(report.broken, [], 'a member neither started nor refused with one line');
    assert.equal(report.recovered + report.refusals.length, report.cycles);
    assert.equal(report.cycles, report.refusals.length > 0 ? report.cycles : cycles);
  }

  it('a single member: 5 power losses', async () => {
    check(await powerLossCycles({ members: 1, cycles: 5, seed: 11, writesPerCycle: 100 }), 5);
  });

  it('a whole 3-member cluster: 5 power losses, every member at once', async () => {
    check(await powerLossCycles({ members: 3, cycles: 5, seed: 12, writesPerCycle: 100 }), 5);
  });
});
