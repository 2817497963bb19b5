import assert from 'node:assert/strict';
import { del, get, put, txn, type EtcdOperation, type KeyValue } from '../../support/lincheck/etcd-model.js';
import type { WatchEvent, WatchStream } from '../../support/lincheck/watch-check.js';
import type { LeaseRecord } from '../../robustness/traffic.js';
import { validate, violationCount, type MemberFinal, type ValidationInput } from '../../robustness/validate.js';

/**
 * The robustness runner's end-of-run validation, on small histories written
 * by hand: a correct run passes, and each kind of damage a broken cluster
 * could do is reported under its own class.
 */
const op = (clientId: number, input: EtcdOperation['input'], output: EtcdOperation['output'], call: number, ret: number): EtcdOperation => ({ clientId, input, output, call, return: ret });
const putEvent = (key: string, value: string, rev: number, create = rev, version = 1): WatchEvent => ({ type: 'put', key, value, modRevision: rev, createRevision: create, version });
const delEvent = (key: string, rev: number): WatchEvent => ({ type: 'delete', key, modRevision: rev });

function member(name: string, kvs: Record<string, KeyValue>, revision: number, hash = 7): MemberFinal {
  return { name, revision, kvs: new Map(Object.entries(kvs)), hash, hashRevision: revision };
}

/** A lease with two keys, revoked at revision 6 by a recorded revoke. */
const lease: LeaseRecord = { id: 0x10n, ttlSeconds: 4, keys: ['l/1/0/a', 'l/1/0/b'], grantCall: 100, keepAliveAcks: [150], revokedAt: 6 };

function correctRun(): ValidationInput {
  const operations = [
    op(1, put('k', 'a'), { revision: 2 }, 10, 20),
    op(2, get('k'), { value: 'a', modRevision: 2, revision: 2 }, 21, 30),
    op(1, put('k', 'b'), { revision: 3 }, 31, 40),
    op(3, put('l/1/0/a', 'x'), { revision: 4 }, 110, 120),
    op(3, put('l/1/0/b', 'y'), { revision: 5 }, 121, 130),
    op(3, txn([], [del('l/1/0/a'), del('l/1/0/b')]), { succeeded: true, revision: 6, results: [{ deleted: 1 }, { deleted: 1 }] }, 200, 210),
    op(2, get('k'), { value: 'b', modRevision: 3, revision: 6 }, 211, 220),
  ];
  const events = [putEvent('k', 'a', 2), putEvent('k', 'b', 3, 2, 2), putEvent('l/1/0/a', 'x', 4), putEvent('l/1/0/b', 'y', 5), delEvent('l/1/0/a', 6), delEvent('l/1/0/b', 6)];
  const stream: WatchStream = { name: 'full watch link 0', key: '\0', rangeEnd: '\0', startRevision: 1, responses: events.map((e) => ({ revision: e.modRevision, events: [e] })) };
  // One response per revision: the two deletes of revision 6 arrive together.
  stream.responses = [2, 3, 4, 5, 6].map((rev) => ({ revision: rev, events: events.filter((e) => e.modRevision === rev) }));
  const final = { k: { value: 'b', modRevision: 3, createRevision: 2, version: 2 } };
  return {
    operations,
    streams: [stream],
    chains: [],
    fullWatch: { events, complete: true },
    finals: [member('m1', final, 6), member('m2', final, 6), member('m3', final, 6)],
    leases: [lease],
    probeViolations: [],
    unexpectedCrashes: [],
    checkerTimeoutMs: 10_000,
  };
}

