import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  ResponseHeader,
  WatchResponse,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import { Event_EventType } from '../../../src/proto/gen/mvccpb/kv.js';
import { splitExecArgs } from '../../../src/cli/coordination/exec-args.js';
import { HeldCommand } from '../../../src/cli/coordination/held-command.js';
import { leaseIdFromArg } from '../../../src/cli/coordination/lease-id.js';
import { parseInteractiveWatchArgs, parseWatchArgs, watchEnv, watchFlagSpecs, watchTarget } from '../../../src/cli/coordination/watch-args.js';
import { CliError } from '../../../src/cli/errors.js';
import { parseCommandLine } from '../../../src/cli/flags/parser.js';
import { MemorySink } from '../../../src/cli/output.js';
import { createPrinter, type Printer } from '../../../src/cli/printers/index.js';
import { leaseIdHex } from '../../../src/cli/printers/simple.js';
import { watchCreateRequest } from '../../../src/client/watch.js';

/**
 * The watch, lease, lock and elect commands' pure parts. Expected texts
 * were printed by the real etcdctl 3.4.23 against etcd 3.4.23 for the same
 * responses.
 */
const header = ResponseHeader.fromPartial({ clusterId: 324952591200643719n, memberId: 3319814642761637952n, revision: 5n, raftTerm: 2n });
const leaseId = 0x2040a1ffe4f49109n;

async function print(format: string, use: (p: Printer) => void, hex = false): Promise<string> {
  const out = new MemorySink();
  use(await createPrinter(format, { hex, out }));
  return out.bytes().toString('latin1');
}

function badArgsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, 128);
    return err.message;
  }
  assert.fail('expected a bad-arguments error');
}

describe('lease ids', () => {
  it('print as 16 hex digits, as Go\'s %016x of an int64', () => {
    assert.equal(leaseIdHex(0x1234n), '0000000000001234');
    assert.equal(leaseIdHex(leaseId), '2040a1ffe4f49109');
    assert.equal(leaseIdHex(-5n), '-000000000000005');
  });

  it('parse as hex, with etcdctl\'s error', () => {
    assert.equal(leaseIdFromArg('2040a1ffe4f49109'), leaseId);
    assert.equal(badArgsOf(() => leaseIdFromArg('xyz')), 'bad lease ID arg (strconv.ParseInt: parsing "xyz": invalid syntax), expecting ID in Hex');
  });
});

describe('lease output', () => {
  const grant = LeaseGrantResponse.fromPartial({ header, ID: leaseId, TTL: 100n });
  const ttl = LeaseTimeToLiveResponse.fromPartial({ header, ID: leaseId, TTL: 99n, grantedTTL: 100n, keys: [Buffer.from('a'), Buffer.from('b')] });
  const expired = LeaseTimeToLiveResponse.fromPartial({ header, ID: 0x1234n, TTL: -1n, grantedTTL: 0n });
  const leases = LeaseLeasesResponse.fromPartial({ header, leases: [{ ID: 1n }, { ID: leaseId }] });
  const keepAlive = LeaseKeepAliveResponse.fromPartial({ header, ID: leaseId, TTL: 100n });

  const table: Array<[string, string, (p: Printer) => void, string]> = [
    ['grant', 'simple', (p) => p.leaseGrant(grant), 'lease 2040a1ffe4f49109 granted with TTL(100s)\n'],
    ['grant', 'json', (p) => p.leaseGrant(grant), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"ID":2324035528153141513,"TTL":100,"Error":""}\n'],
    ['grant', 'fields', (p) => p.leaseGrant(grant), '"ClusterID" : 324952591200643719\n"MemberID" : 3319814642761637952\n"Revision" : 5\n"RaftTerm" : 2\n"ID" : 2324035528153141513\n"TTL" : 100\n'],
    ['revoke', 'simple', (p) => p.leaseRevoke(leaseId, LeaseRevokeResponse.fromPartial({ header })), 'lease 2040a1ffe4f49109 revoked\n'],
    ['revoke', 'json', (p) => p.leaseRevoke(leaseId, LeaseRevokeResponse.fromPartial({ header })), '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2}}\n'],
    ['keep-alive', 'simple', (p) => p.leaseKeepAlive(keepAlive), 'lease 2040a1ffe4f49109 keepalived with TTL(100)\n'],
    ['keep-alive', 'json', (p) => p.leaseKeepAlive(keepAlive), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"ID":2324035528153141513,"TTL":100}\n'],
    ['timetolive --keys', 'simple', (p) => p.leaseTimeToLive(ttl, true), 'lease 2040a1ffe4f49109 granted with TTL(100s), remaining(99s), attached keys([a b])\n'],
    ['timetolive', 'simple', (p) => p.leaseTimeToLive(ttl, false), 'lease 2040a1ffe4f49109 granted with TTL(100s), remaining(99s)\n'],
    ['timetolive of an expired lease', 'simple', (p) => p.leaseTimeToLive(expired, false), 'lease 0000000000001234 already expired\n'],
    ['timetolive --keys', 'json', (p) => p.leaseTimeToLive(ttl, true), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"id":2324035528153141513,"ttl":99,"granted-ttl":100,"keys":["YQ==","Yg=="]}\n'],
    ['timetolive without keys', 'json', (p) => p.leaseTimeToLive({ ...ttl, keys: [] }, false), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"id":2324035528153141513,"ttl":99,"granted-ttl":100,"keys":null}\n'],
    ['timetolive --keys', 'fields', (p) => p.leaseTimeToLive(ttl, true), '"ClusterID" : 324952591200643719\n"MemberID" : 3319814642761637952\n"Revision" : 5\n"RaftTerm" : 2\n"ID" : 2324035528153141513\n"TTL" : 99\n"GrantedTTL" : 100\n"Key" : "a"\n"Key" : "b"\n'],
    ['list', 'simple', (p) => p.leaseLeases(leases), 'found 2 leases\n0000000000000001\n2040a1ffe4f49109\n'],
    ['list', 'json', (p) => p.leaseLeases(leases), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"leases":[{"id":1},{"id":2324035528153141513}]}\n'],
    ['list (none)', 'json', (p) => p.leaseLeases({ header, leases: [] }), '{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2,"leases":[]}\n'],
  ];
  for (const [what, format, use, expected] of table) {
    it(`${what} -w ${format}`, async () => assert.equal(await print(format, use), expected));
  }

  it('-w protobuf writes only the embedded header, as etcdctl does', async () => {
    assert.equal(await print('protobuf', (p) => p.leaseGrant(grant)), Buffer.from(ResponseHeader.encode(header).finish()).toString('latin1'));
  });

  it('-w table is refused with etcdctl\'s error (exit 4)', async () => {
    await assert.rejects(print('table', (p) => p.leaseGrant(grant)), (err: CliError) => err.exitCode === 4 && err.message === 'table not supported as output format');
  });
});

