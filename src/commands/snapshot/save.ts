import { rename, rm } from 'node:fs/promises';
import { describeError, EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { checkSnapshotKind, runOffline } from '../../cli/admin/offline-snapshot.js';
import { humanizeBytes } from '../../cli/admin/go-format.js';
import { saveSnapshot, type SaveResult } from '../../cli/admin/snapshot-save.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import type { Client } from '../../client/client.js';

const saveFlagSpecs: readonly FlagSpec[] = [
  { name: 'format', kind: 'string', defaultText: '', description: 'etcd: write etcd\'s snapshot format (bbolt), which etcdctl snapshot restore reads; by default the file is what the member sends' },
];

export default class SnapshotSave extends EtcdCommand {
  static override summary = 'Stores an etcd node backend snapshot to a given file';
  static override description = `Streams a consistent copy of one member's database (give exactly one endpoint)
into <filename>. The data goes to <filename>.part first; the trailing SHA-256 the
server appends is checked, the file is fsynced and only then renamed, so a failed
or interrupted save never leaves a file at <filename>. Prints "Snapshot saved at
<filename>" on stdout, as etcdctl does, and the revision and size on stderr; shows
progress on a terminal. Without --command-timeout there is no time limit.

With --format etcd, a snapshot from an etcdts member is converted to etcd's format
(a bbolt database with etcd 3.4's buckets and its SHA-256), which the real
\`etcdctl snapshot restore\` restores into an etcd member: the way back to etcd.
A snapshot from a real etcd is in that format already.`;
  static override commandFlags = saveFlagSpecs;
  static override flags = oclifFlags(saveFlagSpecs);
  static override usage = 'snapshot save <filename>';
  static override examples = [
    '<%= config.bin %> snapshot save backup.db --endpoints=10.0.0.1:2379',
    '<%= config.bin %> snapshot status backup.db -w table',
    '<%= config.bin %> snapshot save --format etcd for-etcd.db && etcdctl snapshot restore for-etcd.db --data-dir /var/lib/etcd',
  ];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('snapshot save expects one argument');
    const path = args[0]!;
    await this.printer(flags);
    const format = flags.string('format');
    if (format !== '' && format !== 'etcd') throw new CliError(`unknown --format "${format}" (etcd, or none for what the member sends)`, ExitCode.error);
    const endpoints = flags.strings('endpoints');
    if (endpoints.length !== 1) {
      throw new CliError(`snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`, ExitCode.interrupted);
    }
    // etcdctl exits with ExitInterrupted (5) for every failure of the save, connecting included.
    const result = await interrupted(async () => {
      const client = await this.connect(flags);
      return format === 'etcd' ? this.saveForEtcd(client, path, flags) : this.download(client, path, flags);
    });
    this.stdout.write(`Snapshot saved at ${path}\n`);
    const revision = result.revision === undefined ? '' : ` at revision ${result.revision}`;
    this.stderr.write(`Saved a snapshot of ${endpoints[0]}${revision}: ${humanizeBytes(result.bytes)} (${result.bytes} bytes, sha256 verified)\n`);
  }

  /** Downloads next to `path`, then converts the file to etcd's format unless the member is an etcd. */
  private async saveForEtcd(client: Client, path: string, flags: ParsedFlags): Promise<SaveResult> {
    const downloaded = `${path}.download`;
    try {
      const result = await this.download(client, downloaded, flags);
      if ((await checkSnapshotKind(downloaded)) === 'etcd') {
        await rename(downloaded, path);
        return result;
      }
      const { bytes } = await runOffline({ kind: 'export', path: downloaded, dest: path, skipHashCheck: false });
      return { ...result, bytes };
    } finally {
      await rm(downloaded, { force: true });
    }
  }

  private async download(client: Client, path: string, flags: ParsedFlags): Promise<SaveResult> {
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => controller.abort(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = onTerminal() ? await startProgress() : undefined;
    try {
      const timeoutMs = commandTimeoutGiven(flags) ? this.callOptions(flags).timeoutMs : undefined;
      const result = await saveSnapshot(client, path, { timeoutMs, signal: controller.signal, onProgress: progress?.update });
      progress?.stop(true);
      return result;
    } catch (err) {
      progress?.stop(false);
      if (controller.signal.aborted) throw new CliError(`snapshot save interrupted by ${String(controller.signal.reason)}; nothing was saved at ${path}`, ExitCode.interrupted);
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/** etcdctl applies --command-timeout to a snapshot only when it is given (flag or ETCDCTL_COMMAND_TIMEOUT). */
function commandTimeoutGiven(flags: ParsedFlags): boolean {
  return flags.changed.has('command-timeout') || (process.env.ETCDCTL_COMMAND_TIMEOUT ?? '') !== '';
}

async function interrupted<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(describeError(err).message, ExitCode.interrupted);
  }
}

interface Progress {
  update: (bytes: number) => void;
  stop: (ok: boolean) => void;
}

/** A spinner on stderr with bytes received and the rate (terminals only; ora is loaded on demand). */
async function startProgress(): Promise<Progress> {
  const { default: ora } = await import('ora');
  const spinner = ora({ text: 'Waiting for the snapshot stream', stream: process.stderr, discardStdin: false }).start();
  const started = Date.now();
  let shown = 0;
  return {
    update: (bytes) => {
      const now = Date.now();
      if (now - shown < 100) return;
      shown = now;
      const rate = bytes / Math.max((now - started) / 1000, 0.001);
      spinner.text = `Receiving snapshot: ${humanizeBytes(bytes)} (${humanizeBytes(Math.round(rate))}/s)`;
    },
    stop: (ok) => (ok ? spinner.succeed('Snapshot received and verified') : spinner.fail('Snapshot save failed')),
  };
}

/**
 * A terminal that can show a spinner: ora redraws by terminal width, and a
 * pseudo-terminal that reports no width (0 columns) makes it spin forever.
 */
function onTerminal(): boolean {
  return process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
}
