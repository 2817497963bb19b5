import { existsSync } from 'node:fs';
import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { checkSnapshotKind, runOffline } from '../../cli/admin/offline-snapshot.js';

export default class SnapshotStatus extends EtcdCommand {
  static override summary = '(offline) Gets backend snapshot status of a given file';
  static override description = `Offline: reads a snapshot file; no server is contacted.

Reads etcdts snapshots and etcd's (bbolt, as \`etcdctl snapshot save\` writes them;
for those the figures are the ones etcdctl prints). Checks the file's trailing
SHA-256 and its database, then prints its hash, revision, total keys and total size. When --write-out is set to simple, this command prints
out a comma-separated list: hash, revision, total keys, total size. A truncated,
altered or foreign file is refused with a one-line error (exit 1).`;
  static override usage = 'snapshot status <filename>';
  static override examples = ['<%= config.bin %> snapshot status backup.db', '<%= config.bin %> snapshot status backup.db -w table'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('snapshot status requires exactly one argument');
    const printer = await this.printer(flags);
    const path = args[0]!;
    if (!existsSync(path)) throw new CliError(`stat ${path}: no such file or directory`, ExitCode.error);
    await checkSnapshotKind(path);
    const status = await runOffline({ kind: 'status', path });
    printer.snapshotStatus(status);
  }
}