describe('watch output', () => {
  const put = { type: Event_EventType.PUT, kv: { key: Buffer.from('a'), createRevision: 2n, modRevision: 2n, version: 1n, value: Buffer.from('1'), lease: 0n }, prevKv: undefined };
  const del = {
    type: Event_EventType.DELETE,
    kv: { key: Buffer.from('a'), createRevision: 0n, modRevision: 4n, version: 0n, value: Buffer.alloc(0), lease: 0n },
    prevKv: put.kv,
  };
  const response = WatchResponse.fromPartial({ header, watchId: 3n, events: [put, del] });

  it('simple: type, previous key-value, key-value', async () => {
    assert.equal(await print('simple', (p) => p.watch(response)), 'PUT\na\n1\nDELETE\na\n1\na\n\n');
  });

  it('simple --hex', async () => {
    assert.equal(await print('simple', (p) => p.watch({ ...response, events: [put] }), true), 'PUT\n\\x61\n\\x31\n');
  });

  it('json: clientv3\'s WatchResponse struct, every field present', async () => {
    assert.equal(
      await print('json', (p) => p.watch(response)),
      '{"Header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":5,"raft_term":2},"Events":[' +
        '{"kv":{"key":"YQ==","create_revision":2,"mod_revision":2,"version":1,"value":"MQ=="}},' +
        '{"type":1,"kv":{"key":"YQ==","mod_revision":4},"prev_kv":{"key":"YQ==","create_revision":2,"mod_revision":2,"version":1,"value":"MQ=="}}],' +
        '"CompactRevision":0,"Canceled":false,"Created":false}\n',
    );
  });

  it('json of a compaction cancel', async () => {
    const canceled = WatchResponse.fromPartial({ header: { ...header, revision: 0n }, canceled: true, compactRevision: 4n });
    assert.equal(
      await print('json', (p) => p.watch(canceled)),
      '{"Header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"raft_term":2},"Events":[],"CompactRevision":4,"Canceled":true,"Created":false}\n',
    );
  });

  it('fields', async () => {
    assert.equal(
      await print('fields', (p) => p.watch({ ...response, events: [del] })),
      '"ClusterID" : 324952591200643719\n"MemberID" : 3319814642761637952\n"Revision" : 5\n"RaftTerm" : 2\n"Type" : DELETE\n' +
        '"PrevKey" : "a"\n"PrevCreateRevision" : 2\n"PrevModRevision" : 2\n"PrevVersion" : 1\n"PrevValue" : "1"\n"PrevLease" : 0\n' +
        '"Key" : "a"\n"CreateRevision" : 0\n"ModRevision" : 4\n"Version" : 0\n"Value" : ""\n"Lease" : 0\n',
    );
  });

  it('protobuf leaves out the watch id', async () => {
    const bytes = Buffer.from(await print('protobuf', (p) => p.watch(response)), 'latin1');
    assert.deepEqual(WatchResponse.decode(bytes), { ...response, watchId: 0n });
  });
});

