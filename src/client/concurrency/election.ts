import type { RangeResponse, ResponseHeader } from '../../proto/gen/etcdserverpb/rpc.js';
import { Event_EventType, type KeyValue } from '../../proto/gen/mvccpb/kv.js';
import type { Client } from '../client.js';
import type { CallOptions } from '../options.js';
import { CompactedError } from '../errors.js';
import { toBuffer, type Bytes } from '../keys.js';
import { compare, op } from '../txn.js';
import { ElectionNoLeaderError, ElectionNotLeaderError, SessionExpiredError } from './errors.js';
import { firstCreate, keyDirectory, sessionKey, waitDeletes } from './keys.js';
import { Session } from './session.js';

/** One observed leadership: the leader's key-value (its value is the proclamation) and the header it was read with. */
export interface LeaderObservation {
  header: ResponseHeader;
  kv: KeyValue;
}

type Signalled = CallOptions;

/**
 * Leader election, etcd's recipe (clientv3/concurrency/election.go):
 * candidates put `<name>/<lease hex>` with their proposal as the value; the
 * oldest key is the leader; campaign() returns once every older candidate
 * is gone. proclaim() changes the leader's value, resign() deletes its key
 * (and the next candidate takes over), leader() reads the current leader,
 * observe() follows leadership as it changes.
 *
 * As in Mutex, a campaign that waited is only won if our key survived the
 * wait: a candidate whose session expired meanwhile is not the leader.
 */
export class Election {
  private readonly client: Client;
  /** The session campaigns run under (undefined for an election used only to observe). */
  readonly session: Session | undefined;
  private readonly directory: Buffer;
  private leaderKey: Buffer | undefined;
  private leaderRevision = -1n;
  private leaderSession: Session | undefined;
  private lastHeader: ResponseHeader | undefined;

  /** A session to campaign with, or just a client to observe and read the leader. */
  constructor(
    sessionOrClient: Session | Client,
    name: Bytes,
  ) {
    this.session = sessionOrClient instanceof Session ? sessionOrClient : undefined;
    this.client = sessionOrClient instanceof Session ? sessionOrClient.client : sessionOrClient;
    this.directory = keyDirectory(name);
  }

  /** An election whose leadership (key and create revision) this process already holds, e.g. from a CampaignResponse. */
  static resume(session: Session, name: Bytes, leaderKey: Bytes, leaderRevision: bigint): Election {
    const election = new Election(session, name);
    election.leaderKey = toBuffer(leaderKey);
    election.leaderRevision = leaderRevision;
    election.leaderSession = session;
    return election;
  }

  /** The leader key while this election holds (or campaigns for) leadership. */
  get key(): Buffer | undefined {
    return this.leaderKey;
  }

  /** The leader key's create revision. */
  get revision(): bigint {
    return this.leaderRevision;
  }

  get header(): ResponseHeader | undefined {
    return this.lastHeader;
  }

  /** Campaigns with `value`; resolves once elected. A failed or canceled campaign withdraws its key. */
  async campaign(value: Bytes, options: Signalled = {}): Promise<void> {
    const session = this.requireSession();
    const key = sessionKey(this.directory, session.lease);
    let response;
    try {
      response = await this.client.kv.txn(
        {
          compare: [compare.createRevision(key, '=', 0n)],
          success: [op.put(key, value, { lease: session.lease })],
          failure: [op.get(key)],
        },
        { signal: options.signal },
      );
    } catch (err) {
      // Canceled or failed with the txn's response in flight: the key may be
      // queued already, and nobody else would take it out before the lease ends.
      await this.client.kv.delete(key).catch(() => undefined);
      throw err;
    }
    this.leaderKey = key;
    this.leaderRevision = response.header!.revision;
    this.leaderSession = session;
    try {
      if (!response.succeeded) {
        const existing = response.responses[0]!.responseRange!.kvs[0]!;
        this.leaderRevision = existing.createRevision;
        if (!existing.value.equals(toBuffer(value))) await this.proclaim(value, options);
      }
      await waitDeletes(this.client, this.directory, this.leaderRevision - 1n, options.signal);
      const check = await this.client.kv.get(key, { signal: options.signal });
      if (check.kvs[0]?.createRevision !== this.leaderRevision || session.lost !== undefined) throw new SessionExpiredError();
    } catch (err) {
      await this.resign().catch(() => undefined);
      throw err;
    }
    this.lastHeader = response.header;
  }

