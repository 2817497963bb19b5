import assert from 'node:assert';
import { Client, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import {
  HashKVRequest,
  HashKVResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { MembersRequest, MembersResponse, type PeerHeader } from '../../proto/gen/etcdtspb/peer.js';
import { MessageType, type Message } from '../../proto/gen/etcdtspb/raft.js';
import { resolveSettings, type Settings, type TransportEnv } from './env.js';
import {
  ForwardError,
  MemberRemovedError,
  PeerNotFoundError,
  SnapshotInFlightError,
  TransportConfigError,
  TransportStoppedError,
  refusalOf,
} from './errors.js';
import { fetchMembers } from './fetch-members.js';
import { clusterIdMetadataKey, defaultErrorToStatus, fromMetadataKey, peerServiceImpl } from './inbound.js';
import { newPeerCounters, type PeerCounters } from './peer-counters.js';
import type { InboundEnv } from './peer-check.js';
import { PeerOutbound } from './peer-outbound.js';
import { PeerStatus } from './peer-status.js';
import { SnapshotSender, type SnapshotSource } from './snapshot-sender.js';
import type { PeerHandler, PeerReports, PeerTransportConfig, TransportLogger } from './transport-interface.js';
import { unaryCall, type Codec } from './unary.js';
import { channelCredentialsFor, channelOptions, hostPort, parsePeerUrl, paths, peerServiceDefinition } from './wire.js';
import { peerMessageBytesMax } from './limits.js';
import { GrpcServer, type ServiceDefinition } from '../api/grpc-server/server.js';
import { MemberListener, groupListenUrls } from '../listen/listener.js';
import { peerConnectionsMax } from '../listen/limits.js';
import { isSecureScheme } from '../tls/tls-info.js';
import type { TlsCredentials } from '../tls/tls-credentials.js';

const silent: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The member's connections to its peers (etcd's rafthttp, with our own
 * protocol: src/proto/etcdtspb/peer.proto). Outbound, one long-lived
 * Messages stream per peer behind a bounded queue, reconnected with backoff;
 * snapshots on a call (and connection) of their own; lease calls forwarded to
 * the leader. Inbound, a gRPC server on every --listen-peer-urls that checks
 * who is talking and hands what arrives to the member's PeerHandler.
 *
 * Nothing the member calls waits on a peer: send() and sendSnapshot() only
 * queue or start work, and report back through PeerReports, never
 * synchronously. A slow or dead peer fills its own queue and nobody else's.
 */
export class PeerTransport {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  private readonly handler: PeerHandler;
  private readonly logger: TransportLogger;
  private readonly settings: Settings;
  private readonly reports: PeerReports;
  private readonly listenUrls: URL[];
  private readonly tls: TlsCredentials | undefined;
  private readonly env: TransportEnv;
  private readonly inboundEnv: InboundEnv;
  private readonly outbound = new Map<bigint, PeerOutbound>();
  private readonly statuses = new Map<bigint, PeerStatus>();
  private readonly peerCounters = new Map<bigint, PeerCounters>();
  private readonly snapshots = new Map<bigint, SnapshotSender>();
  private readonly rpcClients = new Map<bigint, { client: Client; href: string }>();
  /** Our own gRPC server behind every listener, plaintext and TLS; peers only, so a client flood never shares its memory budget. */
  private server: GrpcServer | undefined;
  private readonly listeners: MemberListener[] = [];
  private readonly ports: number[] = [];
  private state: 'new' | 'started' | 'stopped' = 'new';
  private removedReported = false;

  constructor(config: PeerTransportConfig) {
    const options = config.options ?? {};
    this.memberId = config.memberId;
    this.clusterId = config.clusterId;
    this.handler = config.handler;
    this.logger = config.logger ?? silent;
    this.settings = resolveSettings(options);
    this.reports = options;
    this.listenUrls = config.listenUrls;
    this.tls = options.tls;
    for (const url of this.listenUrls) {
      hostPort(url);
      if (isSecureScheme(url) && options.tls === undefined) {
        throw new TransportConfigError(`listen URL ${url.href} needs TLS credentials, none configured`);
      }
    }
    this.env = this.makeEnv(options.channelCredentials);
    this.inboundEnv = {
      memberId: this.memberId,
      clusterId: this.clusterId,
      handler: this.handler,
      logger: this.logger,
      settings: this.settings,
      errorToStatus: options.errorToStatus ?? defaultErrorToStatus,
      counters: (id) => this.countersOf(id),
      status: (id) => this.statusOf(id),
    };
  }

  /**
   * Binds every listen URL (plaintext, TLS, or both on one address, as
   * etcd groups them), then starts the streams to the peers added so far.
   */
  async start(): Promise<void> {
    assert(this.state === 'new', 'start() once');
    const server = new GrpcServer({
      maxReceiveMessageBytes: peerMessageBytesMax,
      maxSendMessageBytes: peerMessageBytesMax,
      keepaliveTimeMs: this.settings.keepaliveTimeMs,
      keepaliveTimeoutMs: this.settings.keepaliveTimeoutMs,
      // Peers ping as often as we do, with or without streams open (etcd's policy for clients
      // would close them). Half the interval, not all of it: pings sent every keepaliveTimeMs
      // arrive a little early about half the time (timer and scheduling jitter), and with the
      // full interval as the minimum those strikes closed every peer connection after a few
      // seconds (GOAWAY too_many_pings), dropping the messages queued on it.
      keepaliveMinTimeMs: Math.floor(this.settings.keepaliveTimeMs / 2),
      keepalivePermitWithoutStream: true,
    });
    server.addService(peerServiceDefinition as unknown as ServiceDefinition, peerServiceImpl(this.inboundEnv));
    this.server = server;
    try {
      for (const group of groupListenUrls(this.listenUrls)) {
        const listener = await MemberListener.open(group, {
          tls: this.tls,
          handlers: { http2: (socket) => void server.handleConnection(socket) },
          log: this.logger,
          connectionsMax: peerConnectionsMax,
          role: 'peer',
        });
        this.listeners.push(listener);
        this.ports.push(listener.port ?? 0);
      }
    } catch (err) {
      this.closeListeners();
      this.state = 'stopped';
      throw err;
    }
    this.state = 'started';
    this.logger.info({ 'local-member-id': this.memberId.toString(16), 'listen-urls': this.listenUrls.map((u) => u.href) }, 'peer transport started');
    for (const out of this.outbound.values()) out.start();
  }

  private closeListeners(): void {
    for (const l of this.listeners) void l.close();
    this.server?.forceShutdown();
    for (const l of this.listeners) l.destroyConnections();
  }

  /** Closes every stream, channel and listener; no report is made afterwards. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const out of this.outbound.values()) out.close();
    for (const s of this.snapshots.values()) s.cancel();
    for (const { client } of this.rpcClients.values()) client.close();
    this.rpcClients.clear();
    this.closeListeners();
    this.logger.info({ 'local-member-id': this.memberId.toString(16) }, 'peer transport stopped');
  }

  /** The ports bound by start(), in listen URL order (useful with port 0). */
  get listenPorts(): readonly number[] {
    return this.ports;
  }

  addPeer(id: bigint, urls: string[]): void {
    assert(id !== this.memberId, 'a member is not its own peer');
    if (this.state === 'stopped') return;
    if (this.outbound.has(id)) return this.updatePeer(id, urls);
    const out = new PeerOutbound(this.env, id, this.parseUrls(id, urls));
    this.outbound.set(id, out);
    this.statusOf(id);
    this.countersOf(id);
    if (this.state === 'started') out.start();
  }

  updatePeer(id: bigint, urls: string[]): void {
    const out = this.outbound.get(id);
    if (out === undefined || this.state === 'stopped') return;
    out.updateUrls(this.parseUrls(id, urls));
    this.dropRpcClient(id);
  }

  removePeer(id: bigint): void {
    const out = this.outbound.get(id);
    if (out === undefined) return;
    out.close();
    this.outbound.delete(id);
    this.snapshots.get(id)?.cancel();
    this.dropRpcClient(id);
  }

  hasPeer(id: bigint): boolean {
    return this.outbound.has(id);
  }

  /**
   * Hands Raft messages to their peers' queues and returns at once. Messages
   * to an unknown peer are ignored; messages that do not fit a full queue,
   * or meet a peer that is reconnecting, are dropped and the peer is
   * reported unreachable. MsgSnap must go through sendSnapshot().
   */
  send(msgs: Message[]): void {
    if (this.state === 'stopped') return;
    const byPeer = new Map<bigint, Message[]>();
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap) {
        this.logger.error({ 'peer-id': m.to.toString(16) }, 'MsgSnap passed to send(): use sendSnapshot()');
        this.env.reportSnapshotStatus(m.to, false);
        continue;
      }
      const list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, [m]);
      else list.push(m);
    }
    for (const [to, list] of byPeer) {
      const out = this.outbound.get(to);
      if (out === undefined) {
        this.logger.debug({ 'peer-id': to.toString(16), messages: list.length }, 'ignored messages to unknown peer');
      } else if (out.send(list) > 0) {
        this.env.reportUnreachable(to);
      }
    }
  }

  /**
   * Streams a snapshot to msg.to: `open` is called once, when the transfer
   * starts, and should yield the backend file in chunks of about
   * snapshotChunkBytes (e.g. fs.createReadStream(path, { highWaterMark })).
   * The outcome arrives as onSnapshotStatus(msg.to, ok). One at a time per
   * peer: a second one while the first is in flight fails at once.
   */
  sendSnapshot(msg: Message, open: () => SnapshotSource, totalBytes: bigint): void {
    assert(msg.type === MessageType.MsgSnap, 'sendSnapshot takes MsgSnap');
    const to = msg.to;
    if (this.state === 'stopped') return;
    const out = this.outbound.get(to);
    const refused = out === undefined ? new PeerNotFoundError(to) : this.snapshots.has(to) ? new SnapshotInFlightError(to) : undefined;
    if (refused !== undefined || out === undefined) {
      this.logger.warn({ 'peer-id': to.toString(16), error: refused?.message }, 'snapshot not sent');
      this.env.reportSnapshotStatus(to, false);
      return;
    }
    const sender = new SnapshotSender(this.env, to, out.url, msg, open, totalBytes);
    this.snapshots.set(to, sender);
    sender.run().then(
      () => this.snapshotDone(to, sender, undefined),
      (err: unknown) => this.snapshotDone(to, sender, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private snapshotDone(to: bigint, sender: SnapshotSender, err: Error | undefined): void {
    if (this.snapshots.get(to) === sender) this.snapshots.delete(to);
    const counters = this.countersOf(to);
    if (err === undefined) {
      counters.snapshotsSent++;
    } else {
      counters.snapshotSendFailures++;
      this.logger.warn({ 'peer-id': to.toString(16), error: err.message }, 'failed to send database snapshot');
      if (err instanceof MemberRemovedError) this.env.reportRemoved();
    }
    if (!this.outbound.has(to)) return; // Removed meanwhile: Raft no longer tracks it.
    if (err !== undefined) this.env.reportUnreachable(to);
    this.env.reportSnapshotStatus(to, err === undefined);
  }

  /** See fetchMembers() in fetch-members.ts; sends our ids. */
  fetchMembers(urls: string[], clusterIdExpected?: bigint): Promise<MembersResponse> {
    return fetchMembers(urls, {
      clusterIdExpected,
      memberId: this.memberId,
      clusterId: this.clusterId,
      channelCredentials: this.env.channelCredentials,
    });
  }

  /**
   * Forwards a lease keep-alive to the leader. Rejects with ForwardError
   * (the leader's gRPC code and message, e.g. DEADLINE_EXCEEDED after
   * `timeoutMs`), PeerNotFoundError, or a PeerRefusedError.
   */
  forwardLeaseRenew(leaderId: bigint, req: LeaseKeepAliveRequest, timeoutMs?: number): Promise<LeaseKeepAliveResponse> {
    return this.forward(leaderId, paths.leaseRenew, { req: LeaseKeepAliveRequest, res: LeaseKeepAliveResponse }, req, timeoutMs);
  }

  forwardLeaseTimeToLive(leaderId: bigint, req: LeaseTimeToLiveRequest, timeoutMs?: number): Promise<LeaseTimeToLiveResponse> {
    return this.forward(leaderId, paths.leaseTimeToLive, { req: LeaseTimeToLiveRequest, res: LeaseTimeToLiveResponse }, req, timeoutMs);
  }

  /** A peer's HashKV at a revision (corruption checks). */
  peerHashKV(id: bigint, req: HashKVRequest, timeoutMs?: number): Promise<HashKVResponse> {
    return this.forward(id, paths.hashKV, { req: HashKVRequest, res: HashKVResponse }, req, timeoutMs);
  }

  private async forward<Req, Res>(id: bigint, path: string, codec: { req: Codec<Req>; res: Codec<Res> }, req: Req, timeoutMs?: number): Promise<Res> {
    if (this.state === 'stopped') throw new TransportStoppedError();
    const client = this.rpcClient(id);
    const metadata = new Metadata();
    metadata.set(clusterIdMetadataKey, this.clusterId.toString(16));
    metadata.set(fromMetadataKey, this.memberId.toString(16));
    try {
      return await unaryCall(client, path, codec, req, metadata, timeoutMs ?? this.settings.forwardTimeoutMs);
    } catch (err) {
      const se = err as ServiceError;
      const refusal = refusalOf(se, this.clusterId);
      if (refusal instanceof MemberRemovedError) this.env.reportRemoved();
      if (refusal !== undefined) throw refusal;
      if (se.code === Status.UNAVAILABLE) this.dropRpcClient(id);
      throw new ForwardError(se.code ?? Status.UNKNOWN, se.details ?? String(err));
    }
  }

  /**
   * Times one small call to the peer (Members) over the connection forwarded
   * calls use: the round trip etcd's prober measures for
   * etcd_network_peer_round_trip_time_seconds. Resolves with seconds;
   * rejects like a forwarded call.
   */
  async roundTrip(id: bigint, timeoutMs?: number): Promise<number> {
    const started = performance.now();
    const header = { clusterId: this.clusterId, from: this.memberId, to: id };
    await this.forward(id, paths.members, { req: MembersRequest, res: MembersResponse }, { header }, timeoutMs);
    return (performance.now() - started) / 1000;
  }

  /** True while a stream with the peer (ours to it, or its to us) is up. */
  isActive(id: bigint): boolean {
    return this.statuses.get(id)?.active ?? false;
  }

  /** When the peer last became active (ms since the epoch, from options.now), or undefined while it is not. */
  activeSince(id: bigint): number | undefined {
    return this.statuses.get(id)?.since;
  }

  /** Traffic counters of one peer (live object: read, do not keep). */
  counters(id: bigint): Readonly<PeerCounters> | undefined {
    return this.peerCounters.get(id);
  }

  /** Every peer's counters, including peers that only ever sent to us. */
  allCounters(): ReadonlyMap<bigint, Readonly<PeerCounters>> {
    return this.peerCounters;
  }

  private parseUrls(id: bigint, urls: string[]): URL[] {
    if (urls.length === 0) throw new TransportConfigError(`peer ${id.toString(16)} has no URLs`);
    const parsed = urls.map(parsePeerUrl);
    for (const url of parsed) {
      hostPort(url);
      channelCredentialsFor(url, this.env.channelCredentials);
    }
    return parsed;
  }

  private rpcClient(id: bigint): Client {
    const out = this.outbound.get(id);
    if (out === undefined) throw new PeerNotFoundError(id);
    const url = out.url;
    const cached = this.rpcClients.get(id);
    if (cached !== undefined && cached.href === url.href) return cached.client;
    cached?.client.close();
    const client = new Client(hostPort(url), channelCredentialsFor(url, this.env.channelCredentials), this.env.channelOptions);
    this.rpcClients.set(id, { client, href: url.href });
    return client;
  }

  private dropRpcClient(id: bigint): void {
    this.rpcClients.get(id)?.client.close();
    this.rpcClients.delete(id);
  }

  private statusOf(id: bigint): PeerStatus {
    let s = this.statuses.get(id);
    if (s === undefined) {
      s = new PeerStatus(id, this.settings.now, this.logger);
      this.statuses.set(id, s);
    }
    return s;
  }

  private countersOf(id: bigint): PeerCounters {
    let c = this.peerCounters.get(id);
    if (c === undefined) {
      c = newPeerCounters();
      this.peerCounters.set(id, c);
    }
    return c;
  }

  /** Reports run after the current call stack, and never once the transport stopped. */
  private later(report: () => void): void {
    queueMicrotask(() => {
      if (this.state !== 'stopped') report();
    });
  }

  private makeEnv(channelCredentials: TransportEnv['channelCredentials']): TransportEnv {
    return {
      memberId: this.memberId,
      clusterId: this.clusterId,
      logger: this.logger,
      settings: this.settings,
      channelOptions: channelOptions(this.settings),
      channelCredentials,
      header: (to: bigint): PeerHeader => ({ clusterId: this.clusterId, from: this.memberId, to }),
      counters: (id) => this.countersOf(id),
      status: (id) => this.statusOf(id),
      reportUnreachable: (id) => this.later(() => this.reports.onUnreachable?.(id)),
      reportSnapshotStatus: (id, ok) => this.later(() => this.reports.onSnapshotStatus?.(id, ok)),
      reportRemoved: () => this.later(() => {
        if (this.removedReported) return;
        this.removedReported = true;
        this.logger.error({ 'local-member-id': this.memberId.toString(16) }, 'a peer says this member was removed from the cluster');
        this.reports.onRemoved?.();
      }),
    };
  }
}
