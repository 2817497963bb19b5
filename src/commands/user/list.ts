import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class UserList extends EtcdCommand {
  static override summary = 'Lists all users';
  static override usage = 'user list';
  static override examples = ['<%= config.bin %> user list', '<%= config.bin %> user list -w json'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('user list command requires no arguments');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.userList(await client.auth.userList(this.callOptions(flags)));
  }
}
