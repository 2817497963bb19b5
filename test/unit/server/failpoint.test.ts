import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { armFailpoint, describeFailpoints, disarmFailpoints, failpoint, failpointAsync, FailpointError } from '../../../src/server/failpoint.js';
import { serveFailpoints } from '../../../src/server/failpoint-http.js';

describe('failpoints', () => {
  afterEach(disarmFailpoints);

  it('fires an armed failpoint the given number of times, then is inert', () => {
    armFailpoint('seamA', '2*error');
    assert.throws(() => failpoint('seamA'), FailpointError);
    assert.throws(() => failpoint('seamA'), FailpointError);
    failpoint('seamA');
    assert.deepEqual(describeFailpoints(), ['seamA=0*error']);
  });

  it('arming one failpoint leaves the others armed', () => {
    armFailpoint('seamA', 'error');
    armFailpoint('seamB', 'sleep(1)');
    assert.deepEqual(describeFailpoints().sort(), ['seamA=error', 'seamB=sleep(1)']);
    assert.throws(() => armFailpoint('seamC', 'explode'), /bad failpoint action/);
  });

  it('an async seam sleeps on a timer: the event loop keeps running meanwhile', async () => {
    armFailpoint('slowSync', '1*sleep(200)');
    let ranDuringSleep = false;
    const ticker = setImmediate(() => (ranDuringSleep = true));
    await failpointAsync('slowSync');
    clearImmediate(ticker);
    assert.ok(ranDuringSleep, 'another callback ran while the seam slept');
    assert.deepEqual(describeFailpoints(), ['slowSync=0*sleep(200)']);
  });

  it('an async seam throws the injected error like a synchronous one', async () => {
    armFailpoint('slowSync', 'error');
    await assert.rejects(failpointAsync('slowSync'), FailpointError);
  });

  it('is armed, listed and disarmed over HTTP, as gofail is', async () => {
    const server = serveFailpoints('127.0.0.1:0');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await fetch(`${base}/raftBeforeSave`, { method: 'PUT', body: '1*panic' })).status, 204);
      assert.equal(await (await fetch(`${base}/`)).text(), 'raftBeforeSave=1*panic\n');
      assert.equal(await (await fetch(`${base}/raftBeforeSave`)).text(), '1*panic');
      const bad = await fetch(`${base}/raftBeforeSave`, { method: 'PUT', body: 'explode' });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /bad failpoint action "explode"/);
      assert.equal((await fetch(`${base}/raftBeforeSave`, { method: 'DELETE' })).status, 204);
      assert.equal((await fetch(`${base}/raftBeforeSave`, { method: 'DELETE' })).status, 404);
      assert.deepEqual(describeFailpoints(), []);
    } finally {
      server.close();
    }
  });
});
