import assert from 'node:assert/strict';
import { waitFor } from '../../support/procs.js';
import { Message, MessageType } from '../../../src/proto/gen/etcdtspb/raft.js';
import { TransportConfigError } from '../../../src/server/transport/errors.js';
import { PeerTransport } from '../../../src/server/transport/transport.js';
import { freePort } from '../../support/ports.js';
import { blackhole, deadUrl, freezableProxy, msgs, range, RecordingHandler, startCluster, startNode, stopAll } from './helpers.js';

describe('peer transport: messages', () => {
  afterEach(stopAll);

  it('delivers messages between three members in order for every pair', async () => {
    const nodes = await startCluster(3);
    // Interleave destinations inside each send(), as a leader's Ready does.
    for (let round = 0; round < 50; round++) {
      for (const a of nodes) {
        const batch = nodes.filter((b) => b !== a).flatMap((b) => msgs(a.id, b.id, round * 10 + 1, round * 10 + 10));
        a.transport.send(batch);
      }
    }
    for (const b of nodes) {
      await waitFor(`node ${b.id} receives 1000 messages`, () => b.handler.received.length === 1000);
      for (const a of nodes) if (a !== b) assert.deepEqual(b.handler.indexesFrom(a.id), range(1, 500));
    }
    for (const a of nodes) for (const b of nodes) if (a !== b) assert.equal(a.transport.counters(b.id)?.messagesDropped, 0);
  });

  it('coalesces queued messages into a few batches under load', async () => {
    const [a, b] = await startCluster(2, { queueMessagesMax: 100_000 });
    await waitFor('stream up', () => a!.transport.isActive(b!.id));
    for (let i = 1; i <= 20_000; i++) a!.transport.send(msgs(a!.id, b!.id, i, i));
    await waitFor('all messages', () => b!.handler.received.length === 20_000);
    assert.deepEqual(b!.handler.indexesFrom(a!.id), range(1, 20_000));
    const sent = a!.transport.counters(b!.id)!;
    assert.equal(sent.messagesSent, 20_000);
    // One write is in flight at a time; everything queued behind it goes out as one batch.
    assert.ok(sent.batchesSent <= 200, `${sent.batchesSent} batches for 20000 messages`);
    const received = b!.transport.counters(a!.id)!;
    assert.equal(received.messagesReceived, 20_000);
    assert.equal(received.bytesReceived, sent.bytesSent);
    assert.equal(received.batchesReceived, sent.batchesSent);
  });

  it('keeps delivering to a live peer while other peers are dead', async () => {
    const a = await startNode({ id: 1n });
    const live = await startNode({ id: 2n });
    const frozen = await blackhole();
    const refused = await deadUrl();
    a.transport.addPeer(2n, [live.url]);
    a.transport.addPeer(3n, [frozen]);
    a.transport.addPeer(4n, [refused]);
    for (let i = 1; i <= 2000; i += 10) {
      a.transport.send([...msgs(1n, 3n, i, i + 9), ...msgs(1n, 2n, i, i + 9), ...msgs(1n, 4n, i, i + 9)]);
      // Let stream events run between sends, as Raft's ticks would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor('the live peer receives everything', () => live.handler.received.length === 2000);
    assert.deepEqual(live.handler.indexesFrom(1n), range(1, 2000));
    assert.equal(a.transport.isActive(3n), false);
    assert.equal(a.transport.isActive(4n), false);
    assert.equal(a.transport.counters(3n)!.messagesSent, 0);
    await waitFor('the refused peer is reported unreachable', () => a.reports.unreachable.includes(4n));
  });

  it('reconnects after the receiver restarts, with a new activeSince', async () => {
    const a = await startNode({ id: 1n });
    let b = await startNode({ id: 2n });
    a.transport.addPeer(2n, [b.url]);
    a.transport.send(msgs(1n, 2n, 1, 100));
    await waitFor('first messages', () => b.handler.received.length === 100);
    const firstSince = a.transport.activeSince(2n);
    assert.ok(firstSince !== undefined);

    await b.transport.stop();
    await waitFor('peer seen down', () => !a.transport.isActive(2n));
    assert.equal(a.transport.activeSince(2n), undefined);
    await waitFor('peer reported unreachable', () => a.reports.unreachable.includes(2n));

    b = await startNode({ id: 2n, port: b.port });
    await waitFor('stream re-established', () => a.transport.isActive(2n), 15_000);
    a.transport.send(msgs(1n, 2n, 101, 200));
    await waitFor('messages after restart', () => b.handler.received.length === 100);
    assert.deepEqual(b.handler.indexesFrom(1n), range(101, 200));
    assert.ok(a.transport.activeSince(2n)! >= firstSince);
    assert.ok(a.transport.counters(2n)!.sendFailures >= 1);
  });

  it('drops what does not fit a full queue without throwing, and reports the peer unreachable', async () => {
    const a = await startNode({ id: 1n, options: { queueMessagesMax: 10, connectTimeoutMs: 60_000 } });
    // A frozen peer never accepts the stream, so its queue only fills.
    a.transport.addPeer(2n, [await blackhole()]);
    assert.doesNotThrow(() => {
      a.transport.send(msgs(1n, 2n, 1, 8));
      a.transport.send(msgs(1n, 2n, 9, 25));
    });
    assert.equal(a.transport.counters(2n)!.messagesDropped, 15);
    assert.deepEqual(a.reports.unreachable, [], 'reports are never made from inside send()');
    await waitFor('unreachable reported', () => a.reports.unreachable.length > 0);
    assert.deepEqual(a.reports.unreachable, [2n]);
  });

  it('ignores messages to unknown peers and to no one after stop()', async () => {
    const a = await startNode({ id: 1n });
    assert.doesNotThrow(() => a.transport.send(msgs(1n, 9n, 1, 3)));
    await a.transport.stop();
    assert.doesNotThrow(() => a.transport.send(msgs(1n, 9n, 4, 6)));
    assert.deepEqual(a.reports.unreachable, []);
  });
});

describe('peer transport: dead peers that do not say so', () => {
  afterEach(stopAll);

  it('notices a frozen peer through keepalive and reports it unreachable', async () => {
    const a = await startNode({ id: 1n, options: { keepaliveTimeMs: 200, keepaliveTimeoutMs: 300, connectTimeoutMs: 500 } });
    const b = await startNode({ id: 2n });
    const proxy = await freezableProxy(b.port);
    a.transport.addPeer(2n, [proxy.url]);
    a.transport.send(msgs(1n, 2n, 1, 10));
    await waitFor('delivered through the proxy', () => b.handler.received.length === 10);
    assert.equal(a.transport.isActive(2n), true);
    proxy.freeze();
    await waitFor('frozen peer seen inactive', () => !a.transport.isActive(2n));
    await waitFor('frozen peer reported unreachable', () => a.reports.unreachable.includes(2n));
  });

  it('keeps heartbeats flowing while a snapshot to the same peer is stalled', async () => {
    const [leader, follower] = await startCluster(2);
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    follower!.handler.snapshotHandler = async (_msg, data) => {
      await released; // a member busy elsewhere: nothing of the snapshot is read yet
      for await (const _ of data) { /* drain */ }
    };
    const big = Buffer.alloc(1024 * 1024, 7);
    leader!.transport.sendSnapshot(
      Message.fromPartial({ type: MessageType.MsgSnap, from: 1n, to: 2n }),
      function* () { for (let i = 0; i < 32; i++) yield big; },
      32n * 1024n * 1024n,
    );
    leader!.transport.send(msgs(1n, 2n, 1, 1000));
    await waitFor('messages arrive beside the stalled snapshot', () => follower!.handler.received.length === 1000);
    assert.deepEqual(leader!.reports.snapshotStatus, []);
    release();
    await waitFor('snapshot done', () => leader!.reports.snapshotStatus.length === 1);
    assert.deepEqual(leader!.reports.snapshotStatus, [{ id: 2n, ok: true }]);
  });
});

describe('peer transport: peer URLs', () => {
  afterEach(stopAll);

  it('tries the next URL of a peer when one fails', async () => {
    const a = await startNode({ id: 1n });
    const b = await startNode({ id: 2n });
    a.transport.addPeer(2n, [await deadUrl(), b.url]);
    await waitFor('stream over the second URL', () => a.transport.isActive(2n));
    a.transport.send(msgs(1n, 2n, 1, 20));
    await waitFor('delivered', () => b.handler.received.length === 20);
  });

  it('follows updatePeer to a new URL, and lets go of a removed peer', async () => {
    const a = await startNode({ id: 1n });
    const b = await startNode({ id: 2n });
    a.transport.addPeer(2n, [await deadUrl()]);
    await waitFor('the dead URL fails', () => a.reports.unreachable.includes(2n));
    a.transport.updatePeer(2n, [b.url]);
    await waitFor('stream to the new URL', () => a.transport.isActive(2n));
    await waitFor('b sees a stream from a', () => b.transport.isActive(1n));
    a.transport.removePeer(2n);
    assert.equal(a.transport.hasPeer(2n), false);
    await waitFor('b sees the stream go', () => !b.transport.isActive(1n));
    assert.doesNotThrow(() => a.transport.send(msgs(1n, 2n, 1, 1)));
  });

  it('serves every listen URL', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const handler = new RecordingHandler();
    const b = new PeerTransport({
      memberId: 2n, clusterId: 0xc1a55n, handler,
      listenUrls: [new URL(`http://127.0.0.1:${p1}`), new URL(`http://localhost:${p2}`)],
    });
    await b.start();
    try {
      assert.deepEqual(b.listenPorts, [p1, p2]);
      const a = await startNode({ id: 1n });
      a.transport.addPeer(2n, [`http://localhost:${p2}`]);
      a.transport.send(msgs(1n, 2n, 1, 5));
      await waitFor('delivered on the second URL', () => handler.received.length === 5);
    } finally {
      await b.stop();
    }
  });

  it('refuses URLs it cannot serve', () => {
    const make = (url: string): PeerTransport => new PeerTransport({
      memberId: 1n, clusterId: 1n, handler: new RecordingHandler(), listenUrls: [new URL(url)],
    });
    assert.throws(() => make('https://127.0.0.1:2380'), TransportConfigError);
    assert.throws(() => make('unix:///tmp/x'), TransportConfigError);
  });
});
