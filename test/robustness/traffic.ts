import { performance } from 'node:perf_hooks';
import { Client, compare as wireCompare, op as wireOp, type EtcdClientError } from '../../src/client/index.js';
import type { TxnResponse } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { SeededPrng, type Prng } from '../../src/server/raft/prng.js';
import { HistoryRecorder } from '../support/lincheck/history.js';
import { compare, del, get, put, txn, type Compare, type EtcdInput, type EtcdOutput, type GetOutput, type TxnOpInput, type TxnOpResult, type TxnOutput } from '../support/lincheck/etcd-model.js';

/**
 * Recorded client traffic against a cluster, in the shape of etcd's robustness
 * traffic (tests/robustness/traffic/etcd.go): logical clients with one request
 * in flight each, unique values in every put, and every request and answer
 * recorded for the linearizability checker.
 *
 * - KV clients: linearizable gets, puts, deletes, compare-and-swap txns and
 *   two-key txns over a small key set (contention is the point).
 * - Lease clients: grant a lease, put two keys with it, keep it alive for a
 *   while, then revoke it. The checker's model has no leases, so lease work is
 *   recorded as what it does to the key space: a put with a lease is a put,
 *   and a revoke (or an expiry) deletes the lease's keys in one revision, which
 *   is a txn of deletes of its keys (its keys are used by no other request).
 *   Each lease gets one such txn, begun when its grant is sent: a revoke that
 *   succeeds answers it; an expiry (nobody's request) or a revoke with an
 *   unknown outcome leaves it unanswered, and the checker may then apply it
 *   at any moment or never. What an expiry must not do (come early) is
 *   checked separately from the keep-alives (leases.ts).
 */
export interface TrafficSettings {
  seed: number;
  kvClients: number;
  leaseClients: number;
  /** KV requests per second over all KV clients; 0 = each client sends its next request when the last is answered. */
  requestsPerSecond: number;
  /** Share of KV requests that write (the rest are linearizable gets). */
  writeShare: number;
  keys: number;
  requestTimeoutMs: number;
  leaseTtlSeconds: number;
}

export const trafficDefaults: TrafficSettings = {
  seed: 1,
  kvClients: 6,
  leaseClients: 2,
  requestsPerSecond: 0,
  writeShare: 0.5,
  keys: 10,
  requestTimeoutMs: 2000,
  leaseTtlSeconds: 4,
};

/** What the lease checks need about one lease. */
export interface LeaseRecord {
  id: bigint;
  ttlSeconds: number;
  keys: string[];
  /** When the grant was sent (the TTL cannot start earlier). */
  grantCall: number;
  /** Send times of keep-alives answered with a TTL > 0. */
  keepAliveAcks: number[];
  /** The revision a completed revoke reported. */
  revokedAt?: number;
  /** The revoke's outcome is unknown, or the runner revoked it without recording (quiesce). */
  revokeUnrecorded?: boolean;
}

/** A write that succeeded: for availability figures. */
export interface AckedWrite {
  call: number;
  return: number;
}

export type EtcdRecorder = HistoryRecorder<EtcdInput, EtcdOutput>;

/** Client ids of never-answered expiry records start here, apart from real clients. */
const expiryClientBase = 1_000_000;
/** The client id of puts a scenario makes itself (filling WAL segments). */
const scenarioClientId = 999_999;
/** A client that got an error with unknown outcome waits this long before its next request. */
const errorPauseMs = 50;

export class Traffic {
  readonly recorder: EtcdRecorder = new HistoryRecorder({ isDefiniteFailure, now: () => performance.now() });
  readonly acked: AckedWrite[] = [];
  readonly leases: LeaseRecord[] = [];
  /** The highest revision any answer reported (watchers start near it). */
  latestRevision = 1;
  private readonly prng: Prng;
  private running: Promise<void>[] = [];
  private stopping = false;
  private pauseRequested = false;
  private paused: Promise<void> | undefined;
  private resume: (() => void) | undefined;
  private idle = 0;
  private nextRequestAt = 0;
  private expiryIds = expiryClientBase;
  private readonly liveLeases = new Set<LeaseRecord>();

