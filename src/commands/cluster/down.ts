import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { ClusterFolder } from '../../cli/cluster/layout.js';
import { memberStopGraceMs, stopMembers } from '../../cli/cluster/members.js';
import { clusterDirFlag } from '../../cli/cluster/report.js';

const downFlagSpecs: readonly FlagSpec[] = [clusterDirFlag];

export default class ClusterDown extends EtcdCommand {
  static override summary = 'Stops every member of a local cluster (SIGTERM, then SIGKILL), keeping the data';
  static override description = `Sends SIGTERM to each running member of the cluster in --data-dir, and SIGKILL to any
still running ${memberStopGraceMs / 1000}s later. Only the processes the cluster started are signalled, by
the pids in its folder, and only while they are still those members. The data stays:
\`cluster up\` on the folder brings the cluster back; remove the folder to forget it.`;
  static override usage = 'cluster down [--data-dir ./cluster]';
  static override examples = ['<%= config.bin %> cluster down', '<%= config.bin %> cluster down --data-dir /tmp/demo && rm -r /tmp/demo'];
  static override commandFlags = downFlagSpecs;
  static override flags = oclifFlags(downFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('cluster down takes no arguments');
    const folder = new ClusterFolder(flags.string('data-dir'));
    const layout = folder.read();
    const names = layout.members.map((m) => m.name);
    const outcome = await stopMembers(folder, names);
    for (const name of names) this.stdout.write(`${name}: ${outcome.get(name)}\n`);
  }
}
