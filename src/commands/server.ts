import { Command, Flags, loadHelpClass, type Interfaces } from '@oclif/core';
import { ConfigError } from '../server/etcdserver/config.js';
import { applyEnvironment, FlagError, parseCommandLine, type ParsedFlags } from '../server/etcdserver/go-flags.js';
import { loadConfigFile } from '../server/etcdserver/config-file.js';
import { configFromFlags } from '../server/etcdserver/server-settings.js';
import { flagToEnv, serverFlags } from '../server/etcdserver/server-flags.js';
import { serverVersion } from '../server/etcdserver/server.js';
import { createLogger, type Logger } from '../server/logger.js';

/** oclif declarations of etcd's flags, for `etcdts server --help` only: the parsing is etcd's (go-flags.ts). */
function helpFlags(): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {};
  for (const def of serverFlags) {
    if (def.hidden === true || def.kind === 'ignored') continue;
    const common = { description: def.usage, helpGroup: def.group, env: flagToEnv(def.name) };
    flags[def.name] = def.kind === 'bool'
      ? Flags.boolean(common)
      : Flags.string({ ...common, default: def.kind === 'duration' ? `${def.defaultValue}ms` : String(def.defaultValue) });
  }
  return flags;
}

export default class Server extends Command {
  static override summary = 'Run an etcdts member (etcd server)';

  static override description = `Starts a member of an etcd-compatible cluster: Raft consensus, MVCC storage, leases, watches.
It takes every flag of etcd 3.4 (and the etcd 3.5/3.6 flags operators use), with etcd's meaning, and the same
ETCD_* environment variables (--data-dir <-> ETCD_DATA_DIR), or etcd's YAML file with --config-file.
With no flags it serves clients on http://127.0.0.1:2379 with data in ./default.etcd, like etcd.
Logs are etcd's zap JSON lines on stderr (--log-outputs, --log-level, --log-format).`;

  static override examples = [
    '<%= config.bin %> server',
    '<%= config.bin %> server --name infra0 --data-dir /var/lib/etcdts --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://10.0.0.1:2379',
    'ETCD_NAME=infra1 ETCD_DATA_DIR=/tmp/infra1 <%= config.bin %> server',
    '<%= config.bin %> server --config-file /etc/etcd/etcd.conf.yml',
  ];

  static override strict = false;
  static override flags = helpFlags();

  /**
   * One `Error: ...` line and exit code 1, as etcd stops on a bad flag. (oclif's
   * this.error wraps long messages over several lines, which log scrapers and
   * scripts read as separate errors.)
   */
  private fail(message: string): never {
    process.stderr.write(`Error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    this.exit(1);
  }

  public async run(): Promise<void> {
    this.parsed = true;
    let parsed: ParsedFlags;
    let configFile = '';
    try {
      const commandLine = parseCommandLine(this.argv);
      if (commandLine.help) {
        const Help = await loadHelpClass(this.config);
        await new Help(this.config).showHelp(['server']);
        return;
      }
      if (commandLine.values.get('version') === true) {
        process.stdout.write(`etcd Version: ${serverVersion}\nGit SHA: etcdts\nGo Version: node${process.versions.node}\nGo OS/Arch: ${process.platform}/${process.arch}\n`);
        return;
      }
      // As etcd does: a config file (flag or ETCD_CONFIG_FILE) replaces every other flag and variable.
      configFile = String(commandLine.values.get('config-file') ?? '') || (process.env['ETCD_CONFIG_FILE'] ?? '');
      if (configFile !== '') {
        parsed = loadConfigFile(configFile);
      } else {
        applyEnvironment(commandLine, process.env);
        parsed = commandLine;
      }
    } catch (err) {
      if (err instanceof FlagError) this.fail(err.message);
      throw err;
    }
    let settings;
    try {
      settings = configFromFlags(parsed);
    } catch (err) {
      if (err instanceof ConfigError) this.fail(err.message);
      throw err;
    }
    const { config, notes } = settings;
    const log = createLogger({ level: config.logLevel, outputs: config.logOutputs, format: config.logFormat });
    if (configFile !== '') {
      log.info({ path: configFile }, 'loaded server configuration, other configuration command line flags and environment variables will be ignored if provided');
    }
    for (const note of notes) log[note.level](note.fields, note.msg);
    await this.serve(config, log);
  }

  private async serve(config: Parameters<typeof import('../server/main.js').startMember>[0], log: Logger): Promise<void> {
    const { startMember } = await import('../server/main.js');
    let member;
    try {
      member = await startMember(config, log);
    } catch (err) {
      log.flushSync();
      this.fail(`failed to start member: ${(err as Error).message}`);
    }
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'received signal; shutting down');
      member.stop().then(
        () => log.flush(() => process.exit(0)),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          log.flush(() => process.exit(1));
        },
      );
    };
    process.once('SIGINT', () => shutdown('interrupt'));
    process.once('SIGTERM', () => shutdown('terminated'));
    await new Promise<void>(() => undefined);
  }
}
