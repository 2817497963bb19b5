import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { ClusterFolder } from '../../cli/cluster/layout.js';
import { killMember } from '../../cli/cluster/members.js';
import { clusterDirFlag } from '../../cli/cluster/report.js';

const killFlagSpecs: readonly FlagSpec[] = [clusterDirFlag];

export default class ClusterKill extends EtcdCommand {
  static override summary = 'Kills one member of a local cluster with SIGKILL, as a crash would';
  static override description = `For trying failover: the member dies at once, without a goodbye to its peers. If it
led, the others elect a new leader. Bring it back with \`cluster start <name>\`.`;
  static override usage = 'cluster kill <name> [--data-dir ./cluster]';
  static override examples = ['<%= config.bin %> cluster kill m1', '<%= config.bin %> cluster status'];
  static override commandFlags = killFlagSpecs;
  static override flags = oclifFlags(killFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('cluster kill expects one member name');
    const folder = new ClusterFolder(flags.string('data-dir'));
    const member = folder.find(folder.read(), args[0]!);
    const pid = await killMember(folder, member.name);
    if (pid === undefined) throw new CliError(`member ${member.name} is not running`, ExitCode.error);
    this.stdout.write(`Killed ${member.name} (pid ${pid}) with SIGKILL\n`);
  }
}
