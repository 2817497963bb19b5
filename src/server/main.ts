import { EtcdServer } from './etcdserver/server.js';
import type { ServerConfig } from './etcdserver/config.js';
import { startClientListeners, type ClientListeners } from './api/client-listener.js';
import { createLogger, type Logger } from './logger.js';

export interface RunningMember {
  server: EtcdServer;
  listeners: ClientListeners;
  log: Logger;
  stop(): Promise<void>;
}

/** Starts a member: opens the data dir, starts consensus, then serves clients. */
export async function startMember(config: ServerConfig, log: Logger = createLogger(config.logLevel, config.name)): Promise<RunningMember> {
  const server = await EtcdServer.start(config, log);
  await server.ready();
  const listeners = await startClientListeners(server, config.listenClientUrls);
  log.info({ clientUrls: config.listenClientUrls.map(String) }, 'serving client requests');
  let stopping: Promise<void> | undefined;
  return {
    server,
    listeners,
    log,
    stop: () => {
      stopping ??= (async () => {
        await listeners.close();
        await server.stop();
        log.info('member stopped');
      })();
      return stopping;
    },
  };
}
