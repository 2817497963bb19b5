import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { AlarmRequest_AlarmAction } from '../../proto/gen/etcdserverpb/rpc.js';

export default class AlarmList extends EtcdCommand {
  static override summary = 'Lists all alarms';
  static override description = `Prints every active alarm of the cluster, one per line as etcdctl prints them
("memberID:<id> alarm:NOSPACE "). A NOSPACE alarm makes the cluster refuse writes
until space is reclaimed (compaction, then defrag) and the alarm is disarmed.`;
  static override usage = 'alarm list';
  static override examples = ['<%= config.bin %> alarm list', '<%= config.bin %> alarm list -w json'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('alarm list command accepts no arguments');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.alarm(await client.maintenance.alarm({ action: AlarmRequest_AlarmAction.GET }, this.callOptions(flags)));
  }
}
