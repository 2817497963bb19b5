import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { onMember } from '../../cli/admin/member-ref.js';
import { badArgs } from '../../cli/errors.js';
import { confirmOrStop, yesFlagSpec } from '../../cli/confirm.js';
import { goHex } from '../../cli/admin/go-format.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class MemberRemove extends EtcdCommand {
  static override summary = 'Removes a member from the cluster';
  static override description = `Removes the member with the given hex ID. Beyond etcdctl, the member's name is
accepted too, when exactly one member has it (an ambiguous name is refused).
On a terminal it asks for confirmation first, unless --yes.`;
  static override commandFlags = [yesFlagSpec];
  static override flags = oclifFlags([yesFlagSpec]);
  static override usage = 'member remove <memberID|memberName>';
  static override examples = ['<%= config.bin %> member remove 8211f1d0f64f3269', '<%= config.bin %> member remove infra3'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('member ID is not provided');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    const { id, result } = await onMember(client, args[0]!, options, async (memberId) => {
      await confirmOrStop(flags, `Remove member ${goHex(memberId)} from the cluster?`, 'the member was not removed');
      return client.cluster.memberRemove(memberId, options);
    });
    printer.memberRemove(id, result);
  }
}
