import { EtcdCommand } from '../../cli/base-command.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class MemberList extends EtcdCommand {
  static override summary = 'Lists all members in the cluster';
  static override description = `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.`;
  static override usage = 'member list';
  static override examples = ['<%= config.bin %> member list', '<%= config.bin %> member list -w table', '<%= config.bin %> member list -w json'];

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.memberList(await client.cluster.memberList(this.callOptions(flags)));
  }
}
