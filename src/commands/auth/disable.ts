import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import { confirmOrStop, yesFlagSpec } from '../../cli/confirm.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class AuthDisable extends EtcdCommand {
  static override summary = 'Disables authentication';
  static override description = `Turns authentication off (needs the root role while it is on). Users, roles and
permissions are kept for the next auth enable. Prints "Authentication Disabled"
whatever the output format. On a terminal it asks for confirmation first, unless --yes.`;
  static override commandFlags = [yesFlagSpec];
  static override flags = oclifFlags([yesFlagSpec]);
  static override usage = 'auth disable';
  static override examples = ['<%= config.bin %> auth disable --user root', 'ETCDCTL_USER=root:"$ROOT_PASSWORD" <%= config.bin %> auth disable'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('auth disable command does not accept any arguments');
    await this.printer(flags);
    await confirmOrStop(flags, 'Disable authentication? Every client may then read and write every key.', 'authentication stays enabled');
    const client = await this.connect(flags);
    await client.auth.authDisable(this.callOptions(flags));
    this.stdout.write('Authentication Disabled\n');
  }
}
