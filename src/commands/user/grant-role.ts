import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class UserGrantRole extends EtcdCommand {
  static override summary = 'Grants a role to a user';
  static override usage = 'user grant-role <user name> <role name>';
  static override examples = ['<%= config.bin %> user grant-role alice app-reader --user root', '<%= config.bin %> user grant-role root root'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 2) throw badArgs('user grant command requires user name and role name as its argument');
    const [user, role] = args as [string, string];
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange(`Role ${role} is granted to user ${user}`, await client.auth.userGrantRole(user, role, this.callOptions(flags)));
  }
}
