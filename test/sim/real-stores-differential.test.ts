/**
 * What the simulation cannot run, checked differentially: the shipped
 * stores on disk. The simulation keeps every write in the backend's
 * overlay (an LMDB commit completes on I/O, which it never waits for), so
 * it never sees data come back from LMDB, a physical compaction delete old
 * records, or a member rebuilt from its files. Here the same random
 * commands go to the model state machine and to two instances of the
 * shipped stores (real-state-machine.ts): one that commits to LMDB, lets
 * physical compaction run and restarts from disk at random points, and one
 * that never does. Every response, every write's events, the final tables
 * and the history a watch catches up from must be the same for all three,
 * and HashKV the same for both shipped instances.
 *
 *   SIM_DIFF_SEEDS=200 npx mocha ... real-stores-differential.test.js   more seeds
 */
import assert from 'node:assert/strict';
import { SeededPrng, type Prng } from '../../src/server/raft/prng.js';
import { Event_EventType } from '../../src/proto/gen/mvccpb/kv.js';
import { hashKV } from '../../src/server/mvcc/hash.js';
import { envInt } from './env.js';
import { KvStateMachine, type ApplyResult, type Command, type SimEvent } from './kv-state-machine.js';
import { RealStateMachine, RealStores } from './real-state-machine.js';
import { MemberClock } from './sim-member.js';

const seedsDefault = 40;
const commandsPerSeed = 300;
const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
/** Lease ids drawn from a small range, so that grants collide and revokes miss. */
const leaseIds = 6;
/** Whole seconds, at least the lessor's minimum, in ticks (the simulation's unit for TTLs). */
const ttlTicks = [20, 30, 50];
/** How often the on-disk instance commits, compacts or restarts, and the states are compared. */
const checkEvery = 20;

function pick<T>(prng: Prng, xs: readonly T[]): T {
  return xs[prng.nextInt(xs.length)]!;
}

/** A random command; revisions, leases and keys are drawn so that refusals happen too. */
function randomCommand(prng: Prng, id: string, model: KvStateMachine): Command {
  const roll = prng.nextInt(100);
  const key = pick(prng, keys);
  const value = `${id}-v`;
  if (roll < 30) {
    const lease = prng.nextInt(3) === 0 ? 1 + prng.nextInt(leaseIds) : 0;
    return lease === 0 ? { t: 'put', id, k: key, v: value } : { t: 'put', id, k: key, v: value, lease };
  }
  if (roll < 45) return { t: 'del', id, k: key };
  if (roll < 55) return { t: 'txn', id, puts: [{ k: key, v: `${value}0` }, { k: pick(prng, keys.filter((k) => k !== key)), v: `${value}1` }] };
  if (roll < 65) return { t: 'compact', id, rev: Math.max(1, model.compactRev + prng.nextInt(model.revision - model.compactRev + 2)) };
  if (roll < 80) return { t: 'grant', id, lease: 1 + prng.nextInt(leaseIds), ttl: pick(prng, ttlTicks) };
  return { t: 'revoke', id, lease: 1 + prng.nextInt(leaseIds) };
}

/**
 * Every event a watch from `from` on all keys catches up from the backend:
 * the shipped watchable store reading what the store has (on disk, after a
 * restart), with previous values.
 */
function caughtUpEvents(sm: RealStateMachine, from: number): SimEvent[] {
  const stream = sm.watchable.newStream();
  stream.watch({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), startRevision: BigInt(from), prevKv: true });
  for (let round = 0; round < 1000 && sm.watchable.unsyncedCount > 0; round++) sm.runWatchSyncs();
  assert.equal(sm.watchable.unsyncedCount, 0, 'the watch did not catch up');
  const events: SimEvent[] = [];
  for (let item = stream.take(); item !== undefined; item = stream.take()) {
    assert.ok(!item.response.canceled, `the watch from ${from} was canceled`);
    for (const e of item.response.events) {
      const kv = e.kv!;
      const base = { key: kv.key.toString(), modRevision: Number(kv.modRevision), prevValue: e.prevKv?.value.toString() };
      events.push(e.type === Event_EventType.DELETE
        ? { type: 'delete', ...base }
        : { type: 'put', ...base, value: kv.value.toString(), createRevision: Number(kv.createRevision), version: Number(kv.version) });
    }
  }
  stream.close();
  return events;
}

