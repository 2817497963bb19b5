import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class UserDelete extends EtcdCommand {
  static override summary = 'Deletes a user';
  static override usage = 'user delete <user name>';
  static override examples = ['<%= config.bin %> user delete alice --user root'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('user delete command requires user name as its argument');
    const name = args[0]!;
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange(`User ${name} deleted`, await client.auth.userDelete(name, this.callOptions(flags)));
  }
}
