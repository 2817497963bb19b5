import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { EtcdServer, serverVersion } from './etcdserver/server.js';
import { urlText, type ServerConfig } from './etcdserver/config.js';
import { Peering } from './etcdserver/peering.js';
import { Wal } from './wal/wal.js';
import { fetchMembers } from './transport/fetch-members.js';
import type { MemberInfo } from './membership/cluster.js';
import { startClientListeners, type ClientListeners } from './api/client-listener.js';
import { httpHandler } from './api/http-handler.js';
import { pprofPrefix } from './api/pprof.js';
import { createLogger, type Logger } from './logger.js';
import { MemberTls } from './tls/member-tls.js';
import type { TlsCredentials } from './tls/tls-credentials.js';
import { openInternalSocket, type InternalSocket } from './listen/internal-socket.js';
import { MemberListener, clientConnectionsMax, groupListenUrls, listenAddressOf } from './listen/listener.js';
import type { ChannelCredentials } from '@grpc/grpc-js';

export interface RunningMember {
  server: EtcdServer;
  peering: Peering;
  listeners: ClientListeners;
  log: Logger;
  stop(): Promise<void>;
}

const urls = (list: URL[]): string[] => list.map(urlText);

/** What etcd logs about its configuration as it starts ("starting an etcd server"). */
function startupFields(config: ServerConfig): Record<string, unknown> {
  return {
    'etcd-version': serverVersion, 'node-version': process.version, 'go-os': process.platform, 'go-arch': process.arch,
    name: config.name, 'data-dir': config.dataDir, 'wal-dir': config.walDir, 'force-new-cluster': config.forceNewCluster,
    'heartbeat-interval': `${config.heartbeatIntervalMs}ms`, 'election-timeout': `${config.electionTimeoutMs}ms`,
    'initial-election-tick-advance': config.initialElectionTickAdvance, 'snapshot-count': config.snapshotCount,
    'max-wals': config.maxWals, 'max-snapshots': config.maxSnapshots, 'snapshot-catchup-entries': config.snapshotCatchUpEntries,
    'initial-advertise-peer-urls': urls(config.initialAdvertisePeerUrls), 'listen-peer-urls': urls(config.listenPeerUrls),
    'advertise-client-urls': urls(config.advertiseClientUrls), 'listen-client-urls': urls(config.listenClientUrls),
    'listen-metrics-urls': urls(config.listenMetricsUrls), cors: config.cors, 'host-whitelist': config.hostWhitelist,
    'initial-cluster': [...config.initialCluster].map(([n, u]) => u.map((x) => `${n}=${x}`).join(',')).join(','),
    'initial-cluster-state': config.initialClusterState, 'initial-cluster-token': config.initialClusterToken,
    'quota-backend-bytes': config.quotaBackendBytes, 'max-request-bytes': config.maxRequestBytes, 'max-concurrent-streams': config.maxConcurrentStreams,
    'pre-vote': config.preVote, 'initial-corrupt-check': config.initialCorruptCheck,
    'corrupt-check-time-interval': `${config.corruptCheckIntervalMs / 1000}s`, 'compact-check-time-enabled': config.compactHashCheck,
    'auto-compaction-mode': config.autoCompactionMode, 'auto-compaction-retention': config.autoCompactionRetention,
    'unsafe-no-fsync': config.unsafeNoFsync,
  };
}

/**
 * Starts a member as etcd's embed.StartEtcd does: configure listeners, open
 * the data dir and start consensus, serve peers, check for corruption
 * (--experimental-initial-corrupt-check) before anything is served to
 * clients, wait until the member has published itself through Raft, then
 * serve clients and metrics. The log lines are etcd's, for the same events.
 */