/** The model's history from `from`, as a watch with previous values delivers it. */
function modelEvents(model: KvStateMachine, from: number): SimEvent[] {
  return model.eventsBetween(from, model.revision).flatMap((w) => w.events);
}

/** Everything the three instances must agree on. */
function compareStates(model: KvStateMachine, disk: RealStateMachine, memory: RealStateMachine, where: string): void {
  for (const [name, sm] of [['on disk', disk], ['in memory', memory]] as const) {
    assert.equal(sm.revision, model.revision, `${where}: ${name} revision`);
    assert.equal(sm.compactRev, model.compactRev, `${where}: ${name} compaction revision`);
    assert.deepEqual(sm.kv, model.kv, `${where}: ${name} keys`);
    assert.deepEqual(sm.leases, model.leases, `${where}: ${name} leases`);
  }
  const from = Math.max(1, model.compactRev);
  const want = modelEvents(model, from);
  const got = caughtUpEvents(disk, from);
  // The value before an event at the compaction revision itself is gone with the compaction.
  const comparable = (es: SimEvent[]) => es.map((e) => ({ ...e, prevValue: e.modRevision === model.compactRev ? undefined : e.prevValue ?? null }));
  assert.deepEqual(comparable(got), comparable(want), `${where}: history from ${from}`);
  const a = hashKV(disk.store, 0n);
  const b = hashKV(memory.store, 0n);
  assert.deepEqual({ hash: a.hash, rev: a.hashRev }, { hash: b.hash, rev: b.hashRev }, `${where}: HashKV`);
}

/** What the on-disk instance does between commands now and then. */
async function diskEvent(prng: Prng, disk: RealStateMachine, stores: RealStores): Promise<string> {
  const roll = prng.nextInt(3);
  if (roll === 0) {
    await disk.backend.commit();
    return 'commit';
  }
  if (roll === 1) {
    await disk.backend.commit();
    await stores.settle();
    return 'physical compaction';
  }
  await disk.reopenFromDisk();
  return 'restart from disk';
}

async function runDifferential(seed: number): Promise<{ commands: number; refused: number; restarts: number }> {
  const prng = new SeededPrng(seed);
  const stores = new RealStores({ now: () => 0, limits: {} });
  const model = new KvStateMachine();
  const disk = stores.create(new MemberClock(1, 0)) as RealStateMachine;
  const memory = stores.create(new MemberClock(1, 0)) as RealStateMachine;
  let refused = 0;
  let restarts = 0;
  try {
    for (let i = 1; i <= commandsPerSeed; i++) {
      const cmd = randomCommand(prng, `c${i}`, model);
      const index = BigInt(i);
      // Compared as the JSON they serialise to: a field left out and one set to undefined are the same answer.
      const results = [model, disk, memory].map((sm) => {
        sm.advanceTo(index);
        return JSON.parse(JSON.stringify(sm.apply(cmd))) as ApplyResult;
      });
      assert.deepEqual(results[1], results[0], `seed ${seed} command ${i} ${JSON.stringify(cmd)}: the shipped stores answered differently`);
      assert.deepEqual(results[2], results[0], `seed ${seed} command ${i} ${JSON.stringify(cmd)}: the shipped stores (in memory) answered differently`);
      if (results[0]!.error !== undefined) refused++;
      const key = pick(prng, keys);
      assert.deepEqual(disk.get(key), model.get(key), `seed ${seed} after command ${i}: read of ${key}`);
      if (i % checkEvery === 0) {
        const what = await diskEvent(prng, disk, stores);
        if (what === 'restart from disk') restarts++;
        compareStates(model, disk, memory, `seed ${seed} after command ${i} and a ${what}`);
      }
    }
  } finally {
    await stores.close();
  }
  return { commands: commandsPerSeed, refused, restarts };
}

describe('shipped stores on disk, against the model', function () {
  this.timeout(0);
  const seeds = envInt('SIM_DIFF_SEEDS') ?? seedsDefault;

  it(`answer every command of ${seeds} random sequences like the model, through commits, physical compactions and restarts from disk`, async () => {
    let commands = 0;
    let refused = 0;
    let restarts = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const r = await runDifferential(seed);
      commands += r.commands;
      refused += r.refused;
      restarts += r.restarts;
    }
    console.log(`      ${seeds} seeds: ${commands} commands (${refused} refused), ${restarts} restarts from disk; responses, events, tables, histories and HashKV equal`);
  });
});