  /** Changes the leader's value, if this election still holds leadership. */
  async proclaim(value: Bytes, options: Signalled = {}): Promise<void> {
    if (this.leaderSession === undefined || this.leaderKey === undefined) throw new ElectionNotLeaderError();
    const response = await this.client.kv.txn(
      {
        compare: [compare.createRevision(this.leaderKey, '=', this.leaderRevision)],
        success: [op.put(this.leaderKey, value, { lease: this.leaderSession.lease })],
      },
      options,
    );
    if (!response.succeeded) {
      this.leaderKey = undefined;
      throw new ElectionNotLeaderError();
    }
    this.lastHeader = response.header;
  }

  /** Gives up leadership (or the candidacy): deletes our key if it is still the one we created. */
  async resign(options: Signalled = {}): Promise<void> {
    if (this.leaderSession === undefined || this.leaderKey === undefined) return;
    const key = this.leaderKey;
    const revision = this.leaderRevision;
    this.leaderKey = undefined;
    this.leaderSession = undefined;
    const response = await this.client.kv.txn(
      { compare: [compare.createRevision(key, '=', revision)], success: [op.delete(key)] },
      options,
    );
    this.lastHeader = response.header;
  }

  /** The current leader (the oldest candidate's key); ElectionNoLeaderError when there is none. */
  async leader(options: Signalled = {}): Promise<RangeResponse> {
    const response = await this.client.kv.get(this.directory, { ...firstCreate, ...options });
    if (response.kvs.length === 0) throw new ElectionNoLeaderError();
    return response;
  }

  /**
   * Every leadership in order, and every proclamation of each leader, until
   * the signal aborts. Unlike etcd's observe, which reads the next leader
   * at the current revision after a leader's key is deleted (and so skips a
   * leader that came and went meanwhile), the next leader is read at the
   * revision of the deletion, and followed from there: no leader is missed
   * while the history is not compacted.
   */
  async *observe(options: Signalled = {}): AsyncGenerator<LeaderObservation> {
    let at = 0n;
    for (;;) {
      let response: RangeResponse;
      try {
        response = await this.client.kv.get(this.directory, { ...firstCreate, revision: at, signal: options.signal });
      } catch (err) {
        if (!(err instanceof CompactedError) || at === 0n) throw err;
        at = 0n;
        continue;
      }
      const readAt = at === 0n ? response.header!.revision : at;
      try {
        const first = response.kvs[0] !== undefined
          ? { header: response.header!, kv: response.kvs[0] }
          : await this.firstCandidate(readAt + 1n, options.signal);
        if (first === undefined) return;
        yield first;
        const from = response.kvs[0] !== undefined ? readAt + 1n : first.kv.modRevision + 1n;
        const deletedAt = yield* this.follow(first.kv.key, from, options.signal);
        if (deletedAt === undefined) return;
        at = deletedAt;
      } catch (err) {
        // The history we were following was compacted: carry on from the present.
        if (!(err instanceof CompactedError)) throw err;
        at = 0n;
      }
    }
  }

  /** Waits for the first key to be put in the (empty) directory from `revision` on. */
  private async firstCandidate(revision: bigint, signal?: AbortSignal): Promise<LeaderObservation | undefined> {
    const watcher = this.client.watch(this.directory, { prefix: true, startRevision: revision, signal });
    try {
      for (;;) {
        const response = await watcher.next();
        if (response === undefined) return undefined;
        const put = response.events.find((e) => e.type === Event_EventType.PUT);
        if (put !== undefined) return { header: { ...response.header!, revision: put.kv!.modRevision }, kv: put.kv! };
      }
    } finally {
      watcher.cancel();
    }
  }

  /** Yields each new value of the leader key; returns the revision of its deletion (undefined if stopped). */
  private async *follow(key: Buffer, revision: bigint, signal?: AbortSignal): AsyncGenerator<LeaderObservation, bigint | undefined> {
    const watcher = this.client.watch(key, { startRevision: revision, signal });
    try {
      for (;;) {
        const response = await watcher.next();
        if (response === undefined) return undefined;
        for (const event of response.events) {
          if (event.type === Event_EventType.DELETE) return event.kv!.modRevision;
          yield { header: response.header!, kv: event.kv! };
        }
      }
    } finally {
      watcher.cancel();
    }
  }

  private requireSession(): Session {
    if (this.session === undefined) throw new Error('campaigning needs a session: construct the Election with one');
    return this.session;
  }
}
