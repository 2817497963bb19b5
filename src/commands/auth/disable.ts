import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class AuthDisable extends EtcdCommand {
  static override summary = 'Disables authentication';
  static override description = `Turns authentication off (needs the root role while it is on). Users, roles and
permissions are kept for the next auth enable. Prints "Authentication Disabled"
whatever the output format.`;
  static override usage = 'auth disable';
  static override examples = ['<%= config.bin %> auth disable --user root', 'ETCDCTL_USER=root:"$ROOT_PASSWORD" <%= config.bin %> auth disable'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('auth disable command does not accept any arguments');
    await this.printer(flags);
    const client = await this.connect(flags);
    await client.auth.authDisable(this.callOptions(flags));
    this.stdout.write('Authentication Disabled\n');
  }
}