describe('robustness validation', () => {
  it('passes a correct run', () => {
    const report = validate(correctRun());
    assert.deepEqual(report.violations, {}, report.messages.join('\n'));
    assert.equal(report.acknowledgedWrites, 4);
  });

  it('reports a stale read as a linearizability violation', () => {
    const input = correctRun();
    input.operations[6] = op(2, get('k'), { value: 'a', modRevision: 2, revision: 6 }, 211, 220);
    assert.ok(validate(input).violations.linearizability === 1);
  });

  it('reports a write acknowledged at a revision that committed something else', () => {
    const input = correctRun();
    input.fullWatch.events[1] = putEvent('k', 'other', 3, 2, 2);
    const report = validate(input);
    assert.ok((report.violations['acknowledged-write-lost'] ?? 0) >= 1, report.messages.join('\n'));
  });

  it('reports a member whose final state differs from the history, and a HashKV that differs', () => {
    const input = correctRun();
    input.finals[2] = member('m3', { k: { value: 'a', modRevision: 2, createRevision: 2, version: 1 } }, 6, 8);
    const report = validate(input);
    assert.equal(report.violations['member-state-differs'], 1);
    assert.equal(report.violations['hashkv-differs'], 1);
  });

  it('reports a watch that skipped an event', () => {
    const input = correctRun();
    const short: WatchStream = { name: 'short watch', key: 'k', startRevision: 2, responses: [{ revision: 3, events: [putEvent('k', 'b', 3, 2, 2)] }] };
    input.streams.push(short);
    assert.equal(validate(input).violations['watch-reliable'], 1);
  });

  it('checks watches against the full watch, not a linearisation that picked another unknown delete', () => {
    // Revision 4 deleted "a", by one of two requests of unknown outcome that no read tells
    // apart: a linearisation may as well say the delete of "b" made it.
    const operations = [
      op(1, put('a', '1'), { revision: 2 }, 10, 20),
      op(2, put('b', '1'), { revision: 3 }, 21, 30),
      op(3, del('b'), undefined, 31, Infinity),
      op(4, del('a'), undefined, 32, Infinity),
      op(1, put('c', '1'), { revision: 5 }, 40, 50),
    ];
    const events = [putEvent('a', '1', 2), putEvent('b', '1', 3), delEvent('a', 4), putEvent('c', '1', 5)];
    const full: WatchStream = { name: 'full watch link 0', key: '\0', rangeEnd: '\0', startRevision: 1, responses: events.map((e) => ({ revision: e.modRevision, events: [e] })) };
    const short: WatchStream = { name: 'short watch', key: '\0', rangeEnd: '\0', startRevision: 4, responses: events.slice(2).map((e) => ({ revision: e.modRevision, events: [e] })) };
    const final = { b: { value: '1', modRevision: 3, createRevision: 3, version: 1 }, c: { value: '1', modRevision: 5, createRevision: 5, version: 1 } };
    const input: ValidationInput = {
      ...correctRun(), operations, streams: [full, short], fullWatch: { events, complete: true }, leases: [],
      finals: [member('m1', final, 5), member('m2', final, 5), member('m3', final, 5)],
    };
    assert.deepEqual(validate(input).violations, {}, validate(input).messages.join('\n'));
    // A watch that reports the other delete is still caught.
    short.responses[0] = { revision: 4, events: [delEvent('b', 4)] };
    const report = validate(input);
    assert.ok((report.violations['watch-consistent'] ?? 0) >= 1, report.messages.join('\n'));
  });

  it('reports a lease whose keys vanished before its TTL ran out after the last keep-alive', () => {
    const input = correctRun();
    // No recorded revoke: the deletes at revision 6 were an expiry, seen 60 ms after the grant of a 4 s lease.
    input.leases = [{ ...lease, revokedAt: undefined }];
    input.operations[5] = { ...input.operations[5]!, clientId: 1_000_000, output: undefined, return: Infinity, call: 100 };
    const report = validate(input);
    assert.equal(report.violations['lease-early-expiry'], 1, report.messages.join('\n'));
  });

  it('does not call an expiry early when it came after the TTL', () => {
    const input = correctRun();
    input.leases = [{ ...lease, revokedAt: undefined, grantCall: -10_000, keepAliveAcks: [-9000] }];
    input.operations[5] = { ...input.operations[5]!, clientId: 1_000_000, output: undefined, return: Infinity, call: -10_000 };
    assert.deepEqual(validate(input).violations, {});
  });

  it('reports keys written with a lease that outlived it', () => {
    const input = correctRun();
    const orphan = { 'l/1/0/a': { value: 'x', modRevision: 4, createRevision: 4, version: 1 } };
    input.fullWatch.events = input.fullWatch.events.filter((e) => !(e.key === 'l/1/0/a' && e.type === 'delete'));
    input.finals = input.finals.map((m) => ({ ...m, kvs: new Map([...m.kvs, ...Object.entries(orphan)]) }));
    const report = validate(input);
    assert.ok((report.violations['lease-orphan-keys'] ?? 0) >= 1, report.messages.join('\n'));
  });

  it('counts probe violations and unexpected crashes', () => {
    const input = correctRun();
    input.probeViolations = ['m1: revision went back from 6 to 5'];
    input.unexpectedCrashes = ['m2 exited (1) with no failpoint armed'];
    const report = validate(input);
    assert.equal(report.violations['revision-went-back'], 1);
    assert.equal(report.violations['unexpected-crash'], 1);
    assert.equal(violationCount(report), 2);
  });
});
