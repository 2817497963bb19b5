import assert from 'node:assert/strict';
import { Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { LeaseClient, WatchClient, type LeaseKeepAliveRequest, type LeaseKeepAliveResponse, type WatchRequest, type WatchResponse } from '../../src/proto/gen/etcdserverpb/rpc.js';
import { leaderOf, startCluster, type Cluster } from '../support/cluster.js';
import { killAll, removeTempDirs, sleep, waitFor } from '../support/procs.js';
import { RawKv } from '../support/raw-kv.js';
import { channelCredentialsFor, overEachTransport } from '../support/transport-mode.js';
import { formatViolations, validateWatches, type CommittedRevision, type WatchStream } from '../support/lincheck/watch-check.js';

/** A recorded stream in the validators' shape (revisions as numbers, events per revision). */
function toStream(name: string, responses: WatchResponse[], startRevision: number): WatchStream {
  const withEvents = responses.filter((r) => r.events.length > 0);
  const out: WatchStream['responses'] = [];
  for (const r of withEvents) {
    const response = { revision: Number(r.header!.revision), events: r.events.map((e) => ({
      type: e.type === 0 ? 'put' as const : 'delete' as const,
      key: e.kv!.key.toString('latin1'),
      value: e.type === 0 ? e.kv!.value.toString('latin1') : undefined,
      modRevision: Number(e.kv!.modRevision),
    })) };
    out.push(response);
  }
  const created = responses.find((r) => r.created);
  return { name, key: 'w/', rangeEnd: 'w0', startRevision, createdRevision: created ? Number(created.header!.revision) : undefined, responses: out };
}

const target = (url: string) => url.replace(/^https?:\/\//, '');
const grpcOptions = { 'grpc.use_local_subchannel_pool': 1 };


/** Opens a watch on one member and collects every event it delivers. */
function openWatch(url: string, key: string, rangeEnd: string, startRevision: bigint) {
  const client = new WatchClient(target(url), channelCredentialsFor(url), grpcOptions);
  const stream: ClientDuplexStream<WatchRequest, WatchResponse> = client.watch(new Metadata());
  const responses: WatchResponse[] = [];
  let broken = false;
  stream.on('data', (r: WatchResponse) => responses.push(r));
  stream.on('error', () => {
    broken = true;
  });
  stream.write({ createRequest: { key: Buffer.from(key), rangeEnd: Buffer.from(rangeEnd), startRevision, progressNotify: false, filters: [], prevKv: false, watchId: 0n, fragment: false } });
  return {
    responses,
    isBroken: () => broken,
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

overEachTransport('watches and leases across a 3-member cluster', function () {
  this.timeout(180000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('resumes a watch on another member after its member was killed, missing nothing and repeating nothing', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await leaderOf(cluster);
    const watched = cluster.members.find((m) => m.name !== leader)!;
    const other = cluster.members.find((m) => m.name !== leader && m !== watched)!;
    const writer = new RawKv(cluster.members.find((m) => m.name === leader)!.clientUrl);
    const first = openWatch(watched.clientUrl, 'w/', 'w0', 0n);
    await waitFor('the watch to be created', () => first.responses.some((r) => r.created));
    let stop = false;
    let acked = 0;
    const writes = (async () => {
      for (let i = 0; !stop; i++) await writer.put({ key: `w/${i % 20}`, value: `v${i}` }).then(() => acked++, () => undefined);
    })();
    const eventsSeen = () => first.responses.reduce((n, r) => n + r.events.length, 0);
    await waitFor('the first watch to see events', () => eventsSeen() > 20, 30000, 20);
    await cluster.kill(watched.name);
    await waitFor('the first stream to break', () => first.isBroken(), 10000);
    const seen = first.responses.flatMap((r) => r.events.map((e) => e.kv!.modRevision));
    const last = seen.length > 0 ? seen[seen.length - 1]! : 0n;
    const second = openWatch(other.clientUrl, 'w/', 'w0', last + 1n);
    const ackedAtResume = acked;
    await waitFor('writes after the resume', () => acked > ackedAtResume + 20 && second.responses.some((r) => r.events.length > 0), 30000, 20);
    stop = true;
    await writes;
    const finalRev = (await writer.range({ key: 'w/', rangeEnd: 'w0' })).header!.revision;
    await waitFor('the resumed watch to catch up', () => {
      const revs = second.responses.flatMap((r) => r.events.map((e) => e.kv!.modRevision));
      return revs.length > 0 && revs[revs.length - 1] === finalRev;
    }, 20000);
    // The committed history: a reference watch from revision 1 on a live member.
    const reference = openWatch(other.clientUrl, 'w/', 'w0', 1n);
    await waitFor('the reference watch to reach the end', () => {
      const revs = reference.responses.flatMap((r) => r.events.map((e) => e.kv!.modRevision));
      return revs.length > 0 && revs[revs.length - 1] === finalRev;
    }, 20000);
    const streams = [toStream('first', first.responses, 0), toStream('resumed', second.responses, Number(last + 1n))];
    // Group by each event's revision: a catch-up response's header carries the current revision, not its events'.
    const byRevision = new Map<number, CommittedRevision>();
    for (const e of toStream('reference', reference.responses, 1).responses.flatMap((r) => r.events)) {
      const entry = byRevision.get(e.modRevision) ?? { revision: e.modRevision, events: [] };
      entry.events.push(e);
      byRevision.set(e.modRevision, entry);
    }
    const history = [...byRevision.values()].sort((a, b) => a.revision - b.revision);
    const violations = validateWatches({ streams, chains: [streams], history });
    assert.deepEqual(violations, [], formatViolations(violations));
    assert.ok(seen.length > 10 && streams[1]!.responses.length > 0, 'both halves of the resumed watch saw events');
    reference.close();
    first.close();
    second.close();
    writer.close();
    await cluster.stopAll();
  });

  function keepAliveStream(url: string) {
    const client = new LeaseClient(target(url), channelCredentialsFor(url), grpcOptions);
    const stream: ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> = client.leaseKeepAlive(new Metadata());
    const ttls: bigint[] = [];
    stream.on('data', (r: LeaseKeepAliveResponse) => ttls.push(r.TTL));
    stream.on('error', () => undefined);
    return {
      ttls,
      send: (id: bigint) => stream.write({ ID: id }),
      close: () => {
        stream.cancel();
        client.close();
      },
      client,
    };
  }

  function grant(url: string, ttl: bigint): Promise<bigint> {
    const client = new LeaseClient(target(url), channelCredentialsFor(url), grpcOptions);
    return new Promise((resolve, reject) => {
      client.leaseGrant({ TTL: ttl, ID: 0n }, new Metadata(), { deadline: Date.now() + 10000 }, (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res.ID);
      });
    });
  }

  it('keeps a lease alive through a follower, and across a leader kill while it is kept alive', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await leaderOf(cluster);
    const follower = cluster.members.find((m) => m.name !== leader)!;
    const kv = new RawKv(follower.clientUrl);
    const id = await grant(follower.clientUrl, 10n);
    await kv.put({ key: 'kept', value: 'alive', lease: id });
    const ka = keepAliveStream(follower.clientUrl);
    let keeping = true;
    // A keep-alive every second, as clientv3 sends them for a 10 s lease (TTL / 3, rounded down).
    const loop = (async () => {
      while (keeping) {
        ka.send(id);
        await sleep(1000);
      }
    })();
    await waitFor('two keep-alives answered through the follower', () => ka.ttls.length >= 2, 30000, 20);
    assert.ok(ka.ttls.every((t) => t === 10n), `keep-alives through a follower: ${ka.ttls.join(',')}`);
    await cluster.kill(leader);
    await leaderOf(cluster);
    // Past the TTL since the kill, counted in keep-alives answered by the new leader, not in wall time.
    const answeredBefore = ka.ttls.length;
    await waitFor('keep-alives answered for longer than the TTL after the leader change', () => ka.ttls.length >= answeredBefore + 12, 60000, 100);
    assert.ok(ka.ttls.slice(answeredBefore).every((t) => t === 10n), `keep-alives after the leader change: ${ka.ttls.slice(answeredBefore).join(',')}`);
    assert.equal((await kv.range({ key: 'kept' })).kvs[0]?.value.toString(), 'alive', 'a kept-alive lease expired across the leader change');
    keeping = false;
    await loop;
    ka.close();
    kv.close();
    await cluster.stopAll();
  });

  it('expires a lease that is not kept alive no earlier than its TTL, even when the leader is killed', async () => {
    const cluster = await startCluster({ size: 3 });
    const leader = await leaderOf(cluster);
    const survivor = cluster.members.find((m) => m.name !== leader)!;
    const kv = new RawKv(survivor.clientUrl);
    const granted = Date.now();
    const id = await grant(survivor.clientUrl, 5n);
    await kv.put({ key: 'short', value: 'lived', lease: id });
    await cluster.kill(leader);
    await waitFor('the lease to expire', async () => (await kv.range({ key: 'short' }).catch(() => undefined))?.kvs.length === 0, 60000, 200);
    const lived = Date.now() - granted;
    assert.ok(lived >= 5000, `the lease ended after ${lived} ms, before its 5 s TTL`);
    kv.close();
    await cluster.stopAll();
  });
});