  constructor(private readonly endpoints: () => string[], readonly settings: TrafficSettings) {
    this.prng = new SeededPrng(settings.seed);
  }

  start(): void {
    for (let c = 0; c < this.settings.kvClients; c++) this.running.push(this.kvClient(c));
    for (let l = 0; l < this.settings.leaseClients; l++) this.running.push(this.leaseClient(this.settings.kvClients + l));
  }

  /**
   * Stops sending and waits until every client is idle; lease clients revoke
   * their leases first, so that no expiry can change the store while paused.
   */
  async pause(): Promise<void> {
    this.pauseRequested = true;
    this.paused ??= new Promise((resolve) => (this.resume = resolve));
    const clients = this.settings.kvClients + this.settings.leaseClients;
    while (this.idle < clients && !this.stopping) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.revokeLiveLeases();
  }

  unpause(): void {
    this.pauseRequested = false;
    const resume = this.resume;
    this.paused = undefined;
    this.resume = undefined;
    resume?.();
  }

  async stop(): Promise<void> {
    await this.pause();
    this.stopping = true;
    this.unpause();
    await Promise.all(this.running);
    this.running = [];
  }

  /**
   * One recorded linearizable read after traffic stopped: its revision is the final one, so
   * the checker must place every write the cluster made, the last ones included, before it.
   */
  async finalRead(): Promise<number> {
    const client = await this.connect(0);
    try {
      const input = get('k/0');
      return (await this.recorder.record(scenarioClientId, input, () => execute(client, input), this.settings.requestTimeoutMs * 5)).revision;
    } finally {
      client.close();
    }
  }

  /** A recorded put made by a scenario rather than a traffic client (one at a time). */
  async scenarioPut(key: string, value: string): Promise<boolean> {
    const client = await this.connect(0);
    const input = put(key, value);
    try {
      await this.recorder.record(scenarioClientId, input, () => execute(client, input), this.settings.requestTimeoutMs + 1000);
      return true;
    } catch {
      return false;
    } finally {
      client.close();
    }
  }

  /** Waits here while paused; true when the client must end. */
  private async checkpoint(): Promise<boolean> {
    if (this.pauseRequested) {
      this.idle++;
      await this.paused;
      this.idle--;
    }
    return this.stopping;
  }

  private async kvClient(c: number): Promise<void> {
    const client = await this.connect(c);
    const lastMod = new Map<string, number>();
    try {
      for (let seq = 0; !(await this.checkpoint()); seq++) {
        await this.pace();
        const input = this.nextKvRequest(c, seq, lastMod);
        const output = await this.send(client, c, input);
        if (output === undefined) await new Promise((resolve) => setTimeout(resolve, errorPauseMs));
        else noteModRevision(lastMod, input, output);
      }
    } finally {
      client.close();
    }
  }

