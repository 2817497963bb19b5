import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { FaultNetwork } from '../../support/fault-proxy.js';
import { freePort } from '../../support/ports.js';
import { killAll, start, waitFor, type Spawned } from '../../support/procs.js';

/** A member's peer listener: collects what each connection sends, and answers "ack <line>" per line. */
async function fakeMember(port: number): Promise<{ server: Server; received: string[] }> {
  const received: string[] = [];
  const server = createServer((s: Socket) => {
    let buffered = '';
    s.on('data', (chunk) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        received.push(line);
        s.write(`ack ${line}\n`);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, received };
}

/** Another process that dials `port` and sends "n" every 20 ms, printing the acks it gets. */
function dialler(port: number): Spawned {
  const script = `
    const s = require('net').connect(${port}, '127.0.0.1');
    let n = 0;
    s.on('data', (d) => process.stdout.write(d));
    s.on('error', () => process.exit(3));
    s.on('close', () => process.exit(4));
    setInterval(() => s.write((n++) + '\\n'), 20);`;
  return start(process.execPath, ['-e', script]);
}

describe('fault proxy on peer links', function () {
  this.timeout(30000);
  let network: FaultNetwork;
  let member: { server: Server; received: string[] };
  let peer: Spawned;

  beforeEach(async () => {
    const peerPort = await freePort();
    const proxyPort = await freePort();
    member = await fakeMember(peerPort);
    network = new FaultNetwork([{ name: 'b', peerPort, proxyPort }, { name: 'a', peerPort: await freePort(), proxyPort: await freePort() }], (name) => (name === 'a' ? peer.pid : undefined), () => 0.5);
    await network.start();
    peer = dialler(proxyPort);
    await waitFor('the first lines to pass the proxy', () => member.received.length >= 3 && peer.output().includes('ack 2'));
  });

  afterEach(async () => {
    await network.close();
    member.server.close();
    await killAll();
  });

  it('forwards both ways and knows which member dialled', () => {
    assert.deepEqual(network.describeLinks(), ['a->b']);
    assert.deepEqual(member.received.slice(0, 3), ['0', '1', '2']);
  });

  it('blackholes every link of a member, its outgoing links included, and resets them when healed', async () => {
    network.inject('a', { kind: 'blackhole' });
    const before = member.received.length;
    await waitFor('chunks to be dropped', () => network.stats.chunksDropped >= 10);
    // Lines in flight when the fault began may still land: never more than a couple.
    assert.ok(member.received.length <= before + 2, `${member.received.length - before} lines passed a blackhole`);
    network.heal();
    assert.equal(await peer.exited, 4, 'the dialler saw its connection reset');
    assert.equal(network.stats.linksReset, 1);
  });

  it('delays chunks without reordering them', async () => {
    network.inject('b', { kind: 'delay', baseMs: 50, jitterMs: 40 });
    await waitFor('delayed chunks', () => network.stats.chunksDelayed >= 20);
    network.heal();
    const last = member.received.length;
    await waitFor('more lines after the fault', () => member.received.length > last + 5);
    member.received.forEach((line, i) => assert.equal(line, String(i), `line ${i} out of order`));
  });

  it('drops chunks at the given rate', async () => {
    network.inject('a', { kind: 'drop', percent: 100 });
    await waitFor('chunks to be dropped', () => network.stats.chunksDropped >= 5);
    const during = member.received.length;
    network.inject('a', { kind: 'drop', percent: 0 });
    await waitFor('lines to flow again', () => member.received.length > during + 3);
  });
});
