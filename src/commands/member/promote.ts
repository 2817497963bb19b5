import { EtcdCommand } from '../../cli/base-command.js';
import { onMember } from '../../cli/admin/member-ref.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class MemberPromote extends EtcdCommand {
  static override summary = 'Promotes a non-voting member in the cluster';
  static override description = `Promotes a non-voting learner member to a voting one in the cluster.
The member is given by hex ID or, beyond etcdctl, by its unique name. The server
refuses a learner that has not caught up with the leader yet; try again later.`;
  static override usage = 'member promote <memberID|memberName>';
  static override examples = ['<%= config.bin %> member promote 8211f1d0f64f3269'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('member ID is not provided');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    const { id, result } = await onMember(client, args[0]!, options, (memberId) => client.cluster.memberPromote(memberId, options));
    printer.memberPromote(id, result);
  }
}
