import { EtcdServer } from './etcdserver/server.js';
import { urlText, type ServerConfig } from './etcdserver/config.js';
import { Peering } from './etcdserver/peering.js';
import { Wal } from './wal/wal.js';
import { fetchMembers } from './transport/fetch-members.js';
import type { MemberInfo } from './membership/cluster.js';
import { startClientListeners, type ClientListeners } from './api/client-listener.js';
import { createLogger, type Logger } from './logger.js';
import { MemberTls } from './tls/member-tls.js';
import { openInternalSocket, type InternalSocket } from './listen/internal-socket.js';
import type { ChannelCredentials } from '@grpc/grpc-js';

export interface RunningMember {
  server: EtcdServer;
  peering: Peering;
  listeners: ClientListeners;
  log: Logger;
  stop(): Promise<void>;
}

/** Starts a member: opens the data dir, starts consensus, then serves clients. */
export async function startMember(config: ServerConfig, log: Logger = createLogger({ level: config.logLevel, outputs: config.logOutputs, format: config.logFormat })): Promise<RunningMember> {
  const tls = await MemberTls.setUp(config, log);
  const peerCredentials = (): ChannelCredentials => tls.peerChannelCredentials();
  const join = await joinInfo(config, log, peerCredentials);
  const server = await EtcdServer.start(config, log, { join });
  server.clientChannelCredentials = () => tls.clientChannelCredentials();
  const peering = new Peering(server, { tls: tls.peer, channelCredentials: peerCredentials });
  await peering.start(join?.members ?? []);
  log.info({ peerUrls: config.listenPeerUrls.map(String) }, 'serving peer traffic');
  let listeners: ClientListeners | undefined;
  let internal: InternalSocket | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await internal?.close();
      await listeners?.close();
      await peering.stop();
      await server.stop();
      tls.close();
      log.info('member stopped');
    })();
    return stopping;
  };
  server.onRemoved = () => {
    void stop().then(() => log.flush(() => process.exit(0)));
  };
  await server.ready();
  listeners = await startClientListeners(server, config.listenClientUrls, tls.client);
  const serveInternal = listeners.serveInternal;
  internal = await openInternalSocket(config.dataDir, (socket) => serveInternal(socket));
  server.internalEndpoint = internal.endpoint;
  log.info({ clientUrls: config.listenClientUrls.map(String) }, 'serving client requests');
  return { server, peering, listeners, log, stop };
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
  const others = [...config.initialCluster.entries()].filter(([name]) => name !== config.name).flatMap(([, urls]) => urls);
  if (others.length === 0) throw new Error('--initial-cluster-state=existing needs the other members in --initial-cluster');
  const membership = await fetchMembers(others, { channelCredentials });
  const self = membership.members.find((m) => m.peerURLs.some((u) => own.has(u)));
  if (self === undefined) {
    throw new Error(`this member (peer URLs ${[...own].join(',')}) is not in the cluster's membership: add it first with "member add"`);
  }
  log.info({ memberId: self.ID.toString(16), clusterId: membership.clusterId.toString(16) }, 'joining an existing cluster');
  const members = membership.members.map((m) => ({ id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner }));
  return { clusterId: membership.clusterId, memberId: self.ID, members };
}
