import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Client } from '../../src/client/client.js';
import { reservedInternalFds } from '../../src/server/listen/limits.js';
import { startEtcdts } from '../support/etcdts.js';
import { killAll, removeTempDirs, waitFor } from '../support/procs.js';

/** What any gRPC client sends first: the HTTP/2 preface and an empty SETTINGS frame. */
const clientPreface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])]);

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** A connection that speaks valid HTTP/2 and then holds still; resolves when it is open. */
function holdConnection(port: number): Promise<{ socket: Socket; closedByServer: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(clientPreface);
      resolve({ socket, closedByServer: () => closed });
    });
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => (closed = true));
    socket.once('error', reject);
  });
}

describe('the client listener\'s connection cap', function () {
  this.timeout(120000);
  after(async () => {
    await killAll();
    removeTempDirs();
  });

  it('holds at most the descriptor limit less etcd\'s reserve, keeps serving the clients it has, and serves new ones once the flood goes', async () => {
    const descriptorLimit = 400;
    const cap = descriptorLimit - reservedInternalFds;
    const member = await startEtcdts({ wrapper: ['prlimit', `--nofile=${descriptorLimit}:${descriptorLimit}`], extraArgs: ['--log-level', 'warn'] });
    const client = await Client.connect({ endpoints: [member.endpoint] });
    try {
      await client.kv.put('before', 'flood');
      const rssBefore = rssKiB(member.proc.pid);
      const flood = await Promise.all(Array.from({ length: cap + 50 }, () => holdConnection(member.clientPort)));
      await waitFor('the connections past the cap to be closed', () => flood.filter((c) => c.closedByServer()).length >= 50, 20000, 50);
      const held = flood.filter((c) => !c.closedByServer()).length;
      assert.ok(held <= cap, `${held} connections held, more than the cap of ${cap}`);
      // The established client is one of the connections under the cap: it keeps being served.
      for (let i = 0; i < 20; i++) await client.kv.put(`during/${i}`, 'flood');
      assert.match(member.proc.output(), /refused connection: too many open connections/);
      assert.ok(rssKiB(member.proc.pid) - rssBefore < 64 * 1024, 'the flood costs the member less than 64 MiB');
      for (const c of flood) c.socket.destroy();
      const late = await waitFor('a new client to be served after the flood', async () => {
        const fresh = await Client.connect({ endpoints: [member.endpoint], dialTimeoutMs: 1000 }).catch(() => undefined);
        if (fresh === undefined) return undefined;
        const got = await fresh.kv.get('during/19').catch(() => undefined);
        fresh.close();
        return got;
      }, 20000, 100);
      assert.equal(late.kvs[0]?.value.toString(), 'flood');
    } finally {
      client.close();
    }
  });
});