export async function startMember(config: ServerConfig, log: Logger = createLogger({ level: config.logLevel, outputs: config.logOutputs, format: config.logFormat })): Promise<RunningMember> {
  log.info({ 'listen-peer-urls': urls(config.listenPeerUrls) }, 'configuring peer listeners');
  log.info({ 'listen-client-urls': urls(config.listenClientUrls) }, 'configuring client listeners');
  log.info(startupFields(config), 'starting an etcd server');
  const tls = await MemberTls.setUp(config, log);
  const peerCredentials = (): ChannelCredentials => tls.peerChannelCredentials();
  const join = await joinInfo(config, log, peerCredentials);
  const server = await EtcdServer.start(config, log, { join });
  server.clientChannelCredentials = () => tls.clientChannelCredentials();
  const peering = new Peering(server, { tls: tls.peer, channelCredentials: peerCredentials });
  await peering.start(join?.members ?? []);
  void server.adjustTicks();
  const memberId = server.memberId.toString(16);
  log.info({
    'local-member-id': memberId, 'initial-advertise-peer-urls': urls(config.initialAdvertisePeerUrls), 'listen-peer-urls': urls(config.listenPeerUrls),
    'advertise-client-urls': urls(config.advertiseClientUrls), 'listen-client-urls': urls(config.listenClientUrls), 'listen-metrics-urls': urls(config.listenMetricsUrls),
  }, 'now serving peer/client/metrics');
  for (const url of config.listenPeerUrls) log.info({ address: addressText(url) }, 'serving peer traffic');
  let listeners: ClientListeners | undefined;
  let metrics: MetricsListeners | undefined;
  let internal: InternalSocket | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const fields = { name: config.name, 'data-dir': config.dataDir, 'advertise-peer-urls': urls(config.initialAdvertisePeerUrls), 'advertise-client-urls': urls(config.advertiseClientUrls) };
      log.info(fields, 'closing etcd server');
      await internal?.close();
      await metrics?.close();
      await listeners?.close();
      for (const url of config.listenPeerUrls) log.info({ address: addressText(url) }, 'stopping serving peer traffic');
      await peering.stop();
      for (const url of config.listenPeerUrls) log.info({ address: addressText(url) }, 'stopped serving peer traffic');
      await server.stop();
      tls.close();
      log.info(fields, 'closed etcd server');
    })();
    return stopping;
  };
  server.onRemoved = () => {
    void stop().then(() => log.flush(() => process.exit(0)));
  };
  try {
    await server.checkInitialCorruption();
  } catch (err) {
    await stop();
    throw err;
  }
  server.startCorruptionMonitor();
  metrics = await startMetricsListeners(server, config.listenMetricsUrls, tls.client, log);
  await server.ready();
  listeners = await startClientListeners(server, config.listenClientUrls, tls.client);
  const serveInternal = listeners.serveInternal;
  internal = await openInternalSocket(config.dataDir, (socket) => serveInternal(socket));
  server.internalEndpoint = internal.endpoint;
  log.info({}, 'ready to serve client requests');
  for (const group of groupListenUrls(config.listenClientUrls)) {
    const address = addressText(group.urls[0]!);
    if (group.insecure) log.info({ address }, 'serving client traffic insecurely; this is strongly discouraged!');
    if (group.secure) log.info({ address }, 'serving client traffic securely');
  }
  if (config.enablePprof) log.info({ path: pprofPrefix }, 'pprof is enabled');
  log.info({ 'cluster-version': '3.4' }, 'enabled capabilities for version');
  return { server, peering, listeners, log, stop };
}

/** host:port (or the socket path) of a listen URL, as etcd logs addresses. */
function addressText(url: URL): string {
  const a = listenAddressOf(url);
  return a.kind === 'unix' ? a.path : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

interface MetricsListeners {
  close(): Promise<void>;
}

/**
 * --listen-metrics-urls: HTTP only, /metrics and /health (plus pprof when
 * enabled), in plaintext or TLS as each URL says, with the client port's
 * certificate (etcd serves them with the client TLS info). Anything that is
 * not HTTP/1 is closed.
 */
async function startMetricsListeners(server: EtcdServer, metricsUrls: URL[], tls: TlsCredentials | undefined, log: Logger): Promise<MetricsListeners> {
  const http: HttpServer = createHttpServer(httpHandler(server, { role: 'metrics' }));
  const sockets = new Set<Socket>();
  const handlers = {
    http2: (socket: Socket) => socket.destroy(),
    http1: (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      http.emit('connection', socket);
      socket.resume();
    },
  };
  const bound: MemberListener[] = [];
  try {
    for (const group of groupListenUrls(metricsUrls)) {
      bound.push(await MemberListener.open(group, { tls, handlers, log, connectionsMax: clientConnectionsMax(), role: 'metrics' }));
      for (const url of group.urls) log.info({ address: urlText(url) }, 'serving metrics');
    }
  } catch (err) {
    await Promise.all(bound.map((l) => l.close()));
    throw err;
  }
  return {
    close: async () => {
      await Promise.all(bound.map((l) => l.close()));
      http.close();
      for (const s of sockets) s.destroy();
      for (const l of bound) l.destroyConnections();
    },
  };
}

/**
 * A member started with --initial-cluster-state=existing and no data yet
 * joins a running cluster: it asks the other members listed in
 * --initial-cluster for the membership, which must already name it (added
 * with `member add` on its peer URLs), and takes its ids from there.
 */
async function joinInfo(config: ServerConfig, log: Logger, channelCredentials: () => ChannelCredentials): Promise<{ clusterId: bigint; memberId: bigint; members: MemberInfo[] } | undefined> {
  if (config.initialClusterState !== 'existing' || (await Wal.exists(config.walDir))) return undefined;
  const own = new Set(config.initialAdvertisePeerUrls.map(urlText));
  const others = [...config.initialCluster.entries()].filter(([name]) => name !== config.name).flatMap(([, u]) => u);
  if (others.length === 0) throw new Error('--initial-cluster-state=existing needs the other members in --initial-cluster');
  const membership = await fetchMembers(others, { channelCredentials });
  const self = membership.members.find((m) => m.peerURLs.some((u) => own.has(u)));
  if (self === undefined) {
    throw new Error(`this member (peer URLs ${[...own].join(',')}) is not in the cluster's membership: add it first with "member add"`);
  }
  log.info({ 'local-member-id': self.ID.toString(16), 'cluster-id': membership.clusterId.toString(16) }, 'joining an existing cluster');
  const members = membership.members.map((m) => ({ id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner }));
  return { clusterId: membership.clusterId, memberId: self.ID, members };
}
