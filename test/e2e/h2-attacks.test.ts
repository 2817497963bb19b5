import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Etcd3 } from 'etcd3';
import { encodeHeaderBlock, encodeInteger, encodeString } from '../../src/server/api/hpack.js';
import { PutRequest, RangeRequest } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { startEtcdts, runJs, type EtcdtsMember } from '../support/etcdts.js';
import { etcdctlBinary, requireRealEtcd } from '../support/real-etcd.js';
import { killAll, removeTempDirs, start, waitFor, type Spawned } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';
import { E, F, S, T, frame, grpcMessage, requestFields, settingsPayload, uint32, RawClient } from '../unit/grpc-server/raw-h2.js';

/**
 * One adversarial test per attack class on HTTP/2, against a real member
 * (plaintext client port, default limits): each checks that the member's
 * memory stays bounded (VmRSS), that the hostile connection is closed with
 * the GOAWAY code that applies, and that another client's puts keep
 * succeeding while the attack runs. Real clients (etcdctl on grpc-go, the
 * etcd3 npm client, our CLI on grpc-js) watch through a frame-reading proxy
 * the whole time: none may ever be sent a GOAWAY.
 */

const kvPut = '/etcdserverpb.KV/Put';
const kvRange = '/etcdserverpb.KV/Range';
const MiB = 1024 * 1024;
/** RSS growth any attack may cause (most cause a few MiB): per-connection bounds are tens of MiB at most. */
const attackRssBytesMax = 128 * MiB;

const putBody = (key: string, value: Buffer | string = 'v') => Buffer.from(PutRequest.encode(PutRequest.fromPartial({ key: Buffer.from(key), value: Buffer.from(value) })).finish());
const rangeBody = (key: string) => Buffer.from(RangeRequest.encode(RangeRequest.fromPartial({ key: Buffer.from(key) })).finish());
const requestBlockFor = (path: string) => encodeHeaderBlock(requestFields(path));
const repeat = (count: number, make: (i: number) => Buffer[]) => Array.from({ length: count }, (_, i) => make(i)).flat();

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  assert(m !== null);
  return Number(m[1]) * 1024;
}

/** Puts in a loop from another client: every one must succeed, and some must land while the attack runs. */
function victim(kv: RawKv): { done(): Promise<{ puts: number; errors: unknown[] }> } {
  let stop = false;
  let puts = 0;
  const errors: unknown[] = [];
  const loop = (async () => {
    for (let n = 0; !stop; n++) {
      try {
        await kv.put({ key: `victim/${n}`, value: `${n}` });
        puts++;
      } catch (err) {
        errors.push(err);
      }
    }
  })();
  return {
    done: async () => {
      await waitFor('the victim to complete puts during the attack', () => puts >= 3 || errors.length > 0, 20_000, 10);
      stop = true;
      await loop;
      return { puts, errors };
    },
  };
}

/**
 * Watches the HTTP/2 frames between real clients and the member: a TCP
 * proxy that parses both directions, recording the GOAWAYs the member sends
 * and the PINGs the clients send (so that the keepalive path is known to
 * have run).
 */
