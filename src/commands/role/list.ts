import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class RoleList extends EtcdCommand {
  static override summary = 'Lists all roles';
  static override usage = 'role list';
  static override examples = ['<%= config.bin %> role list', '<%= config.bin %> role list -w json'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('role list command requires no arguments');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.roleList(await client.auth.roleList(this.callOptions(flags)));
  }
}
