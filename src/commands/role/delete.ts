import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class RoleDelete extends EtcdCommand {
  static override summary = 'Deletes a role';
  static override description = 'Deletes a role; users that had it lose it.';
  static override usage = 'role delete <role name>';
  static override examples = ['<%= config.bin %> role delete app-reader --user root'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('role delete command requires role name as its argument');
    const name = args[0]!;
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange(`Role ${name} deleted`, await client.auth.roleDelete(name, this.callOptions(flags)));
  }
}