class FrameWatchingProxy {
  readonly goAways: { code: number; debug: string }[] = [];
  clientPings = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async start(targetPort: number): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect({ port: targetPort, host: '127.0.0.1' });
      this.sockets.add(client).add(upstream);
      const fromServer = this.parser((type, flags, payload) => {
        if (type === T.goAway) this.goAways.push({ code: payload.readUInt32BE(4), debug: payload.subarray(8).toString() });
      }, 0);
      const fromClient = this.parser((type, flags) => {
        if (type === T.ping && (flags & F.ack) === 0) this.clientPings++;
      }, 24);
      client.on('data', (chunk: Buffer) => {
        fromClient(chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        fromServer(chunk);
        client.write(chunk);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  /** A frame parser for one direction; `skip` octets (the client preface) come first. */
  private parser(onFrame: (type: number, flags: number, payload: Buffer) => void, skip: number): (chunk: Buffer) => void {
    let pending = Buffer.alloc(0);
    let toSkip = skip;
    return (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      const skipped = Math.min(toSkip, pending.length);
      pending = pending.subarray(skipped);
      toSkip -= skipped;
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        onFrame(pending[3], pending[4], pending.subarray(9, 9 + length));
        pending = pending.subarray(9 + length);
      }
    };
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
  }
}

describe('HTTP/2 attacks against a member', function () {
  this.timeout(120_000);
  let member: EtcdtsMember;
  let kv: RawKv;
  const hostile: RawClient[] = [];
  const proxy = new FrameWatchingProxy();
  const watchers: Spawned[] = [];
  let etcd3: Etcd3 | undefined;
  /** Slow connections opened at the start, checked at the end (their time limit runs meanwhile). */
  const slow: { partialFrame: RawClient[]; unfinishedBlock: RawClient[]; noPreface: Socket[] } = { partialFrame: [], unfinishedBlock: [], noPreface: [] };
  let slowOpenedAt = 0;

  const open = async (options: { settings?: [number, number][]; handshake?: boolean } = {}) => {
    const client = await RawClient.connect(member.clientPort, options);
    hostile.push(client);
    return client;
  };

  /** Runs an attack while the victim puts and the member's RSS is sampled; returns the attack's result and the RSS growth. */
  async function underAttack<R>(attack: () => Promise<R>): Promise<{ result: R; rssGrowthBytes: number }> {
    const baseline = rssBytes(member.proc.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(member.proc.pid));
    }, 20);
    const puts = victim(kv);
    try {
      const result = await attack();
      const { errors } = await puts.done();
      assert.deepEqual(errors, [], 'the other client\'s puts failed during the attack');
      peak = Math.max(peak, rssBytes(member.proc.pid));
      console.log(`      member RSS ${(baseline / MiB).toFixed(0)} MiB, +${((peak - baseline) / MiB).toFixed(1)} MiB at most during the attack`);
      return { result, rssGrowthBytes: peak - baseline };
    } finally {
      clearInterval(sampler);
    }
  }

  before(async () => {
    member = await startEtcdts();
    kv = new RawKv(member.endpoint);
    await kv.put({ key: 'warm', value: 'up' });
    // Real clients, through the proxy: each holds a watch (an open stream) and pings as its library does.
    const proxied = `http://127.0.0.1:${await proxy.start(member.clientPort)}`;
    requireRealEtcd();
    watchers.push(start(etcdctlBinary, ['--endpoints', proxied, '--keepalive-time', '2s', 'watch', '--prefix', 'victim/'], { env: { ...process.env, ETCDCTL_API: '3' } }));
    watchers.push(start(process.execPath, [runJs, 'watch', '--endpoints', proxied, '--prefix', 'victim/']));
    etcd3 = new Etcd3({ hosts: proxied, grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 } });
    await etcd3.watch().prefix('victim/').create();
    // Slowloris, opened now and checked last: the incomplete-frame limit (30 s) runs while the other attacks do.
    slowOpenedAt = Date.now();
    for (let i = 0; i < 100; i++) {
      const partial = await RawClient.connect(member.clientPort);
      partial.send(frame(T.ping, 0, 0, Buffer.alloc(8)).subarray(0, 12));
      slow.partialFrame.push(partial);
      const unfinished = await RawClient.connect(member.clientPort);
      unfinished.send(frame(T.headers, 0, 1, requestBlockFor(kvRange).subarray(0, 5)));
      slow.unfinishedBlock.push(unfinished);
      const silent = connect({ port: member.clientPort, host: '127.0.0.1' });
      silent.on('error', () => undefined);
      slow.noPreface.push(silent);
    }
  });

