import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  WatchClient, WatchRequest, WatchCreateRequest_FilterType, type WatchCreateRequest, type WatchResponse,
} from '../../src/proto/gen/etcdserverpb/rpc.js';
import { Event_EventType } from '../../src/proto/gen/mvccpb/kv.js';
import { startEtcdts, type EtcdtsMember } from '../support/etcdts.js';
import { killAll, removeTempDirs, sleep } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';
import { formatViolations, validateWatches, type CommittedRevision, type WatchStream } from '../support/lincheck/watch-check.js';

type Create = Omit<Partial<WatchCreateRequest>, 'key' | 'rangeEnd'> & { key: string; rangeEnd?: string | Buffer };

/** One raw etcdserverpb.Watch stream, recording every response in arrival order. */
class RawWatch {
  readonly responses: WatchResponse[] = [];
  readonly call: ClientDuplexStream<WatchRequest, WatchResponse>;
  error: Error | undefined;
  private readonly client: WatchClient;
  private waiters: Array<() => void> = [];

  constructor(endpoint: string) {
    const target = endpoint.replace(/^https?:\/\//, '');
    this.client = new WatchClient(target, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    this.call = this.client.watch();
    this.call.on('data', (r: WatchResponse) => {
      this.responses.push(r);
      this.wake();
    });
    this.call.on('error', (err: Error) => {
      this.error = err;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  create(c: Create): void {
    const rangeEnd = typeof c.rangeEnd === 'string' ? Buffer.from(c.rangeEnd) : c.rangeEnd;
    this.call.write(WatchRequest.fromPartial({ createRequest: { ...c, key: Buffer.from(c.key), rangeEnd } }));
  }

  cancel(watchId: bigint): void {
    this.call.write(WatchRequest.fromPartial({ cancelRequest: { watchId } }));
  }

  requestProgress(): void {
    this.call.write(WatchRequest.fromPartial({ progressRequest: {} }));
  }

  /** Waits until the responses so far satisfy `done`. */
  async until<T>(what: string, done: (all: WatchResponse[]) => T | undefined | false, timeoutMs = 20000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = done(this.responses);
      if (value) return value;
      if (this.error) throw this.error;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${this.responses.length} responses`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  of(id: bigint): WatchResponse[] {
    return this.responses.filter((r) => r.watchId === id);
  }

  events(id: bigint): string[] {
    return this.of(id).flatMap((r) => r.events.map((e) => `${e.type === Event_EventType.PUT ? 'PUT' : 'DELETE'} ${e.kv!.key.toString()}${e.type === Event_EventType.PUT ? `=${e.kv!.value.toString()}` : ''}@${e.kv!.modRevision}${e.prevKv ? ` prev=${e.prevKv.value.toString()}` : ''}`));
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

const isProgress = (r: WatchResponse) => r.events.length === 0 && !r.created && !r.canceled && r.compactRevision === 0n;

function toCheckStream(w: RawWatch, id: bigint, spec: Omit<WatchStream, 'name' | 'responses'>): WatchStream {
  return {
    name: `watch ${id}`,
    ...spec,
    responses: w.responses.filter((r) => (r.watchId === id && !r.created) || (r.watchId === -1n && isProgress(r))).map((r) => ({
      revision: Number(r.header!.revision),
      progressNotify: isProgress(r),
      fragment: r.fragment,
      canceled: r.canceled,
      events: r.events.map((e) => ({
        type: e.type === Event_EventType.PUT ? 'put' as const : 'delete' as const,
        key: e.kv!.key.toString('latin1'),
        value: e.type === Event_EventType.PUT ? e.kv!.value.toString('latin1') : undefined,
        modRevision: Number(e.kv!.modRevision),
      })),
    })),
  };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('Watch service (raw gRPC against bin/run.js server)', function () {
  this.timeout(120_000);
  let member: EtcdtsMember;
  let kv: RawKv;
  const open: RawWatch[] = [];
  const watch = (): RawWatch => {
    const w = new RawWatch(member.endpoint);
    open.push(w);
    return w;
  };

  before(async () => {
    member = await startEtcdts({ env: { ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL: '200ms' } });
    kv = new RawKv(member.endpoint);
  });
  afterEach(() => {
    for (const w of open.splice(0)) w.close();
  });
  after(async () => {
    kv?.close();
    await killAll();
    removeTempDirs();
  });

  it('creates watchers, streams their events with full headers, and cancels them', async () => {
    const w = watch();
    w.create({ key: 'e2e-a' });
    w.create({ key: 'e2e-', rangeEnd: 'e2e.', prevKv: true });
    w.create({ key: 'e2e-a', watchId: 42n, filters: [WatchCreateRequest_FilterType.NOPUT] });
    await w.until('three creates', (all) => all.filter((r) => r.created).length === 3);
    assert.deepEqual(w.responses.map((r) => r.watchId), [0n, 1n, 42n]);
    const put1 = await kv.put({ key: 'e2e-a', value: 'x' });
    await kv.put({ key: 'e2e-b', value: 'y' });
    const del = await kv.deleteRange({ key: 'e2e-a' });
    await w.until('events', () => w.events(1n).length === 3 && w.events(42n).length === 1);
    const r1 = put1.header!.revision;
    assert.deepEqual(w.events(0n), [`PUT e2e-a=x@${r1}`, `DELETE e2e-a@${r1 + 2n}`]);
    assert.deepEqual(w.events(1n), [`PUT e2e-a=x@${r1}`, `PUT e2e-b=y@${r1 + 1n}`, `DELETE e2e-a@${r1 + 2n} prev=x`]);
    assert.deepEqual(w.events(42n), [`DELETE e2e-a@${r1 + 2n}`]);
    const header = w.of(0n)[1]!.header!;
    assert.deepEqual([header.clusterId, header.memberId, header.revision], [del.header!.clusterId, del.header!.memberId, r1]);
    assert.ok(header.raftTerm > 0n);
    w.cancel(0n);
    w.cancel(77n);
    await w.until('the cancel', () => w.of(0n).some((r) => r.canceled));
    await kv.put({ key: 'e2e-a', value: 'after' });
    await w.until('the next event on the other watcher', () => w.events(1n).length === 4);
    assert.equal(w.of(0n).filter((r) => r.events.length > 0).length, 2, 'nothing after the cancel');
    assert.ok(!w.responses.some((r) => r.watchId === 77n), 'no answer for an unknown id');
  });

  it('answers a duplicate id and an empty range with created+canceled and etcd\'s reasons', async () => {
    const w = watch();
    w.create({ key: 'a', watchId: 5n });
    w.create({ key: 'b', watchId: 5n });
    w.create({ key: 'b', rangeEnd: 'a' });
    await w.until('three answers', (all) => all.length === 3);
    assert.deepEqual(w.responses.slice(1).map((r) => [r.watchId, r.created, r.canceled, r.cancelReason]), [
      [-1n, true, true, 'mvcc: duplicate watch ID provided on the WatchStream'],
      [-1n, true, true, 'mvcc: watcher range is empty'],
    ]);
  });

  it('replays history from a past revision, serves start 0 from now, and holds a future start back', async () => {
    const first = (await kv.put({ key: 'hist', value: '1' })).header!.revision;
    await kv.put({ key: 'hist', value: '2' });
    const w = watch();
    w.create({ key: 'hist', startRevision: first });
    w.create({ key: 'hist' });
    w.create({ key: 'hist', startRevision: first + 3n, progressNotify: true });
    await w.until('creates', (all) => all.filter((r) => r.created).length === 3);
    assert.equal(w.of(1n)[0]!.header!.revision, first + 1n, 'created at the current revision');
    await kv.put({ key: 'hist', value: '3' });
    // The same stream delivered revision first + 2 to the other watchers: it was dispatched.
    await w.until('revision 3 delivered to the other watchers', () => w.events(0n).length === 3 && w.events(1n).length === 1);
    assert.equal(w.of(2n).filter((r) => !r.created).length, 0, 'no event and no progress notification below a future start (#20221)');
    await kv.put({ key: 'hist', value: '4' });
    await w.until('all events', () => w.events(0n).length === 4 && w.events(1n).length === 2 && w.events(2n).length === 1);
    assert.deepEqual(w.events(0n), [1, 2, 3, 4].map((v, i) => `PUT hist=${v}@${first + BigInt(i)}`));
    assert.deepEqual(w.events(1n), [`PUT hist=3@${first + 2n}`, `PUT hist=4@${first + 3n}`]);
    assert.deepEqual(w.events(2n), [`PUT hist=4@${first + 3n}`]);
    await w.until('a periodic progress notification for the future watcher now that it started', () => w.of(2n).some(isProgress));
  });

  it('cancels a watch from a compacted revision with compact_revision set', async () => {
    const first = (await kv.put({ key: 'cmp', value: '1' })).header!.revision;
    const last = (await kv.put({ key: 'cmp', value: '2' })).header!.revision;
    await kv.compact({ revision: last, physical: true });
    const w = watch();
    w.create({ key: 'cmp', startRevision: first });
    w.create({ key: 'cmp', startRevision: last });
    await w.until('answers', () => w.of(0n).length === 2 && w.events(1n).length === 1);
    const compacted = w.of(0n)[1]!;
    assert.deepEqual([compacted.canceled, compacted.compactRevision, compacted.header!.revision, compacted.cancelReason], [true, last, 0n, '']);
    assert.deepEqual(w.events(1n), [`PUT cmp=2@${last}`]);
  });

  it('answers a progress request with the store revision once every watcher is synced', async () => {
    const w = watch();
    w.create({ key: 'prog' });
    await w.until('create', (all) => all.length === 1);
    const rev = (await kv.put({ key: 'other', value: 'x' })).header!.revision;
    w.requestProgress();
    const progress = await w.until('progress', (all) => all.find((r) => r.watchId === -1n));
    assert.equal(progress.header!.revision, rev);
    assert.ok(isProgress(progress));
  });

  it('splits a huge revision into fragments only for watchers that asked', async () => {
    const value = 'v'.repeat(5000);
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) puts.push(kv.put({ key: `frag/${String(i).padStart(4, '0')}`, value }));
    await Promise.all(puts);
    const w = watch();
    w.create({ key: 'frag/', rangeEnd: 'frag0', prevKv: true, fragment: true });
    w.create({ key: 'frag/', rangeEnd: 'frag0', prevKv: true });
    await w.until('creates', (all) => all.length === 2);
    await kv.deleteRange({ key: 'frag/', rangeEnd: 'frag0' });
    await w.until('every delete', () => w.events(0n).length === 600 && w.events(1n).length === 600);
    const fragments = w.of(0n).filter((r) => r.events.length > 0);
    assert.ok(fragments.length > 1, `got ${fragments.length} responses`);
    assert.deepEqual(fragments.map((r) => r.fragment), [...fragments.slice(1).map(() => true), false]);
    assert.equal(w.of(1n).filter((r) => r.events.length > 0).length, 1, 'one response without the fragment option');
    assert.ok(w.events(0n).every((e) => e.endsWith(`prev=${value}`)));
  });

  it('a client that stops reading under heavy writes later gets every event once, in order', async () => {
    const w = watch();
    w.create({ key: 'slow/', rangeEnd: 'slow0' });
    await w.until('create', (all) => all.length === 1);
    w.call.pause();
    const rssBefore = rssBytes(member.proc.pid);
    // 800 x 16 KiB: well past the server's 8 MiB per-stream queue plus the transport's buffers.
    const value = 'x'.repeat(16 * 1024);
    const history: CommittedRevision[] = [];
    const total = 800;
    for (let i = 0; i < total; i += 16) {
      const batch = [];
      for (let j = i; j < Math.min(total, i + 16); j++) {
        const key = `slow/${j % 64}`;
        const v = `${j}-${value}`;
        batch.push(kv.put({ key, value: v }).then((r) => history.push({ revision: Number(r.header!.revision), events: [{ type: 'put', key, value: v, modRevision: Number(r.header!.revision) }] })));
      }
      await Promise.all(batch);
    }
    const rssPeak = rssBytes(member.proc.pid);
    w.call.resume();
    await w.until('every event', () => w.events(0n).length === total, 60000);
    history.sort((a, b) => a.revision - b.revision);
    const stream = toCheckStream(w, 0n, { key: 'slow/', rangeEnd: 'slow0', startRevision: 0, createdRevision: Number(w.responses[0]!.header!.revision) });
    const violations = validateWatches({ streams: [stream], history });
    assert.equal(violations.length, 0, formatViolations(violations));
    console.log(`      slow client: ${total} x 16 KiB events (${(total * value.length / 1048576).toFixed(1)} MiB), server RSS ${(rssBefore / 1048576).toFixed(0)} -> ${(rssPeak / 1048576).toFixed(0)} MiB while unread, ${w.of(0n).length} responses`);
  });

  it('frees the watchers of a stream the client cancelled: the server keeps serving others', async () => {
    for (let i = 0; i < 20; i++) {
      const w = new RawWatch(member.endpoint);
      for (let j = 0; j < 50; j++) w.create({ key: `churn/${j}`, progressNotify: true });
      await w.until('creates', (all) => all.length === 50);
      w.close();
    }
    const w = watch();
    w.create({ key: 'churn/0' });
    await w.until('create', (all) => all.length === 1);
    await kv.put({ key: 'churn/0', value: 'ok' });
    await w.until('event', () => w.events(0n).length === 1);
  });
});

describe('Watch service: many watchers on one stream', function () {
  this.timeout(120_000);
  let member: EtcdtsMember;
  before(async () => {
    member = await startEtcdts();
  });
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('delivers one put to 1000 watchers with the same revision', async () => {
    const kv = new RawKv(member.endpoint);
    const w = new RawWatch(member.endpoint);
    try {
      for (let i = 0; i < 1000; i++) w.create({ key: 'fan', progressNotify: i % 2 === 0, prevKv: i % 3 === 0 });
      await w.until('creates', (all) => all.length === 1000);
      const rev = (await kv.put({ key: 'fan', value: 'out' })).header!.revision;
      await w.until('every watcher', (all) => all.filter((r) => r.events.length > 0).length === 1000);
      const ids = new Set(w.responses.filter((r) => r.events.length > 0).map((r) => r.watchId));
      assert.equal(ids.size, 1000);
      assert.ok(w.responses.filter((r) => r.events.length > 0).every((r) => r.events[0]!.kv!.modRevision === rev));
    } finally {
      w.close();
      kv.close();
    }
  });
});
