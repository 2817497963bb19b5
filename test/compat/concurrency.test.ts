import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client } from '../../src/client/client.js';
import { Election } from '../../src/client/concurrency/election.js';
import { LockedError, SessionExpiredError } from '../../src/client/concurrency/errors.js';
import { Mutex } from '../../src/client/concurrency/mutex.js';
import { Session } from '../../src/client/concurrency/session.js';
import { parseEndpoint } from '../../src/client/endpoints.js';
import {
  ElectionClient,
  type CampaignResponse,
  type LeaderResponse,
  type ProclaimResponse,
  type ResignResponse,
} from '../../src/proto/gen/v3electionpb/v3election.js';
import { LockClient, type LockResponse, type UnlockResponse } from '../../src/proto/gen/v3lockpb/v3lock.js';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, removeTempDirs, start, tempDir, waitFor } from '../support/procs.js';
import { etcdctlBinary, requireRealEtcd, startRealEtcd } from '../support/real-etcd.js';
import { cleanEnv, ourCliScript } from './cli-harness.js';

/**
 * Locks and elections on the real etcd 3.4.23 and on etcdts: our recipes
 * (client library) against both servers, both servers' Lock and Election
 * gRPC services, and the real `etcdctl lock`/`elect` interoperating with
 * ours in both directions (one holds, the other waits). Assertions are about
 * order and exclusion, never about how long anything took.
 *
 * ETCDTS_COMPAT_SERVER=etcd or =etcdts restricts the run to one server kind.
 */
const only = process.env.ETCDTS_COMPAT_SERVER;
const serverKinds: Array<'etcd' | 'etcdts'> = only === 'etcd' || only === 'etcdts' ? [only] : ['etcd', 'etcdts'];

/** A CLI process in the background, with its output so far. */
interface Background {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | string>;
}

