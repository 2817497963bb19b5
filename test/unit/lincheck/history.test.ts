import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkOperations } from '../../support/lincheck/checker.js';
import { applyRequest, etcdModel, EtcdState, get, put, type EtcdInput, type EtcdOutput } from '../../support/lincheck/etcd-model.js';
import { HistoryRecorder, OperationTimeoutError } from '../../support/lincheck/history.js';
import { Prng } from './generate.js';

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

class ValidationError extends Error {}

describe('lincheck: history recorder', () => {
  it('stamps call and return times from the clock', async () => {
    const clock = manualClock();
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>({ now: clock.now });
    const answer = await recorder.record(1, get('a'), async () => {
      clock.advance(5);
      return { value: null, modRevision: 0, revision: 1 };
    });
    assert.deepEqual(answer, { value: null, modRevision: 0, revision: 1 });
    assert.deepEqual(recorder.operations(), [{ clientId: 1, input: get('a'), output: answer, call: 0, return: 5 }]);
  });

  it('records a failed request as unknown and rethrows the error', async () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>({ now: manualClock().now });
    await assert.rejects(recorder.record(1, put('a', '1'), async () => { throw new Error('connection reset'); }), /connection reset/);
    const [op] = recorder.operations();
    assert.equal(op.return, Infinity);
    assert.equal(op.output, undefined);
    assert.deepEqual(recorder.counts, { ok: 0, unknown: 1, failed: 0 });
  });

  it('drops a request that certainly failed', async () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>({ isDefiniteFailure: (e) => e instanceof ValidationError });
    await assert.rejects(recorder.record(1, put('', '1'), async () => { throw new ValidationError('empty key'); }));
    assert.deepEqual(recorder.operations(), []);
    assert.deepEqual(recorder.counts, { ok: 0, unknown: 0, failed: 1 });
  });

  it('gives up on a request after its timeout and ignores a late answer', async () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>();
    const slow = async () => {
      await sleep(200);
      return { revision: 2 };
    };
    await assert.rejects(recorder.record(1, put('a', '1'), slow, 20), OperationTimeoutError);
    await sleep(250);
    assert.equal(recorder.operations()[0].return, Infinity);
  });

  it('lists a request still in flight as unknown', () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>({ now: manualClock().now });
    recorder.begin(3, put('a', '1'));
    assert.deepEqual(recorder.operations(), [{ clientId: 3, input: put('a', '1'), output: undefined, call: 0, return: Infinity }]);
  });

  it('allows one request in flight per client, and a new one once the last timed out', async () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>({ now: manualClock().now });
    const pending = recorder.begin(1, get('a'));
    assert.throws(() => recorder.begin(1, get('b')), /client 1 already has a request in flight/);
    recorder.failUnknown(pending);
    assert.doesNotThrow(() => recorder.begin(1, get('b')));
    assert.throws(() => recorder.failUnknown(pending), /settled twice/);
  });

  it('records concurrent clients of a sequential store as a linearizable history', async () => {
    const recorder = new HistoryRecorder<EtcdInput, EtcdOutput>();
    let store = EtcdState.empty();
    const prng = new Prng(11);
    // Requests take effect at a random moment while they are in flight.
    const send = (input: EtcdInput) => async () => {
      await sleep(prng.int(3));
      const applied = applyRequest(store, input);
      store = applied.state;
      await sleep(prng.int(3));
      return applied.output;
    };
    await Promise.all([1, 2, 3, 4].map(async (client) => {
      for (let i = 0; i < 10; i++) {
        const input = i % 2 === 0 ? put(`k${i % 3}`, `c${client}-${i}`) : get(`k${i % 3}`);
        await recorder.record(client, input, send(input));
      }
    }));
    const ops = recorder.operations();
    assert.equal(ops.length, 40);
    assert.equal(checkOperations(etcdModel, ops).verdict, 'ok');
  });
});
