import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Message, MessageType } from '../../../src/proto/gen/etcdtspb/raft.js';
import { SnapshotTruncatedError } from '../../../src/server/transport/errors.js';
import { snapshotChunkBytesDefault } from '../../../src/server/transport/limits.js';
import { waitFor } from '../../support/procs.js';
import { startCluster, stopAll } from './helpers.js';

const mib = 1024 * 1024;

function snapMessage(from: bigint, to: bigint, index: bigint): Message {
  return Message.fromPartial({
    type: MessageType.MsgSnap, from, to, term: 3n,
    snapshot: { metadata: { index, term: 3n, confState: { voters: [1n, 2n] } } },
  });
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('peer transport: snapshots', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'etcdts-transport-')); });
  afterEach(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a 20 MiB file byte-identical and acks only after onSnapshot resolved', async () => {
    const source = join(dir, 'db');
    writeFileSync(source, randomBytes(20 * mib));
    const [leader, follower] = await startCluster(2);
    const events: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let got: { msg: Message; totalBytes: bigint } | undefined;
    follower!.handler.snapshotHandler = async (msg, data, totalBytes) => {
      got = { msg, totalBytes };
      await pipeline(Readable.from(data), createWriteStream(join(dir, 'received')));
      events.push('file written');
      await released; // The member is still fsyncing and stepping Raft.
      events.push('handler resolved');
    };
    leader!.transport.sendSnapshot(snapMessage(1n, 2n, 42n),
      () => createReadStream(source, { highWaterMark: snapshotChunkBytesDefault }), 20n * BigInt(mib));

    await waitFor('file written', () => events.includes('file written'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(leader!.reports.snapshotStatus, [], 'no ack while the member is still saving');
    release();
    await waitFor('snapshot status', () => leader!.reports.snapshotStatus.length > 0);
    assert.deepEqual(events, ['file written', 'handler resolved']);
    assert.deepEqual(leader!.reports.snapshotStatus, [{ id: 2n, ok: true }]);
    assert.equal(sha256(join(dir, 'received')), sha256(source));
    assert.equal(got!.totalBytes, 20n * BigInt(mib));
    assert.equal(got!.msg.snapshot?.metadata?.index, 42n);
    assert.equal(leader!.transport.counters(2n)!.snapshotBytesSent, 20 * mib);
    assert.equal(follower!.transport.counters(1n)!.snapshotBytesReceived, 20 * mib);
    assert.ok(leader!.logger.find('info', 'sent database snapshot'));
    assert.ok(follower!.logger.find('info', 'received and saved database snapshot'));
  });

  it('reports failure when the receiver cannot save the snapshot', async () => {
    const [leader, follower] = await startCluster(2);
    follower!.handler.snapshotHandler = async (_msg, data) => {
      for await (const chunk of data) if (chunk.length > 0) throw new Error('disk full');
    };
    leader!.transport.sendSnapshot(snapMessage(1n, 2n, 7n), () => Readable.from(chunks(4, mib)), 4n * BigInt(mib));
    await waitFor('snapshot status', () => leader!.reports.snapshotStatus.length > 0);
    assert.deepEqual(leader!.reports.snapshotStatus, [{ id: 2n, ok: false }]);
    assert.ok(leader!.reports.unreachable.includes(2n));
    assert.equal(leader!.transport.counters(2n)!.snapshotSendFailures, 1);
    assert.equal(follower!.transport.counters(1n)!.snapshotReceiveFailures, 1);
  });

  it('tells the receiver the snapshot was truncated when the sender gives up half-way', async () => {
    const [leader, follower] = await startCluster(2);
    let failure: unknown;
    let sawData!: () => void;
    const receiving = new Promise<void>((resolve) => { sawData = resolve; });
    follower!.handler.snapshotHandler = async (_msg, data) => {
      try {
        for await (const _ of data) sawData();
      } catch (err) {
        failure = err;
        throw err;
      }
    };
    async function* brokenDisk(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(mib, 1);
      yield Buffer.alloc(mib, 2);
      await receiving;
      throw new Error('read error');
    }
    leader!.transport.sendSnapshot(snapMessage(1n, 2n, 7n), brokenDisk, 8n * BigInt(mib));
    await waitFor('snapshot status', () => leader!.reports.snapshotStatus.length > 0);
    assert.deepEqual(leader!.reports.snapshotStatus, [{ id: 2n, ok: false }]);
    await waitFor('receiver saw the failure', () => failure !== undefined);
    assert.ok(failure instanceof SnapshotTruncatedError, String(failure));
  });

  it('refuses a second snapshot to the same peer while one is in flight', async () => {
    const [leader, follower] = await startCluster(2);
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    follower!.handler.snapshotHandler = async (_msg, data) => {
      for await (const _ of data) { /* drain */ }
      await released;
    };
    leader!.transport.sendSnapshot(snapMessage(1n, 2n, 7n), () => Readable.from(chunks(1, 1024)), 1024n);
    leader!.transport.sendSnapshot(snapMessage(1n, 2n, 8n), () => Readable.from(chunks(1, 1024)), 1024n);
    await waitFor('second refused', () => leader!.reports.snapshotStatus.length === 1);
    assert.deepEqual(leader!.reports.snapshotStatus, [{ id: 2n, ok: false }]);
    release();
    await waitFor('first done', () => leader!.reports.snapshotStatus.length === 2);
    assert.deepEqual(leader!.reports.snapshotStatus[1], { id: 2n, ok: true });
  });
});

function* chunks(count: number, bytes: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(bytes, i);
}
