import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { ClusterFolder } from '../../cli/cluster/layout.js';
import { memberStatuses } from '../../cli/cluster/health.js';
import { runningPid } from '../../cli/cluster/members.js';
import { clusterDirFlag, memberTable } from '../../cli/cluster/report.js';

const statusFlagSpecs: readonly FlagSpec[] = [clusterDirFlag];

export default class ClusterStatus extends EtcdCommand {
  static override summary = 'Shows the members of a local cluster: URLs, pid, state and the leader';
  static override description = `One row per member of the cluster in --data-dir: its URLs, its pid when it runs,
whether it answers (and its revision), and a * on the leader.`;
  static override usage = 'cluster status [--data-dir ./cluster]';
  static override examples = ['<%= config.bin %> cluster status', '<%= config.bin %> cluster status --data-dir /tmp/demo'];
  static override commandFlags = statusFlagSpecs;
  static override flags = oclifFlags(statusFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('cluster status takes no arguments');
    const folder = new ClusterFolder(flags.string('data-dir'));
    const layout = folder.read();
    const statuses = await memberStatuses(folder, layout);
    this.stdout.write(memberTable(layout, statuses.map((status) => ({ status, pid: runningPid(folder, status.member.name) }))));
  }
}