  afterEach(() => {
    for (const client of hostile.splice(0)) client.close();
  });

  after(async () => {
    kv?.close();
    etcd3?.close();
    proxy.close();
    for (const client of [...slow.partialFrame, ...slow.unfinishedBlock]) client.close();
    for (const socket of slow.noPreface) socket.destroy();
    await killAll();
    removeTempDirs();
  });

  /** Attacks that must end in GOAWAY ENHANCE_YOUR_CALM, with the reason the member gives. */
  const attacks: [name: string, frames: () => Buffer[], reason: RegExp][] = [
    ['rapid reset (CVE-2023-44487): thousands of ranges opened and reset at once', () => repeat(5000, (i) => [
      frame(T.headers, F.endHeaders, 2 * i + 1, requestBlockFor(kvRange)), frame(T.rstStream, 0, 2 * i + 1, uint32(E.cancel)),
    ]), /too many streams reset/],
    ['MadeYouReset (CVE-2025-8671): puts the member is made to reset by a zero WINDOW_UPDATE', () => repeat(5000, (i) => [
      frame(T.headers, F.endHeaders, 2 * i + 1, requestBlockFor(kvPut)), frame(T.data, F.endStream, 2 * i + 1, grpcMessage(putBody(`myr/${i}`))),
      frame(T.windowUpdate, 0, 2 * i + 1, uint32(0)),
    ]), /too many streams reset/],
    ['CONTINUATION flood (CVE-2024-28182): a header block of endless 16 KiB CONTINUATIONs', () => [
      frame(T.headers, 0, 1, requestBlockFor(kvRange)), ...repeat(200, () => [frame(T.continuation, 0, 1, Buffer.alloc(16_384, 0x41))]),
    ], /CONTINUATION/],
    // Each block decodes to 240 KB and is refused (RST_STREAM): those resets spend the client's budget.
    ['HPACK bomb: one 4 KB table entry referred to 60 times per block, stream after stream', () => [
      frame(T.headers, F.endHeaders | F.endStream, 1, Buffer.concat([requestBlockFor(kvRange), Buffer.from([0x40]), encodeString('x-bomb', false), encodeString('b'.repeat(4000), false)])),
      ...repeat(3000, (i) => [frame(T.headers, F.endHeaders | F.endStream, 3 + 2 * i, Buffer.concat([requestBlockFor(kvRange), Buffer.alloc(60, encodeInteger(62, 7, 0x80)[0])]))]),
    ], /too many streams reset/],
    ['SETTINGS flood (CVE-2019-9515)', () => repeat(100_000, () => [frame(T.settings, 0, 0, settingsPayload([[S.initialWindowSize, 65_535]]))]), /frames without a request/],
    ['PING flood (CVE-2019-9512)', () => [frame(T.headers, F.endHeaders, 1, requestBlockFor(kvRange)), ...repeat(100_000, (i) => [frame(T.ping, 0, 0, Buffer.alloc(8, i))])], /^too_many_pings$/],
    ['empty-frame flood (CVE-2019-9518)', () => [frame(T.headers, F.endHeaders, 1, requestBlockFor(kvPut)), ...repeat(100_000, () => [frame(T.data, 0, 1)])], /frames without a request/],
    ['PRIORITY and unknown-frame flood', () => repeat(50_000, (i) => [frame(T.priority, 0, 2 * i + 1, Buffer.from([0, 0, 0, 0, 16])), frame(0x30, 0, 0, Buffer.alloc(8))]), /frames without a request/],
  ];
  for (const [name, frames, reason] of attacks) {
    it(name, async () => {
      const { result, rssGrowthBytes } = await underAttack(async () => {
        const client = await open();
        client.send(...frames());
        const code = await client.goAwayCode(10_000);
        return { code, debug: client.frames.find((f) => f.type === T.goAway)!.payload.subarray(8).toString() };
      });
      assert.equal(result.code, E.enhanceYourCalm);
      assert.match(result.debug, reason);
      assert(rssGrowthBytes < attackRssBytesMax, `RSS grew ${rssGrowthBytes} bytes`);
    });
  }

