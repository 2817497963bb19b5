import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { AlarmRequest_AlarmAction, type AlarmResponse } from '../../proto/gen/etcdserverpb/rpc.js';

export default class AlarmDisarm extends EtcdCommand {
  static override summary = 'Disarms all alarms';
  static override description = `Deactivates every active alarm and prints the alarms it disarmed. Disarm NOSPACE
only after compaction and defrag have brought the database back under its quota,
or the member raises it again on the next write.`;
  static override usage = 'alarm disarm';
  static override examples = ['<%= config.bin %> alarm disarm'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('alarm disarm command accepts no arguments');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    // clientv3's AlarmDisarm with no member and no type: list, then disarm each one.
    // The combined answer has no header, as etcdctl's has none.
    const { alarms } = await client.maintenance.alarm({ action: AlarmRequest_AlarmAction.GET }, options);
    const disarmed: AlarmResponse = { header: undefined, alarms: [] };
    for (const alarm of alarms) {
      const response = await client.maintenance.alarm({ action: AlarmRequest_AlarmAction.DEACTIVATE, memberID: alarm.memberID, alarm: alarm.alarm }, options);
      disarmed.alarms.push(...response.alarms);
    }
    printer.alarm(disarmed);
  }
}
