import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const userGetFlagSpecs: readonly FlagSpec[] = [
  { name: 'detail', kind: 'bool', defaultText: 'false', description: 'Show permissions of roles granted to the user' },
];

export default class UserGet extends EtcdCommand {
  static override summary = 'Gets detailed information of a user';
  static override description = `Prints the roles granted to a user; with --detail, each role and its permissions
as "role get" prints them, after a "User: <name>" line (etcdctl prints that line
in every output format, so -w json --detail is not one JSON document).`;
  static override usage = 'user get <user name> [options]';
  static override examples = ['<%= config.bin %> user get alice', '<%= config.bin %> user get alice --detail', '<%= config.bin %> user get alice -w json'];
  static override commandFlags = userGetFlagSpecs;
  static override flags = oclifFlags(userGetFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('user get command requires user name as its argument');
    const name = args[0]!;
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    const user = await client.auth.userGet(name, options);
    if (!flags.bool('detail')) {
      printer.userGet(name, user);
      return;
    }
    this.stdout.write(`User: ${name}\n`);
    for (const role of user.roles) {
      this.stdout.write('\n');
      printer.roleGet(role, await client.auth.roleGet(role, options));
    }
  }
}
