import { performance } from 'node:perf_hooks';
import { Client } from '../../src/client/index.js';
import { SeededPrng } from '../../src/server/raft/prng.js';
import { waitFor } from '../support/procs.js';
import { clusterDefaults, RobustCluster } from './cluster.js';
import { dropUnsyncedWalTail } from './power-loss.js';

/**
 * Power-loss cycles (reliability-anchors §8 row 4): writers keep putting unique keys while
 * every member of the cluster (one member, or all three) dies at walBeforeSync and loses the
 * unsynced sectors of its last WAL batch (power-loss.ts says exactly what is modelled). Then
 * each member either starts and holds every acknowledged write at its acknowledged revision,
 * or refuses to start with a one-line error. Anything else is a failure.
 */
export interface PowerLossSettings {
  members: 1 | 3;
  cycles: number;
  seed: number;
  /** Writes acknowledged between two power losses. */
  writesPerCycle: number;
}

export interface PowerLossReport {
  cycles: number;
  /** Cycles after which every member started again with every acknowledged write. */
  recovered: number;
  /** Refusals to start, each with its one-line error. */
  refusals: string[];
  /** Acknowledged writes missing or changed after a recovery. */
  lost: string[];
  /** A member that neither started nor refused with one line (a crash, a stack trace, a hang). */
  broken: string[];
  acknowledged: number;
  unsyncedBytes: number[];
  droppedBytes: number[];
}

const writers = 8;
/** How long the members get to reach the failpoint once armed. */
const fireMs = 30_000;

interface Acked { key: string; value: string; revision: bigint }

export async function powerLossCycles(settings: PowerLossSettings): Promise<PowerLossReport> {
  const report: PowerLossReport = { cycles: 0, recovered: 0, refusals: [], lost: [], broken: [], acknowledged: 0, unsyncedBytes: [], droppedBytes: [] };
  const prng = new SeededPrng(settings.seed);
  const cluster = await RobustCluster.start({ ...clusterDefaults, size: settings.members, logLevel: 'warn' });
  cluster.autoRestart = false;
  const acked: Acked[] = [];
  let stop = false;
  const load = writeLoad(cluster, acked, () => stop);
  try {
    await cluster.waitHealthy();
    for (let cycle = 0; cycle < settings.cycles; cycle++) {
      const target = acked.length + settings.writesPerCycle;
      await waitFor(`cycle ${cycle}: writes before the power loss`, () => acked.length >= target, 60_000, 10);
      const outcome = await loseFullPower(cluster, prng, report);
      report.cycles++;
      if (outcome !== 'started') break;
      const missing = await missingWrites(cluster, acked);
      report.lost.push(...missing);
      if (missing.length > 0) break;
      report.recovered++;
    }
  } finally {
    stop = true;
    await load;
    report.acknowledged = acked.length;
    await cluster.close();
  }
  return report;
}

/** Every member dies at walBeforeSync, its unsynced WAL sectors are dropped, and all start again. */
async function loseFullPower(cluster: RobustCluster, prng: SeededPrng, report: PowerLossReport): Promise<'started' | 'refused' | 'broken'> {
  const names = cluster.members.map((m) => m.name);
  const before = cluster.crashes.length;
  const died = (n: string) => cluster.crashes.slice(before).some((c) => c.member === n);
  for (const n of names) await cluster.armFailpoint(n, 'walBeforeSync', '1*panic');
  await waitFor('a member to die at walBeforeSync', () => names.some(died), fireMs, 10);
  // Without a quorum the others may never write again: give them a moment, then cut them plainly.
  await waitFor('the others to die too', () => names.every(died), 3_000, 10).catch(() => undefined);
  for (const n of names) {
    if (died(n)) {
      const dropped = await dropUnsyncedWalTail(cluster.dataDirOf(n), () => prng.nextFloat());
      report.unsyncedBytes.push(dropped?.unsyncedBytes ?? 0);
      report.droppedBytes.push(dropped?.droppedBytes ?? 0);
    } else {
      await cluster.kill(n);
    }
  }
  try {
    await cluster.restartAll(names);
    await cluster.waitHealthy();
    return 'started';
  } catch (err) {
    const refusal = oneLineRefusal((err as Error).message);
    if (refusal !== undefined) report.refusals.push(refusal);
    else report.broken.push((err as Error).message.slice(0, 3000));
    return refusal !== undefined ? 'refused' : 'broken';
  }
}

/**
 * A refusal is an exit with one error line and no stack trace: what an operator can act on.
 * The message of a failed start carries the member's output (warn level and above).
 */
function oneLineRefusal(message: string): string | undefined {
  const match = /exited while starting: ([\s\S]*)$/.exec(message);
  if (match === null) return undefined;
  const lines = match[1]!.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /"level":"(error|fatal|panic)"|^Error/.test(l));
  if (errors.length !== 1 || lines.some((l) => /^\s+at /.test(l))) return undefined;
  return errors[0];
}

/** Acknowledged writes each member lacks, once it has caught up with the last acknowledged revision. */
async function missingWrites(cluster: RobustCluster, ackedSoFar: readonly Acked[]): Promise<string[]> {
  // The writers go on meanwhile: check what was acknowledged before the reads, not what comes after them.
  const acked = ackedSoFar.slice();
  const last = acked.reduce((max, a) => (a.revision > max ? a.revision : max), 0n);
  const missing: string[] = [];
  for (const m of cluster.members) {
    const client = await cluster.clientOf(m.name);
    await waitFor(`${m.name} to reach revision ${last}`, async () => (await client.kv.get('p/', { serializable: true, timeoutMs: 2000 })).header!.revision >= last, 60_000, 50);
    const all = await client.kv.range({ key: Buffer.from('p/'), rangeEnd: Buffer.from('p0'), serializable: true }, { timeoutMs: 30_000 });
    const stored = new Map(all.kvs.map((kv) => [kv.key.toString(), kv]));
    for (const a of acked) {
      const kv = stored.get(a.key);
      if (kv === undefined || kv.value.toString() !== a.value || kv.modRevision !== a.revision) {
        missing.push(`${m.name}: ${a.key}=${a.value} acknowledged at revision ${a.revision}, found ${kv === undefined ? 'nothing' : `${kv.value.toString()} at ${kv.modRevision}`}`);
      }
    }
  }
  return missing;
}

/** Writers of unique keys through every member; a write is recorded once acknowledged. */
async function writeLoad(cluster: RobustCluster, acked: Acked[], stopped: () => boolean): Promise<void> {
  const client = await Client.connect({ endpoints: cluster.endpoints(), dialTimeoutMs: 0, commandTimeoutMs: 2000 });
  try {
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let seq = 0; !stopped(); seq++) {
        const key = `p/${w}/${seq}`;
        const value = `${key}@${performance.now().toFixed(3)}`;
        try {
          const r = await client.kv.put(key, value);
          acked.push({ key, value, revision: r.header!.revision });
        } catch {
          // Down, or the outcome is unknown: not acknowledged. Back off while the members restart.
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }));
  } finally {
    client.close();
  }
}