  it('zero window: a client that never opens its windows while asking for 1 MB ranges', async () => {
    await kv.put({ key: 'big', value: Buffer.alloc(MiB, 0x62) });
    const { result, rssGrowthBytes } = await underAttack(async () => {
      const client = await open({ settings: [[S.initialWindowSize, 0]] });
      // In batches of 10, each answered (HEADERS, its 1 MB stuck behind the window) or refused before the next.
      for (let batch = 0; batch < 30 && !client.closed; batch++) {
        const ids = Array.from({ length: 10 }, (_, i) => 1 + 2 * (10 * batch + i));
        client.send(...ids.flatMap((id) => [frame(T.headers, F.endHeaders, id, requestBlockFor(kvRange)), frame(T.data, F.endStream, id, grpcMessage(rangeBody('big')))]));
        await client.waitFor((f) => f.streamId === ids[9] && (f.type === T.headers || f.type === T.rstStream), 20_000).catch(() => undefined);
      }
      // Past 64 MiB queued (limits.ts), new calls are refused, and after 100 refusals the connection ends.
      return client.goAwayCode(20_000);
    });
    assert.equal(result, E.enhanceYourCalm);
    assert(rssGrowthBytes < 64 * MiB + attackRssBytesMax, `RSS grew ${rssGrowthBytes} bytes`);
  });

  it('connection flood: 2000 connections held open after their handshake', async () => {
    const { result, rssGrowthBytes } = await underAttack(async () => {
      const clients: RawClient[] = [];
      for (let i = 0; i < 2000; i++) clients.push(await open());
      // A PING answered on every connection: the server has seen all of them and still serves each one.
      for (const c of clients) c.send(frame(T.ping, 0, 0, Buffer.alloc(8)));
      const answered = await Promise.all(clients.map((c) => c.waitFor((f) => f.type === T.ping && (f.flags & F.ack) !== 0, 30_000).then(() => true, () => false)));
      return answered.filter(Boolean).length;
    });
    assert.equal(result, 2000);
    // What a connection costs us at rest (its objects and a 4 KiB output buffer): under 32 KiB each.
    assert(rssGrowthBytes < 2000 * 32 * 1024, `RSS grew ${rssGrowthBytes} bytes for 2000 connections`);
  });

  it('slowloris: partial frames and unfinished header blocks are closed with ENHANCE_YOUR_CALM; silent connections cost little', async () => {
    const { result, rssGrowthBytes } = await underAttack(async () => {
      const deadline = slowOpenedAt + 30_000 + 15_000;
      await waitFor('the slowloris connections to be closed', () => [...slow.partialFrame, ...slow.unfinishedBlock].every((c) => c.closed), Math.max(1000, deadline - Date.now()), 100);
      return [...slow.partialFrame, ...slow.unfinishedBlock].map((c) => c.frames.find((f) => f.type === T.goAway)?.payload.readUInt32BE(4));
    });
    assert(result.every((code) => code === E.enhanceYourCalm), `GOAWAY codes ${[...new Set(result)].join(', ')}`);
    assert(rssGrowthBytes < attackRssBytesMax, `RSS grew ${rssGrowthBytes} bytes`);
  });

  it('real clients (etcdctl on grpc-go, etcd3, our CLI on grpc-js) were never sent a GOAWAY, and did ping', async () => {
    await waitFor('the real clients to have pinged', () => proxy.clientPings >= 2, 30_000, 100);
    for (const watcher of watchers) assert.equal(watcher.child.exitCode, null, `a watcher exited: ${watcher.output()}`);
    assert.deepEqual(proxy.goAways, []);
    const seen = await etcd3!.get('victim/0').string();
    assert.equal(seen, '0');
  });
});
