import assert from 'node:assert/strict';
import {
  AlarmResponse,
  AlarmType,
  HashKVResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberRemoveResponse,
  MoveLeaderResponse,
  StatusResponse,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { alarmMemberText, goFixed, goHexWidth16, humanizeBytes } from '../../../src/cli/admin/go-format.js';
import type { EndpointHealth, EndpointStatus } from '../../../src/cli/admin/reports.js';
import { CliError } from '../../../src/cli/errors.js';
import { MemorySink } from '../../../src/cli/output.js';
import { createPrinter, type Printer } from '../../../src/cli/printers/index.js';

/**
 * The expected texts below were printed by the real etcdctl 3.4.23 against a
 * real 3-member etcd 3.4.23 cluster; the responses are the ones it received.
 */
const clusterId = 17300438976491492131n;
const e1 = { ID: 13668033151171901709n, name: 'e1', peerURLs: ['http://127.0.0.1:23801'], clientURLs: ['http://127.0.0.1:23701'], isLearner: false };
const e2 = { ID: 185828541645115251n, name: 'e2', peerURLs: ['http://127.0.0.1:23802'], clientURLs: ['http://127.0.0.1:23702'], isLearner: false };
const learner = { ID: 7106100809503315448n, name: '', peerURLs: ['http://127.0.0.1:23804'], clientURLs: [], isLearner: true };
const memberList = MemberListResponse.fromPartial({ header: { clusterId, memberId: e1.ID, raftTerm: 2n }, members: [e2, learner, e1] });

const status = (endpoint: string, memberId: bigint, dbSize: bigint, errors: string[] = []): EndpointStatus => ({
  endpoint,
  status: StatusResponse.fromPartial({
    header: { clusterId, memberId, revision: 1n, raftTerm: 2n },
    version: '3.4.23',
    dbSize,
    leader: e1.ID,
    raftIndex: 8n,
    raftTerm: 2n,
    raftAppliedIndex: 8n,
    errors,
    dbSizeInUse: 16384n,
  }),
});

async function print(format: string, use: (p: Printer, err: MemorySink) => void): Promise<{ out: string; err: string }> {
  const out = new MemorySink();
  const err = new MemorySink();
  use(await createPrinter(format, { hex: false, out }), err);
  return { out: out.text(), err: err.text() };
}

describe('cluster administration output', () => {
  describe('Go formatting', () => {
    const sizes: Array<[number, string]> = [
      [0, '0 B'], [9, '9 B'], [10, '10 B'], [999, '999 B'], [1000, '1.0 kB'], [1500, '1.5 kB'], [9999, '10 kB'],
      [20480, '20 kB'], [24576, '25 kB'], [20500, '20 kB'], [21500, '22 kB'], [557056, '557 kB'], [22126624, '22 MB'], [2147483648, '2.1 GB'],
    ];
    for (const [bytes, text] of sizes) it(`humanize.Bytes(${bytes}) is "${text}"`, () => assert.equal(humanizeBytes(bytes), text));

    it('rounds exact halves to even like fmt, other values like toFixed', () => {
      assert.deepEqual([goFixed(20.5, 0), goFixed(21.5, 0), goFixed(2.5, 1), goFixed(20.6, 0)], ['20', '22', '2.5', '21']);
    });

    it('pads %16x with spaces', () => assert.equal(goHexWidth16(185828541645115251n), ' 2943212f5e2cf73'));

    it('prints an alarm member as protobuf compact text, trailing space included', () => {
      assert.equal(alarmMemberText({ memberID: 14441068740563398689n, alarm: AlarmType.NOSPACE }), 'memberID:14441068740563398689 alarm:NOSPACE ');
      assert.equal(alarmMemberText({ memberID: 1n, alarm: 7 as AlarmType }), 'memberID:1 alarm:7 ');
    });
  });

  describe('member', () => {
    it('list, simple', async () => {
      assert.equal(
        (await print('simple', (p) => p.memberList(memberList))).out,
        '2943212f5e2cf73, started, e2, http://127.0.0.1:23802, http://127.0.0.1:23702, false\n' +
          '629df109588f95f8, unstarted, , http://127.0.0.1:23804, , true\n' +
          'bdae9bbc11dd390d, started, e1, http://127.0.0.1:23801, http://127.0.0.1:23701, false\n',
      );
    });

    it('list, json', async () => {
      assert.equal(
        (await print('json', (p) => p.memberList(memberList))).out,
        '{"header":{"cluster_id":17300438976491492131,"member_id":13668033151171901709,"raft_term":2},"members":[' +
          '{"ID":185828541645115251,"name":"e2","peerURLs":["http://127.0.0.1:23802"],"clientURLs":["http://127.0.0.1:23702"]},' +
          '{"ID":7106100809503315448,"peerURLs":["http://127.0.0.1:23804"],"isLearner":true},' +
          '{"ID":13668033151171901709,"name":"e1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23701"]}]}\n',
      );
    });

    it('list, fields', async () => {
      const { out } = await print('fields', (p) => p.memberList(MemberListResponse.fromPartial({ header: memberList.header, members: [e2] })));
      assert.equal(
        out,
        '"ClusterID" : 17300438976491492131\n"MemberID" : 13668033151171901709\n"Revision" : 0\n"RaftTerm" : 2\n' +
          '"ID" : 185828541645115251\n"Name" : "e2"\n"PeerURL" : "http://127.0.0.1:23802"\n"ClientURL" : "http://127.0.0.1:23702"\n"IsLearner" : false\n\n',
      );
    });

    it('add and remove, simple: %16x IDs', async () => {
      const added = MemberAddResponse.fromPartial({ header: { clusterId: 0xf017819664191323n }, member: { ID: 0x629df109588f95f8n } });
      const removed = MemberRemoveResponse.fromPartial({ header: { clusterId: 0xf017819664191323n } });
      assert.equal((await print('simple', (p) => p.memberAdd(added))).out, 'Member 629df109588f95f8 added to cluster f017819664191323\n');
      assert.equal((await print('simple', (p) => p.memberRemove(0x1234n, removed))).out, 'Member             1234 removed from cluster f017819664191323\n');
    });

    it('add with -w fields or table is refused after the change, as in etcdctl', async () => {
      for (const format of ['fields', 'table']) {
        await assert.rejects(print(format, (p) => p.memberAdd(MemberAddResponse.fromPartial({}))), (e: CliError) => e.exitCode === 4 && e.message === `${format} not supported as output format`);
      }
    });
  });

  describe('endpoint', () => {
    const statuses = [status('127.0.0.1:23701', e1.ID, 20480n), status('127.0.0.1:23702', e2.ID, 24576n)];

    it('status, simple', async () => {
      assert.equal(
        (await print('simple', (p) => p.endpointStatus(statuses))).out,
        '127.0.0.1:23701, bdae9bbc11dd390d, 3.4.23, 20 kB, true, false, 2, 8, 8, \n127.0.0.1:23702, 2943212f5e2cf73, 3.4.23, 25 kB, false, false, 2, 8, 8, \n',
      );
    });

    it('status, json', async () => {
      assert.equal(
        (await print('json', (p) => p.endpointStatus(statuses.slice(0, 1)))).out,
        '[{"Endpoint":"127.0.0.1:23701","Status":{"header":{"cluster_id":17300438976491492131,"member_id":13668033151171901709,"revision":1,"raft_term":2},' +
          '"version":"3.4.23","dbSize":20480,"leader":13668033151171901709,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":16384}}]\n',
      );
    });

    it('status with an alarm, fields', async () => {
      const { out } = await print('fields', (p) => p.endpointStatus([status('127.0.0.1:23799', e1.ID, 1n, ['memberID:1 alarm:NOSPACE '])]));
      assert.match(out, /"Errors" : \[memberID:1 alarm:NOSPACE \]\n"Endpoint" : "127.0.0.1:23799"\n\n$/);
    });

    it('hashkv, json keeps a compact revision of -1', async () => {
      const hashKV = HashKVResponse.fromPartial({ header: { clusterId, memberId: e1.ID, revision: 1n, raftTerm: 2n }, hash: 1084519789, compactRevision: -1n });
      assert.equal(
        (await print('json', (p) => p.endpointHashKV([{ endpoint: '127.0.0.1:23701', hashKV }]))).out,
        '[{"Endpoint":"127.0.0.1:23701","HashKV":{"header":{"cluster_id":17300438976491492131,"member_id":13668033151171901709,"revision":1,"raft_term":2},"hash":1084519789,"compact_revision":-1}}]\n',
      );
      assert.equal((await print('simple', (p) => p.endpointHashKV([{ endpoint: '127.0.0.1:23701', hashKV }]))).out, '127.0.0.1:23701, 1084519789\n');
    });

    const health: EndpointHealth[] = [
      { endpoint: '127.0.0.1:23701', health: true, took: '6.592563ms', error: '' },
      { endpoint: '127.0.0.1:1', health: false, took: '2.001107231s', error: 'context deadline exceeded' },
    ];

    it('health, simple goes to stderr', async () => {
      const { out, err } = await print('simple', (p, e) => p.endpointHealth(health, e));
      assert.equal(out, '');
      assert.equal(
        err,
        '127.0.0.1:23701 is healthy: successfully committed proposal: took = 6.592563ms\n127.0.0.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n',
      );
    });

    it('health, json: health and took always, error when set', async () => {
      assert.equal(
        (await print('json', (p, e) => p.endpointHealth(health, e))).out,
        '[{"endpoint":"127.0.0.1:23701","health":true,"took":"6.592563ms"},{"endpoint":"127.0.0.1:1","health":false,"took":"2.001107231s","error":"context deadline exceeded"}]\n',
      );
    });

    it('health, fields', async () => {
      assert.equal(
        (await print('fields', (p, e) => p.endpointHealth(health.slice(0, 1), e))).out,
        '"Endpoint" : "127.0.0.1:23701"\n"Health" : true\n"Took" : 6.592563ms\n"Error" : \n\n',
      );
    });

    it('status with -w protobuf is refused', async () => {
      await assert.rejects(print('protobuf', (p) => p.endpointStatus(statuses)), (e: CliError) => e.exitCode === 4);
    });
  });

  describe('alarm and move-leader', () => {
    const nospace = AlarmResponse.fromPartial({ alarms: [{ memberID: 14441068740563398689n, alarm: AlarmType.NOSPACE }] });

    it('alarm list: simple, json (no header from etcd 3.4), protobuf', async () => {
      assert.equal((await print('simple', (p) => p.alarm(nospace))).out, 'memberID:14441068740563398689 alarm:NOSPACE \n');
      assert.equal((await print('json', (p) => p.alarm(nospace))).out, '{"alarms":[{"memberID":14441068740563398689,"alarm":1}]}\n');
      const bytes = new MemorySink();
      (await createPrinter('protobuf', { hex: false, out: bytes })).alarm(nospace);
      assert.deepEqual(bytes.bytes(), Buffer.from([0x12, 0x0d, 0x08, 0xa1, 0xe0, 0x9d, 0xd2, 0x9e, 0xf0, 0xbe, 0xb4, 0xc8, 0x01, 0x10, 0x01]));
      assert.equal((await print('json', (p) => p.alarm(AlarmResponse.fromPartial({})))).out, '{}\n');
    });

    it('move-leader, simple and json', async () => {
      assert.equal((await print('simple', (p) => p.moveLeader(e1.ID, e2.ID, MoveLeaderResponse.fromPartial({})))).out, 'Leadership transferred from bdae9bbc11dd390d to 2943212f5e2cf73\n');
      assert.equal((await print('json', (p) => p.moveLeader(e1.ID, e2.ID, MoveLeaderResponse.fromPartial({})))).out, '{}\n');
    });
  });

  describe('snapshot status', () => {
    const s = { hash: 1031352548, revision: 0n, totalKey: 6, totalSize: 20480 };

    it('simple, json and fields as etcdctl', async () => {
      assert.equal((await print('simple', (p) => p.snapshotStatus(s))).out, '3d7930e4, 0, 6, 20 kB\n');
      assert.equal((await print('json', (p) => p.snapshotStatus(s))).out, '{"hash":1031352548,"revision":0,"totalKey":6,"totalSize":20480}\n');
      assert.equal((await print('fields', (p) => p.snapshotStatus(s))).out, '"Hash" : 1031352548\n"Revision" : 0\n"Keys" : 6\n"Size" : 20480\n');
    });

    it('table has etcdctl\'s columns', async () => {
      const { out } = await print('table', (p) => p.snapshotStatus(s));
      assert.match(out, /HASH +│ REVISION │ TOTAL KEYS │ TOTAL SIZE/);
      assert.match(out, /3d7930e4 +│ 0 +│ 6 +│ 20 kB/);
    });
  });
});
