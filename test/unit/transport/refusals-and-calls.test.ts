import assert from 'node:assert/strict';
import { status as Status } from '@grpc/grpc-js';
import {
  ClusterIdMismatchError,
  FetchMembersError,
  ForwardError,
  PeerNotFoundError,
} from '../../../src/server/transport/errors.js';
import { fetchMembers } from '../../../src/server/transport/fetch-members.js';
import { waitFor } from '../../support/procs.js';
import { deadUrl, msgs, startCluster, startNode, stopAll } from './helpers.js';

describe('peer transport: refusals', () => {
  afterEach(stopAll);

  it('refuses a peer of another cluster and logs it on both sides', async () => {
    const a = await startNode({ id: 1n, clusterId: 0xaaan });
    const b = await startNode({ id: 2n, clusterId: 0xbbbn });
    a.transport.addPeer(2n, [b.url]);
    a.transport.send(msgs(1n, 2n, 1, 5));
    await waitFor('receiver logs the refusal', () => b.logger.find('error', 'cluster ID mismatch'));
    await waitFor('sender logs the refusal', () => a.logger.find('error', 'peer refused our message stream'));
    const onReceiver = b.logger.find('error', 'cluster ID mismatch')!;
    assert.equal(onReceiver.fields['local-cluster-id'], 'bbb');
    assert.equal(onReceiver.fields['remote-cluster-id'], 'aaa');
    const onSender = a.logger.find('error', 'peer refused our message stream')!;
    assert.equal(onSender.fields.reason, 'cluster-id-mismatch');
    assert.equal(onSender.fields['remote-cluster-id'], 'bbb');
    assert.deepEqual(b.handler.received, []);
    assert.equal(a.transport.isActive(2n), false);
    assert.equal(a.reports.removed, 0);
  });

  it('refuses a stream addressed to another member id', async () => {
    const a = await startNode({ id: 1n });
    const b = await startNode({ id: 2n });
    a.transport.addPeer(3n, [b.url]); // b's URL now belongs to someone else
    await waitFor('receiver logs the refusal', () => b.logger.find('warn', 'to field mismatch'));
    await waitFor('sender logs the refusal', () => a.logger.find('error', 'peer refused our message stream'));
    assert.equal(a.transport.isActive(3n), false);
  });

  it('tells a removed member it was removed, once', async () => {
    const [a, b, c] = await startCluster(3);
    b!.handler.removed.add(1n);
    c!.handler.removed.add(1n);
    a!.transport.send([...msgs(1n, 2n, 1, 5), ...msgs(1n, 3n, 1, 5)]);
    await waitFor('onRemoved', () => a!.reports.removed > 0);
    await waitFor('both peers refused it', () => b!.logger.find('warn', 'removed') && c!.logger.find('warn', 'removed'));
    // Each outbound stream logs its refusal and reports the removal in the same step: once both
    // logged, both refusals were handled, and they made one report between them.
    await waitFor('both refusals handled', () => a!.logger.lines.filter((l) => l.msg === 'peer refused our message stream').length === 2);
    assert.equal(a!.reports.removed, 1);
    assert.deepEqual(b!.handler.received.filter((m) => m.from === 1n), []);
    // The others still talk to each other.
    b!.transport.send(msgs(2n, 3n, 1, 3));
    await waitFor('b to c still works', () => c!.handler.indexesFrom(2n).length === 3);
  });
});

describe('peer transport: membership and lease calls', () => {
  afterEach(stopAll);

  it('fetches the membership from the first member that answers', async () => {
    const b = await startNode({ id: 2n, clusterId: 0x77n });
    b.handler.membersResponse = {
      clusterId: 0x77n,
      members: [{ ID: 2n, name: 'b', peerURLs: [b.url], clientURLs: [], isLearner: false }],
    };
    const res = await fetchMembers([await deadUrl(), b.url]);
    assert.equal(res.clusterId, 0x77n);
    assert.deepEqual(res.members.map((m) => m.name), ['b']);
    const viaTransport = await (await startNode({ id: 9n, clusterId: 0x77n })).transport.fetchMembers([b.url], 0x77n);
    assert.equal(viaTransport.members.length, 1);
  });

  it('refuses a membership from an unexpected cluster', async () => {
    const b = await startNode({ id: 2n, clusterId: 0x77n });
    b.handler.membersResponse = { clusterId: 0x77n, members: [] };
    const err = await fetchMembers([b.url], { clusterIdExpected: 0x88n }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof FetchMembersError);
    assert.ok(err.causes[0]!.error instanceof ClusterIdMismatchError);
    assert.match(err.message, /could not retrieve cluster information/);
  });

  it('forwards lease calls to the leader and brings its errors back', async () => {
    const [follower, leader] = await startCluster(2, {
      errorToStatus: (e) => ({ code: Status.NOT_FOUND, message: (e as Error).message }),
    });
    const renewed = await follower!.transport.forwardLeaseRenew(2n, { ID: 0x1234n });
    assert.equal(renewed.ID, 0x1234n);
    assert.equal(renewed.TTL, 10n);
    const ttl = await follower!.transport.forwardLeaseTimeToLive(2n, { ID: 5n, keys: false });
    assert.equal(ttl.TTL, 7n);

    leader!.handler.renew = async () => { throw new Error('etcdserver: requested lease not found'); };
    const err = await follower!.transport.forwardLeaseRenew(2n, { ID: 1n }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ForwardError);
    assert.equal(err.code, Status.NOT_FOUND);
    assert.equal(err.details, 'etcdserver: requested lease not found');
  });

  it('gives up a forwarded call at its deadline', async () => {
    const [follower, leader] = await startCluster(2);
    leader!.handler.renew = () => new Promise(() => {});
    const err = await follower!.transport.forwardLeaseRenew(2n, { ID: 1n }, 200).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ForwardError);
    assert.equal(err.code, Status.DEADLINE_EXCEEDED);
    const unknown = await follower!.transport.forwardLeaseRenew(9n, { ID: 1n }).then(() => undefined, (e: unknown) => e);
    assert.ok(unknown instanceof PeerNotFoundError);
  });
});