/** Starts a CLI process, tracked so that the `after` hook kills it if a test fails half-way. */
function background(tool: 'etcdctl' | 'ours', endpoint: string, args: string[]): Background {
  const [bin, argv] = tool === 'ours' ? [process.execPath, [ourCliScript, ...args]] : [etcdctlBinary, args];
  const { child, exited } = start(bin, argv, { env: cleanEnv({ ETCDCTL_ENDPOINTS: endpoint }) });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Collects what an async source yields, as it comes, until the source ends or fails. */
function collect<T, U>(source: AsyncIterable<T>, into: U[], map: (item: T) => U): Promise<void> {
  return (async () => {
    for await (const item of source) into.push(map(item));
  })().catch(() => undefined);
}

/** The file lines of a lock-protected critical section, checked for overlap: start/end pairs, never nested. */
function assertExclusive(lines: string[]): void {
  for (let i = 0; i < lines.length; i += 2) {
    const [start, end] = [lines[i]!.split(' '), lines[i + 1]?.split(' ')];
    assert.equal(start[0], 'start', `line ${i}: ${lines.join('\n')}`);
    assert.deepEqual(end, ['end', ...start.slice(1)], `holders overlap:\n${lines.join('\n')}`);
  }
}

for (const kind of serverKinds) {
  describe(`locks and elections on ${kind}`, function () {
    this.timeout(120000);
    let endpoint = '';
    let client: Client;

    before(async function () {
      requireRealEtcd();
      endpoint = kind === 'etcd' ? (await startRealEtcd()).endpoint : (await startEtcdts()).endpoint;
      client = await Client.connect({ endpoints: [endpoint] });
    });

    after(async () => {
      client?.close();
      await killAll();
      removeTempDirs();
    });

    describe('the mutex recipe', () => {
      it('grants the lock in queue order, one holder at a time, with increasing fencing tokens', async () => {
        const sessions = await Promise.all(Array.from({ length: 5 }, () => Session.create(client, { ttl: 30 })));
        const mutexes = sessions.map((s) => new Mutex(s, 'order'));
        await mutexes[0]!.lock();
        const order: number[] = [];
        const waits: Array<Promise<void>> = [];
        for (let i = 1; i < mutexes.length; i++) {
          waits.push(mutexes[i]!.lock().then(() => void order.push(i)));
          // Queue in a known order: wait until this waiter's key exists before the next one starts.
          await waitFor(`waiter ${i} queued`, async () => (await client.kv.get('order/', { prefix: true, countOnly: true })).count === BigInt(i + 1));
        }
        const tokens = [mutexes[0]!.header!.revision];
        for (let i = 0; i < mutexes.length - 1; i++) {
          assert.deepEqual(order, Array.from({ length: i }, (_, k) => k + 1), 'nobody else holds the lock meanwhile');
          await mutexes[i]!.unlock();
          await waitFor(`holder ${i + 1}`, () => order.length === i + 1);
          tokens.push(mutexes[i + 1]!.header!.revision);
        }
        await Promise.all(waits);
        await mutexes.at(-1)!.unlock();
        assert.deepEqual(order, [1, 2, 3, 4]);
        for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `tokens increase: ${tokens.join(', ')}`);
        await Promise.all(sessions.map((s) => s.close()));
      });

      it('never grants a lock whose session expired while it waited (etcd#11456)', async () => {
        const holder = new Mutex(await Session.create(client, { ttl: 30 }), 'expiry');
        const doomed = new Mutex(await Session.create(client, { ttl: 30 }), 'expiry');
        const next = new Mutex(await Session.create(client, { ttl: 30 }), 'expiry');
        await holder.lock();
        const doomedLock = doomed.lock();
        await waitFor('doomed queued', async () => (await client.kv.get('expiry/', { prefix: true, countOnly: true })).count === 2n);
        const nextLock = next.lock();
        await waitFor('next queued', async () => (await client.kv.get('expiry/', { prefix: true, countOnly: true })).count === 3n);
        // The waiter's lease goes away while it waits (as if it expired); then the holder releases.
        await client.lease.revoke(doomed.session.lease);
        await holder.unlock();
        await assert.rejects(doomedLock, SessionExpiredError);
        await nextLock;
        assert.ok(next.header!.revision > holder.header!.revision);
        await next.unlock();
        await Promise.all([holder.session.close(), next.session.close()]);
      });

      it('tryLock fails with LockedError and leaves no key behind; a canceled wait leaves the queue', async () => {
        const a = new Mutex(await Session.create(client, { ttl: 30 }), 'try');
        const b = new Mutex(await Session.create(client, { ttl: 30 }), 'try');
        await a.lock();
        await assert.rejects(b.tryLock(), LockedError);
        const controller = new AbortController();
        const waiting = b.lock({ signal: controller.signal });
        await waitFor('b queued', async () => (await client.kv.get('try/', { prefix: true, countOnly: true })).count === 2n);
        controller.abort();
        await assert.rejects(waiting);
        assert.equal((await client.kv.get('try/', { prefix: true, countOnly: true })).count, 1n);
        await a.unlock();
        await b.tryLock();
        await b.unlock();
        await Promise.all([a.session.close(), b.session.close()]);
      });

      it('closing the session releases the lock (the lease takes the key with it)', async () => {
        const a = new Mutex(await Session.create(client, { ttl: 30 }), 'close');
        const b = new Mutex(await Session.create(client, { ttl: 30 }), 'close');
        await a.lock();
        const waiting = b.lock();
        await waitFor('b queued', async () => (await client.kv.get('close/', { prefix: true, countOnly: true })).count === 2n);
        await a.session.close();
        await waiting;
        await b.session.close();
      });
    });

    describe('the election recipe', () => {
      it('observers see every leadership and proclamation in order; resign hands over', async () => {
        const observer = new Election(client, 'ballot');
        const controller = new AbortController();
        const values: string[] = [];
        const done = collect(observer.observe({ signal: controller.signal }), values, (o) => o.kv.value.toString());
        const [s1, s2, s3, s4] = await Promise.all([1, 2, 3, 4].map(() => Session.create(client, { ttl: 30 })));
        const e1 = new Election(s1!, 'ballot');
        const e2 = new Election(s2!, 'ballot');
        await e1.campaign('one');
        const second = e2.campaign('two');
        await e1.proclaim('one-again');
        assert.equal((await observer.leader()).kvs[0]!.value.toString(), 'one-again');
        await e1.resign();
        await second;
        // A leader that comes and goes at once is still observed, in its place.
        const e3 = new Election(s3!, 'ballot');
        const third = e3.campaign('three');
        await e2.resign();
        await third;
        await e3.resign();
        await new Election(s4!, 'ballot').campaign('four');
        await waitFor('every leadership observed', () => values.length >= 5);
        controller.abort();
        await done;
        assert.deepEqual(values, ['one', 'one-again', 'two', 'three', 'four']);
        await Promise.all([s1, s2, s3, s4].map((s) => s!.close()));
      });

      it('a campaign whose session expired while waiting is not elected', async () => {
        const [s1, s2] = await Promise.all([1, 2].map(() => Session.create(client, { ttl: 30 })));
        await new Election(s1!, 'lapse').campaign('first');
        const late = new Election(s2!, 'lapse').campaign('second');
        await waitFor('second queued', async () => (await client.kv.get('lapse/', { prefix: true, countOnly: true })).count === 2n);
        await client.lease.revoke(s2!.lease);
        await s1!.close();
        await assert.rejects(late, SessionExpiredError);
      });
    });

    describe('the Lock and Election gRPC services', () => {
      const lockClient = (): LockClient => new LockClient(parseEndpoint(endpoint, false).target, grpc.credentials.createInsecure());
      const electionClient = (): ElectionClient => new ElectionClient(parseEndpoint(endpoint, false).target, grpc.credentials.createInsecure());
      type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
      const call = <Res>(invoke: (callback: Callback<Res>) => unknown): Promise<Res> =>
        new Promise((resolve, reject) => invoke((err, res) => (err !== null ? reject(err) : resolve(res))));

      it('Lock waits for Unlock; the keys carry the caller\'s lease', async () => {
        const locks = lockClient();
        const [l1, l2] = await Promise.all([client.lease.grant(30), client.lease.grant(30)]);
        const first = await call<LockResponse>((cb) => locks.lock({ name: Buffer.from('svc'), lease: l1.ID }, cb));
        assert.equal(first.key.toString(), `svc/${l1.ID.toString(16)}`);
        let secondDone = false;
        const second = call<LockResponse>((cb) => locks.lock({ name: Buffer.from('svc'), lease: l2.ID }, cb)).then((r) => {
          secondDone = true;
          return r;
        });
        await waitFor('second queued', async () => (await client.kv.get('svc/', { prefix: true, countOnly: true })).count === 2n);
        assert.equal(secondDone, false);
        await call<UnlockResponse>((cb) => locks.unlock({ key: first.key }, cb));
        const granted = await second;
        assert.equal(granted.key.toString(), `svc/${l2.ID.toString(16)}`);
        assert.ok(granted.header!.revision > first.header!.revision);
        await call<UnlockResponse>((cb) => locks.unlock({ key: granted.key }, cb));
        locks.close();
      });

      it('Lock with an unknown lease fails as etcd does (UNKNOWN, "requested lease not found")', async () => {
        const locks = lockClient();
        await assert.rejects(call<LockResponse>((cb) => locks.lock({ name: Buffer.from('svc'), lease: 0x1234n }, cb)), (err: grpc.ServiceError) =>
          err.code === grpc.status.UNKNOWN && err.details === 'etcdserver: requested lease not found');
        locks.close();
      });

      it('Campaign, Leader, Proclaim, Observe and Resign', async () => {
        const elections = electionClient();
        const [l1, l2] = await Promise.all([client.lease.grant(30), client.lease.grant(30)]);
        const name = Buffer.from('rpc-ballot');
        await assert.rejects(call<LeaderResponse>((cb) => elections.leader({ name }, cb)), (err: grpc.ServiceError) =>
          err.code === grpc.status.UNKNOWN && err.details === 'election: no leader');
        const observed: string[] = [];
        const stream = elections.observe({ name });
        stream.on('data', (r: LeaderResponse) => observed.push(r.kv!.value.toString()));
        stream.on('error', () => undefined);
        const won = await call<CampaignResponse>((cb) => elections.campaign({ name, lease: l1.ID, value: Buffer.from('a') }, cb));
        assert.equal(won.leader!.lease, l1.ID);
        const second = call<CampaignResponse>((cb) => elections.campaign({ name, lease: l2.ID, value: Buffer.from('b') }, cb));
        await call<ProclaimResponse>((cb) => elections.proclaim({ leader: won.leader, value: Buffer.from('a2') }, cb));
        const leader = await call<LeaderResponse>((cb) => elections.leader({ name }, cb));
        assert.equal(leader.kv!.value.toString(), 'a2');
        await call<ResignResponse>((cb) => elections.resign({ leader: won.leader }, cb));
        const next = await second;
        await assert.rejects(call<ProclaimResponse>((cb) => elections.proclaim({ leader: won.leader, value: Buffer.from('stale') }, cb)), (err: grpc.ServiceError) =>
          err.details === 'election: not leader');
        await waitFor('observed the handover', () => observed.length === 3);
        assert.deepEqual(observed, ['a', 'a2', 'b']);
        await call<ResignResponse>((cb) => elections.resign({ leader: next.leader }, cb));
        stream.cancel();
        elections.close();
      });

      if (kind === 'etcdts') {
        it('Lock and Campaign without a lease are refused (etcd grants an orphan 60 s lease)', async () => {
          const locks = lockClient();
          const elections = electionClient();
          await assert.rejects(call<LockResponse>((cb) => locks.lock({ name: Buffer.from('x'), lease: 0n }, cb)), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT);
          await assert.rejects(call<CampaignResponse>((cb) => elections.campaign({ name: Buffer.from('x'), lease: 0n, value: Buffer.alloc(0) }, cb)), (err: grpc.ServiceError) =>
            err.code === grpc.status.INVALID_ARGUMENT);
          locks.close();
          elections.close();
        });

        it('Lock never grants a lock whose lease expired while it waited (etcd 3.4 does: etcd#11456)', async () => {
          const locks = lockClient();
          const [l1, l2] = await Promise.all([client.lease.grant(30), client.lease.grant(30)]);
          const first = await call<LockResponse>((cb) => locks.lock({ name: Buffer.from('lapse-rpc'), lease: l1.ID }, cb));
          const second = call<LockResponse>((cb) => locks.lock({ name: Buffer.from('lapse-rpc'), lease: l2.ID }, cb));
          await waitFor('second queued', async () => (await client.kv.get('lapse-rpc/', { prefix: true, countOnly: true })).count === 2n);
          await client.lease.revoke(l2.ID);
          await call<UnlockResponse>((cb) => locks.unlock({ key: first.key }, cb));
          await assert.rejects(second, (err: grpc.ServiceError) => err.details === 'mutex: session is expired');
          locks.close();
        });
      }
    });

    describe('etcdctl and etcdts CLI interoperate', () => {
      for (const [holder, waiter] of [['etcdctl', 'ours'], ['ours', 'etcdctl']] as const) {
        it(`lock: ${holder} holds, ${waiter} waits, then gets it`, async () => {
          const held = background(holder, endpoint, ['lock', `cli-${holder}`]);
          await waitFor('the holder prints the lock key', () => held.stdout().startsWith(`cli-${holder}/`));
          const waiting = background(waiter, endpoint, ['lock', `cli-${holder}`, '--', 'sh', '-c', 'echo "got $ETCD_LOCK_KEY"']);
          await waitFor('the waiter queued', async () => (await client.kv.get(`cli-${holder}/`, { prefix: true, countOnly: true })).count === 2n);
          assert.equal(waiting.stdout(), '', 'the waiter does not run its command while the lock is held');
          held.child.kill('SIGINT');
          assert.equal(await held.exited, 0, 'SIGINT releases the lock and exits 0');
          assert.equal(await waiting.exited, 0);
          assert.match(waiting.stdout(), new RegExp(`^got cli-${holder}/[0-9a-f]+\\n$`));
        });
      }

      it('lock: etcdctl and etcdts commands contending for one lock never overlap', async () => {
        const file = join(tempDir('lock-interop-'), 'log');
        const section = `echo "start $ETCD_LOCK_REV" >> ${file}; sleep 0.1; echo "end $ETCD_LOCK_REV" >> ${file}`;
        const runs = Array.from({ length: 6 }, (_, i) => background(i % 2 === 0 ? 'ours' : 'etcdctl', endpoint, ['lock', 'shared', '--', 'sh', '-c', section]));
        const codes = await Promise.all(runs.map((r) => r.exited));
        assert.deepEqual(codes, [0, 0, 0, 0, 0, 0], runs.map((r) => r.stderr()).join(''));
        const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
        assert.equal(lines.length, 12);
        assertExclusive(lines);
      });

      for (const [leader, candidate] of [['etcdctl', 'ours'], ['ours', 'etcdctl']] as const) {
        it(`elect: ${leader} leads, ${candidate} waits and takes over on resign; observers of both kinds follow`, async () => {
          const name = `vote-${leader}`;
          const watchers = [background('ours', endpoint, ['elect', '-l', name]), background('etcdctl', endpoint, ['elect', '-l', name])];
          const first = background(leader, endpoint, ['elect', name, 'first']);
          await waitFor('the first candidate is elected', () => first.stdout().endsWith('\nfirst\n'));
          for (const w of watchers) await waitFor('observers see the first leader', () => w.stdout().endsWith('\nfirst\n'));
          const second = background(candidate, endpoint, ['elect', name, 'second']);
          await waitFor('the second candidate queued', async () => (await client.kv.get(`${name}/`, { prefix: true, countOnly: true })).count === 2n);
          assert.equal(second.stdout(), '');
          first.child.kill('SIGINT');
          await waitFor('the second candidate is elected', () => second.stdout().endsWith('\nsecond\n'));
          for (const w of watchers) await waitFor('observers see both leaders', () => w.stdout().endsWith('\nsecond\n'));
          for (const w of watchers) {
            const values = w.stdout().trimEnd().split('\n').filter((_, i) => i % 2 === 1);
            assert.deepEqual(values, ['first', 'second']);
          }
          second.child.kill('SIGINT');
          await second.exited;
          for (const w of watchers) w.child.kill('SIGINT');
          await Promise.all(watchers.map((w) => w.exited));
        });
      }
    });
  });
}
