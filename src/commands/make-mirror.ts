import { readFileSync } from 'node:fs';
import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { adminClientOptions } from '../cli/admin/endpoint-clients.js';
import { Mirror } from '../cli/admin/mirror.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { nanosToMs } from '../cli/global-flags.js';
import type { ClientOptions, TlsOptions } from '../client/options.js';

const makeMirrorFlagSpecs: readonly FlagSpec[] = [
  { name: 'prefix', kind: 'string', defaultText: '', description: 'Key-value prefix to mirror' },
  { name: 'dest-prefix', kind: 'string', defaultText: '', description: 'destination prefix to mirror a prefix to a different prefix in the destination cluster' },
  { name: 'no-dest-prefix', kind: 'bool', defaultText: 'false', description: 'mirror key-values to the root of the destination cluster' },
  { name: 'dest-cert', kind: 'string', defaultText: '', description: 'Identify secure client using this TLS certificate file for the destination cluster' },
  { name: 'dest-key', kind: 'string', defaultText: '', description: 'Identify secure client using this TLS key file' },
  { name: 'dest-cacert', kind: 'string', defaultText: '', description: 'Verify certificates of TLS enabled secure servers using this CA bundle' },
  { name: 'dest-insecure-transport', kind: 'bool', defaultText: 'true', description: 'Disable transport security for client connections' },
  { name: 'report-interval', kind: 'duration', defaultText: '30s', description: 'how often to print the number of keys synced', hidden: true },
];

export default class MakeMirror extends EtcdCommand {
  static override summary = 'Makes a mirror at the destination etcd cluster';
  static override description = `Copies every key under --prefix from the cluster of --endpoints to the
destination cluster (any etcd v3 API: etcd or etcdts), then keeps following the
source's changes and applies each source revision as one transaction at the
destination, until interrupted. Prints the number of keys synced every 30 seconds,
as etcdctl does. This is the way to move data from a running etcd to etcdts (or
back) without downtime: mirror, then switch the clients. Leases and revision
numbers are not carried over.`;
  static override usage = 'make-mirror [options] <destination>';
  static override examples = [
    '<%= config.bin %> make-mirror --endpoints=etcd-1:2379 127.0.0.1:2379',
    '<%= config.bin %> make-mirror --prefix /registry/ --dest-prefix /copy/ 10.0.0.9:2379',
  ];
  static override commandFlags = makeMirrorFlagSpecs;
  static override flags = oclifFlags(makeMirrorFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('make-mirror takes one destination argument');
    const prefix = flags.string('prefix');
    let destPrefix = flags.string('dest-prefix');
    if (flags.bool('no-dest-prefix') && destPrefix !== '') {
      throw badArgs('`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one');
    }
    if (!flags.bool('no-dest-prefix') && destPrefix === '') destPrefix = prefix;
    await this.printer(flags);
    const sourceOptions = await adminClientOptions(flags);
    const { Client } = await import('../client/client.js');
    const dest = await Client.connect(destinationOptions(args[0]!, sourceOptions, flags));
    try {
      const source = await this.connect(flags);
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const mirror = new Mirror(source, dest, { prefix: Buffer.from(prefix), destPrefix: Buffer.from(destPrefix), signal: controller.signal });
      const report = setInterval(() => {
        this.stdout.write(`${mirror.total}\n`);
        this.stdout.flush();
      }, nanosToMs(flags.bigint('report-interval')) ?? 30_000);
      try {
        await mirror.run();
      } catch (err) {
        if (controller.signal.aborted) return;
        throw err;
      } finally {
        clearInterval(report);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      // etcdctl exits with an error whenever mirroring stops, even when the source ended the watch.
      throw new CliError('the source cluster ended the watch', ExitCode.error);
    } finally {
      dest.close();
    }
  }
}

/** The destination's client: the global dial and keep-alive settings, its own TLS, no credentials (as etcdctl). */
function destinationOptions(endpoint: string, source: ClientOptions, flags: ParsedFlags): ClientOptions {
  const files: Record<'ca' | 'cert' | 'key', Buffer | undefined> = { ca: undefined, cert: undefined, key: undefined };
  for (const [field, flag] of [['ca', 'dest-cacert'], ['cert', 'dest-cert'], ['key', 'dest-key']] as const) {
    const path = flags.string(flag);
    if (path === '') continue;
    try {
      files[field] = readFileSync(path);
    } catch {
      throw new CliError(`open ${path}: no such file or directory`, ExitCode.badArgs);
    }
  }
  const tls: TlsOptions | undefined = files.ca === undefined && files.cert === undefined && files.key === undefined ? undefined : files;
  return {
    endpoints: [endpoint],
    dialTimeoutMs: source.dialTimeoutMs,
    keepAliveTimeMs: source.keepAliveTimeMs,
    keepAliveTimeoutMs: source.keepAliveTimeoutMs,
    insecureTransport: flags.bool('dest-insecure-transport'),
    ...(tls === undefined ? {} : { tls }),
  };
}
