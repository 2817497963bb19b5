import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class RoleAdd extends EtcdCommand {
  static override summary = 'Adds a new role';
  static override description = 'Adds a role without permissions; grant it some with "role grant-permission" and give it to users with "user grant-role".';
  static override usage = 'role add <role name>';
  static override examples = ['<%= config.bin %> role add app-reader --user root', '<%= config.bin %> role add root'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('role add command requires role name as its argument');
    const name = args[0]!;
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange(`Role ${name} created`, await client.auth.roleAdd(name, this.callOptions(flags)));
  }
}
