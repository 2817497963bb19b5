import { connect, createServer, type Server, type Socket } from 'node:net';
import type {
  HashKVRequest,
  HashKVResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../../../src/proto/gen/etcdserverpb/rpc.js';
import type { MembersResponse } from '../../../src/proto/gen/etcdtspb/peer.js';
import { Message, MessageType } from '../../../src/proto/gen/etcdtspb/raft.js';
import { PeerTransport } from '../../../src/server/transport/transport.js';
import type { PeerHandler, PeerTransportOptions, TransportLogger } from '../../../src/server/transport/transport-interface.js';
import { freePort } from '../../support/ports.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** Keeps every log line so tests can assert what an operator would see. */
export class CapturingLogger implements TransportLogger {
  readonly lines: LogLine[] = [];
  debug(fields: object, msg: string): void { this.lines.push({ level: 'debug', msg, fields: { ...fields } }); }
  info(fields: object, msg: string): void { this.lines.push({ level: 'info', msg, fields: { ...fields } }); }
  warn(fields: object, msg: string): void { this.lines.push({ level: 'warn', msg, fields: { ...fields } }); }
  error(fields: object, msg: string): void { this.lines.push({ level: 'error', msg, fields: { ...fields } }); }

  find(level: LogLine['level'], msg: string): LogLine | undefined {
    return this.lines.find((l) => l.level === level && l.msg.includes(msg));
  }
}

/** The member side of a test node: records what arrives, answers what it is asked. */
export class RecordingHandler implements PeerHandler {
  readonly received: Message[] = [];
  readonly removed = new Set<bigint>();
  membersResponse: MembersResponse = { clusterId: 0n, members: [] };
  snapshotHandler: PeerHandler['onSnapshot'] = async () => { throw new Error('no snapshot expected'); };
  renew: (req: LeaseKeepAliveRequest) => Promise<LeaseKeepAliveResponse> = async (req) => ({ header: undefined, ID: req.ID, TTL: 10n });
  timeToLive: (req: LeaseTimeToLiveRequest) => Promise<LeaseTimeToLiveResponse> = async (req) =>
    ({ header: undefined, ID: req.ID, TTL: 7n, grantedTTL: 10n, keys: [] });

  onMessages(msgs: Message[]): void { this.received.push(...msgs); }
  onSnapshot(msg: Message, data: AsyncIterable<Buffer>, totalBytes: bigint): Promise<void> { return this.snapshotHandler(msg, data, totalBytes); }
  members(): MembersResponse { return this.membersResponse; }
  leaseRenew(req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> { return this.renew(req); }
  leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> { return this.timeToLive(req); }
  isRemoved(id: bigint): boolean { return this.removed.has(id); }
  async hashKV(req: HashKVRequest): Promise<HashKVResponse> { return { header: undefined, hash: 7, compactRevision: 0n, hashRevision: req.revision }; }

  /** Indexes of the messages received from `from`, in arrival order. */
  indexesFrom(from: bigint): bigint[] {
    return this.received.filter((m) => m.from === from).map((m) => m.index);
  }
}

/** What a node reported to its member through PeerReports. */
export class Reports {
  readonly unreachable: bigint[] = [];
  readonly snapshotStatus: { id: bigint; ok: boolean }[] = [];
  removed = 0;

  options(): PeerTransportOptions {
    return {
      onUnreachable: (id) => this.unreachable.push(id),
      onSnapshotStatus: (id, ok) => this.snapshotStatus.push({ id, ok }),
      onRemoved: () => this.removed++,
    };
  }
}

export interface TestNode {
  id: bigint;
  url: string;
  port: number;
  transport: PeerTransport;
  handler: RecordingHandler;
  logger: CapturingLogger;
  reports: Reports;
}

/** Every transport the tests start, so that afterEach can stop them all. */
const started: PeerTransport[] = [];

export interface NodeSpec {
  id: bigint;
  port?: number;
  clusterId?: bigint;
  handler?: RecordingHandler;
  options?: PeerTransportOptions;
}

export async function startNode(spec: NodeSpec): Promise<TestNode> {
  const port = spec.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const handler = spec.handler ?? new RecordingHandler();
  const logger = new CapturingLogger();
  const reports = new Reports();
  const transport = new PeerTransport({
    memberId: spec.id,
    clusterId: spec.clusterId ?? 0xc1a55n,
    listenUrls: [new URL(url)],
    handler,
    logger,
    options: { ...reports.options(), ...spec.options },
  });
  started.push(transport);
  await transport.start();
  return { id: spec.id, url, port, transport, handler, logger, reports };
}

/** Starts `n` nodes with ids 1..n, each knowing all the others. */
export async function startCluster(n: number, options?: PeerTransportOptions): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let i = 1; i <= n; i++) nodes.push(await startNode({ id: BigInt(i), options }));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.addPeer(b.id, [b.url]);
  return nodes;
}

export async function stopAll(): Promise<void> {
  for (const t of started.splice(0)) await t.stop();
  for (const s of blackholes.splice(0)) s.close();
  for (const s of proxies.splice(0)) s.close();
}

export function msg(from: bigint, to: bigint, index: bigint, type = MessageType.MsgApp): Message {
  return Message.fromPartial({ type, from, to, term: 1n, index });
}

/** Messages `from` → `to` with indexes first..last. */
export function msgs(from: bigint, to: bigint, first: number, last: number): Message[] {
  const out: Message[] = [];
  for (let i = first; i <= last; i++) out.push(msg(from, to, BigInt(i)));
  return out;
}

export function range(first: number, last: number): bigint[] {
  const out: bigint[] = [];
  for (let i = first; i <= last; i++) out.push(BigInt(i));
  return out;
}

const blackholes: Server[] = [];

/**
 * A port that accepts TCP connections and then says nothing, like a host
 * whose process is frozen: the hardest kind of dead peer, because nothing
 * ever fails fast.
 */
export async function blackhole(): Promise<string> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as typeof server.close;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  blackholes.push(server);
  return `http://127.0.0.1:${port}`;
}

/** A URL where nothing listens: connections are refused at once. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

export interface FreezableProxy {
  url: string;
  /** Stops forwarding in both directions and keeps the connections open, like SIGSTOP. */
  freeze(): void;
}

const proxies: Server[] = [];

/** A TCP proxy in front of `targetPort` that can be frozen. */
export async function freezableProxy(targetPort: number): Promise<FreezableProxy> {
  const port = await freePort();
  const pairs: [Socket, Socket][] = [];
  let frozen = false;
  const ignored: Socket[] = [];
  const server = createServer((client) => {
    if (frozen) {
      ignored.push(client); // accepted and then ignored, like a stopped process
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
    for (const c of ignored) c.destroy();
    return close(cb);
  }) as typeof server.close;
  proxies.push(server);
  return {
    url: `http://127.0.0.1:${port}`,
    freeze: () => {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
  };
}