  /** Open-loop pacing when a rate is set: requests leave on a shared schedule. */
  private async pace(): Promise<void> {
    const rate = this.settings.requestsPerSecond;
    if (rate <= 0) return;
    const now = performance.now();
    this.nextRequestAt = Math.max(this.nextRequestAt + 1000 / rate, now);
    const wait = this.nextRequestAt - now;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private nextKvRequest(c: number, seq: number, lastMod: Map<string, number>): EtcdInput {
    const key = (n: number) => `k/${n}`;
    const k = key(this.prng.nextInt(this.settings.keys));
    const value = `c${c}.${seq}`;
    if (this.prng.nextFloat() >= this.settings.writeShare) return get(k);
    const roll = this.prng.nextInt(100);
    if (roll < 60) return put(k, value);
    if (roll < 70) return del(k);
    if (roll < 88) return txn([compare(k, 'mod', '==', lastMod.get(k) ?? 0)], [put(k, value)], [get(k)]);
    let k2 = key(this.prng.nextInt(this.settings.keys));
    if (k2 === k) k2 = key((Number(k.slice(2)) + 1) % this.settings.keys);
    return txn([], [put(k, value), put(k2, `${value}b`)]);
  }

  /** Sends one recorded KV request; its answer, or undefined when it failed. */
  private async send(client: Client, c: number, input: EtcdInput): Promise<EtcdOutput | undefined> {
    const call = performance.now();
    try {
      const output = await this.recorder.record(c, input, () => execute(client, input), this.settings.requestTimeoutMs + 1000);
      this.latestRevision = Math.max(this.latestRevision, output.revision);
      // Any write request that succeeded went through consensus: the cluster was available.
      if (input.type !== 'get') this.acked.push({ call, return: performance.now() });
      return output;
    } catch {
      return undefined;
    }
  }

  private async leaseClient(c: number): Promise<void> {
    const client = await this.connect(c);
    try {
      for (let n = 0; !(await this.checkpoint()); n++) await this.leaseRound(client, c, n);
    } finally {
      client.close();
    }
  }

  /** One lease: grant, two puts with it, keep-alives for 1 to 3 s, revoke. */
  private async leaseRound(client: Client, c: number, n: number): Promise<void> {
    const keys = [`l/${c}/${n}/a`, `l/${c}/${n}/b`];
    const ttlSeconds = this.settings.leaseTtlSeconds;
    const grantCall = performance.now();
    // The end of the lease, by revoke or by expiry: one record, so that the checker never has
    // two requests with the same effect to choose from. Unanswered, it may take effect at any
    // time after the grant was sent, or never; a revoke that succeeds answers it.
    const end = this.recorder.begin(this.expiryIds++, txn([], keys.map(del)));
    let id: bigint;
    try {
      id = (await client.lease.grant(ttlSeconds, { timeoutMs: this.settings.requestTimeoutMs })).ID;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, errorPauseMs));
      return;
    }
    const lease: LeaseRecord = { id, ttlSeconds, keys, grantCall, keepAliveAcks: [] };
    this.leases.push(lease);
    this.liveLeases.add(lease);
    const putResults: ('ok' | 'failed' | 'unknown')[] = [];
    for (const [i, key] of keys.entries()) {
      const input = put(key, `c${c}.${n}.${i}`);
      try {
        await this.recorder.record(c, input, () => execute(client, input, id), this.settings.requestTimeoutMs + 1000);
        putResults.push('ok');
      } catch (err) {
        putResults.push(isDefiniteFailure(err) ? 'failed' : 'unknown');
      }
    }
    const holdUntil = performance.now() + 1000 + this.prng.nextInt(2000);
    while (performance.now() < holdUntil && !this.pauseRequested) {
      const sent = performance.now();
      const answer = await client.lease.keepAliveOnce(id, { timeoutMs: this.settings.requestTimeoutMs }).catch(() => undefined);
      if (answer !== undefined && answer.TTL > 0n) lease.keepAliveAcks.push(sent);
      if (answer !== undefined && answer.TTL <= 0n) break;
      await new Promise((resolve) => setTimeout(resolve, (ttlSeconds * 1000) / 4));
    }
    if (putResults.includes('unknown')) return; // left to expire: its end record stays unanswered
    try {
      const answer = await client.lease.revoke(lease.id, { timeoutMs: this.settings.requestTimeoutMs });
      const revision = Number(answer.header!.revision);
      // Every put that succeeded left its key until now: the lease still existed, or this revoke would have failed.
      this.recorder.succeed(end, { succeeded: true, revision, results: putResults.map((r) => ({ deleted: r === 'ok' ? 1 : 0 })) });
      this.latestRevision = Math.max(this.latestRevision, revision);
      lease.revokedAt = revision;
      this.liveLeases.delete(lease);
    } catch (err) {
      // The end record stays unanswered. "Not found" does not prove the lease had expired: the
      // client retries a revoke (as clientv3 does), so an earlier attempt that reached a member
      // which died before answering may have revoked it. Either way the revoke may explain the
      // deletes, and the lease is not held to the expiry rule (found by the long profile: a
      // "2 s early expiry" 36 ms after the member that took the revoke was killed).
      if (isDefiniteFailure(err)) this.liveLeases.delete(lease);
      lease.revokeUnrecorded = true;
    }
  }

  /** Revokes, without recording, every lease not known to be gone: its expiry stand-in explains the deletes. */
  private async revokeLiveLeases(): Promise<void> {
    if (this.liveLeases.size === 0) return;
    const client = await this.connect(0);
    try {
      for (const lease of this.liveLeases) {
        await client.lease.revoke(lease.id, { timeoutMs: this.settings.requestTimeoutMs }).catch(() => undefined);
        lease.revokeUnrecorded = true;
      }
      this.liveLeases.clear();
    } finally {
      client.close();
    }
  }

  /** A client of every endpoint, each client preferring a different member first. */
  private connect(c: number): Promise<Client> {
    const all = this.endpoints();
    const rotated = [...all.slice(c % all.length), ...all.slice(0, c % all.length)];
    return Client.connect({ endpoints: rotated, dialTimeoutMs: 0, commandTimeoutMs: this.settings.requestTimeoutMs });
  }
}

