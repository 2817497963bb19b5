import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class UserRevokeRole extends EtcdCommand {
  static override summary = 'Revokes a role from a user';
  static override usage = 'user revoke-role <user name> <role name>';
  static override examples = ['<%= config.bin %> user revoke-role alice app-reader --user root'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 2) throw badArgs('user revoke-role requires user name and role name as its argument');
    const [user, role] = args as [string, string];
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange(`Role ${role} is revoked from user ${user}`, await client.auth.userRevokeRole(user, role, this.callOptions(flags)));
  }
}
