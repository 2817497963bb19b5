import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { nanosToMs } from '../../cli/global-flags.js';
import { ClusterFolder } from '../../cli/cluster/layout.js';
import { runningPid } from '../../cli/cluster/members.js';
import { clusterDirFlag, memberTable } from '../../cli/cluster/report.js';
import { startAndWait } from '../../cli/cluster/start.js';

const startFlagSpecs: readonly FlagSpec[] = [
  clusterDirFlag,
  { name: 'wait-timeout', kind: 'duration', defaultText: '30s', description: 'how long to wait for the member to rejoin' },
];

export default class ClusterStart extends EtcdCommand {
  static override summary = 'Starts one stopped member of a local cluster again, with its data';
  static override description = `The member rejoins with the data it had, catches up from the leader, and the command
waits until it answers and knows the leader, then prints the member table.`;
  static override usage = 'cluster start <name> [--data-dir ./cluster]';
  static override examples = ['<%= config.bin %> cluster start m1'];
  static override commandFlags = startFlagSpecs;
  static override flags = oclifFlags(startFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('cluster start expects one member name');
    const folder = new ClusterFolder(flags.string('data-dir'));
    const layout = folder.read();
    const member = folder.find(layout, args[0]!);
    const pid = runningPid(folder, member.name);
    if (pid !== undefined) throw new CliError(`member ${member.name} is running already (pid ${pid})`, ExitCode.error);
    const rows = await startAndWait(folder, layout, [member], this.config.root, nanosToMs(flags.bigint('wait-timeout')) ?? 30_000);
    this.stdout.write(memberTable(layout, rows));
  }
}