describe('watch arguments', () => {
  const noEnv = { key: '', rangeEnd: '' };
  const flags = (args: string[]) => parseCommandLine(args, watchFlagSpecs);

  it('splits the key from the command at --', () => {
    const raw = ['foo', '--prefix', '--', 'echo', 'a b'];
    const { args } = flags(raw);
    assert.deepEqual(parseWatchArgs(raw, args, noEnv), { watchArgs: ['foo'], execArgs: ['echo', 'a b'] });
  });

  it('keeps a command word equal to a key apart (etcdctl would cut at the word)', () => {
    const raw = ['foo', '--', 'echo', 'foo'];
    assert.deepEqual(parseWatchArgs(raw, flags(raw).args, noEnv), { watchArgs: ['foo'], execArgs: ['echo', 'foo'] });
  });

  it('takes the key and range end from ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END', () => {
    const raw = ['--rev', '1', '--', 'echo'];
    assert.deepEqual(parseWatchArgs(raw, flags(raw).args, { key: 'a', rangeEnd: 'b' }), { watchArgs: ['a', 'b'], execArgs: ['echo'] });
    assert.equal(badArgsOf(() => parseWatchArgs(['x'], ['x'], { key: 'a', rangeEnd: '' })), 'bad number of arguments (found conflicting environment key)');
    assert.equal(badArgsOf(() => watchEnv({ ETCDCTL_WATCH_RANGE_END: 'b' })), 'ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END="b"');
  });

  it('rejects what etcdctl rejects', () => {
    assert.equal(badArgsOf(() => parseWatchArgs([], [], noEnv)), 'bad number of arguments');
    assert.equal(badArgsOf(() => parseWatchArgs(['foo', '--'], ['foo'], noEnv)), 'bad number of arguments (found separator --, but no commands)');
    const parsed = flags(['a', 'b', '--prefix']);
    assert.equal(badArgsOf(() => watchTarget(['a', 'b'], parsed.flags)), '`range_end` and `--prefix` are mutually exclusive');
    assert.equal(badArgsOf(() => watchTarget([], parsed.flags)), 'bad number of arguments');
  });

  it('an interactive line has its own flags and command', () => {
    const line = ['--prefix', 'k', '--', 'sh', '-c', 'x'];
    const parsed = flags(line);
    assert.deepEqual(parseInteractiveWatchArgs(line, parsed.args, noEnv), { watchArgs: ['k'], execArgs: ['sh', '-c', 'x'] });
    const { key, options } = watchTarget(['k'], parsed.flags);
    assert.deepEqual(watchCreateRequest(key, options).rangeEnd, Buffer.from('l'));
  });

  it('--rev, --prev-kv and --progress-notify reach the create request', () => {
    const parsed = flags(['k', '--rev', '42', '--prev-kv', '--progress-notify']);
    const { key, options } = watchTarget(['k'], parsed.flags);
    const request = watchCreateRequest(key, options);
    assert.equal(request.startRevision, 42n);
    assert.equal(request.prevKv, true);
    assert.equal(request.progressNotify, true);
    assert.deepEqual(request.rangeEnd, Buffer.alloc(0));
  });
});

describe('commands run under a lock, an election or a watch', () => {
  it('splits elect\'s own arguments from the command at --', () => {
    assert.deepEqual(splitExecArgs(['e', 'p', '--ttl', '5', '--', 'sh', '-c', 'x'], ['e', 'p', 'sh', '-c', 'x']), { own: ['e', 'p'], exec: ['sh', '-c', 'x'] });
    assert.deepEqual(splitExecArgs(['-l', 'e'], ['e']), { own: ['e'], exec: [] });
  });

  it('pass on the exit code, and name signals and missing commands as Go does', async () => {
    assert.deepEqual(await new HeldCommand(['sh', '-c', 'exit 3'], {}).ended, { exitCode: 3, description: 'exit status 3' });
    assert.deepEqual(await new HeldCommand(['sh', '-c', 'kill -TERM $$'], {}).ended, { exitCode: 143, description: 'signal: terminated' });
    assert.deepEqual(await new HeldCommand(['no-such-command-here'], {}).ended, {
      exitCode: 127,
      description: 'exec: "no-such-command-here": executable file not found in $PATH',
    });
    assert.deepEqual(await new HeldCommand(['sh', '-c', 'test "$X" = "y z"'], { X: 'y z' }).ended, { exitCode: 0, description: '' });
  });

  it('terminate sends SIGTERM, then SIGKILL to a command that ignores it', async () => {
    const ready = join(mkdtempSync(join(tmpdir(), 'held-')), 'ready');
    const stubborn = new HeldCommand(['sh', '-c', 'trap "" TERM; touch "$READY"; while :; do sleep 0.05; done'], { READY: ready });
    // The signal must find the trap in place.
    while (!existsSync(ready)) await new Promise((resolve) => setTimeout(resolve, 20));
    stubborn.terminate(200);
    assert.deepEqual(await stubborn.ended, { exitCode: 137, description: 'signal: killed' });
    rmSync(dirname(ready), { recursive: true, force: true });
  });
});