/** The mod revision a client last saw for a key: its next compare-and-swap expects it. */
function noteModRevision(lastMod: Map<string, number>, input: EtcdInput, output: EtcdOutput): void {
  if (input.type === 'get') lastMod.set(input.key, (output as GetOutput).modRevision);
  else if (input.type === 'put') lastMod.set(input.key, output.revision);
  else if (input.type === 'txn' && input.compares.length === 1) {
    const out = output as TxnOutput;
    const seen = out.results[0] as { modRevision?: number };
    lastMod.set(input.compares[0]!.key, out.succeeded ? out.revision : seen.modRevision ?? 0);
  }
}

/**
 * Errors that prove a request had no effect: it was refused before it was
 * proposed, or applied as a failure (a put with a lease that no longer exists).
 */
export function isDefiniteFailure(err: unknown): boolean {
  const code = (err as Partial<EtcdClientError>).code;
  return code === 3 /* INVALID_ARGUMENT */ || code === 5 /* NOT_FOUND */ || code === 11 /* OUT_OF_RANGE */;
}

/** Sends one request of the model's vocabulary and maps the answer to the model's output shape. */
export async function execute(client: Client, input: EtcdInput, lease?: bigint): Promise<EtcdOutput> {
  switch (input.type) {
    case 'get': {
      const r = await client.kv.get(input.key);
      const kv = r.kvs[0];
      return { value: kv ? kv.value.toString() : null, modRevision: kv ? Number(kv.modRevision) : 0, revision: Number(r.header!.revision) };
    }
    case 'put':
      return { revision: Number((await client.kv.put({ key: Buffer.from(input.key), value: Buffer.from(input.value), lease: lease ?? 0n })).header!.revision) };
    case 'delete': {
      const r = await client.kv.delete(input.key);
      return { deleted: Number(r.deleted), revision: Number(r.header!.revision) };
    }
    case 'txn': {
      const r = await client.kv.txn({
        compare: input.compares.map(toWireCompare),
        success: input.success.map(toWireOp),
        failure: input.failure.map(toWireOp),
      });
      return { succeeded: r.succeeded, revision: Number(r.header!.revision), results: txnResults(r) };
    }
  }
}

function toWireCompare(c: Compare) {
  const op = c.op === '==' ? '=' : c.op;
  switch (c.target) {
    case 'mod':
      return wireCompare.modRevision(c.key, op, BigInt(c.value));
    case 'create':
      return wireCompare.createRevision(c.key, op, BigInt(c.value));
    case 'version':
      return wireCompare.version(c.key, op, BigInt(c.value));
    case 'value':
      return wireCompare.value(c.key, op, String(c.value));
  }
}

function toWireOp(o: TxnOpInput) {
  if (o.type === 'get') return wireOp.get(o.key);
  if (o.type === 'put') return wireOp.put(o.key, o.value);
  return wireOp.delete(o.key);
}

function txnResults(r: TxnResponse): TxnOpResult[] {
  return r.responses.map((res): TxnOpResult => {
    if (res.responseRange !== undefined) {
      const kv = res.responseRange.kvs[0];
      return { value: kv ? kv.value.toString() : null, modRevision: kv ? Number(kv.modRevision) : 0 };
    }
    if (res.responseDeleteRange !== undefined) return { deleted: Number(res.responseDeleteRange.deleted) };
    return {};
  });
}
