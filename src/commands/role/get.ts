import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class RoleGet extends EtcdCommand {
  static override summary = 'Gets detailed information of a role';
  static override description = `Prints the keys a role may read and write: a key, a range "[key, end)", a range
from a key on "[key, <open ended>", with "(prefix key)" when the range is a prefix.
A readwrite permission is listed under both.`;
  static override usage = 'role get <role name>';
  static override examples = ['<%= config.bin %> role get app-reader', '<%= config.bin %> role get app-reader -w table', '<%= config.bin %> role get app-reader -w json'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('role get command requires role name as its argument');
    const name = args[0]!;
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.roleGet(name, await client.auth.roleGet(name, this.callOptions(flags)));
  }
}
