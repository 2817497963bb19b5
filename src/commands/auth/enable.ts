import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { RootRoleNotExistError } from '../../client/errors.js';

/**
 * Rounds of "create the root role, grant it, enable again". One is enough;
 * the bound only stops a server that keeps answering "root user does not
 * have root role" after the grant succeeded.
 */
const enableAttemptsMax = 3;

export default class AuthEnable extends EtcdCommand {
  static override summary = 'Enables authentication';
  static override description = `Turns authentication on: from then on every request needs a user (--user, or a
client certificate under --client-cert-auth), and only the root role may
administer users, roles and the cluster.

The root user must exist first (user add root). When it does not have the root
role yet, the root role is created and granted to it, as etcdctl does. Prints
"Authentication Enabled" whatever the output format.`;
  static override usage = 'auth enable';
  static override examples = [
    '<%= config.bin %> user add root --new-user-password "$ROOT_PASSWORD" && <%= config.bin %> auth enable',
    '<%= config.bin %> auth enable --user root:"$ROOT_PASSWORD"',
  ];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('auth enable command does not accept any arguments');
    await this.printer(flags);
    const client = await this.connect(flags);
    const options = this.callOptions(flags);
    for (let attempt = 1; ; attempt++) {
      try {
        await client.auth.authEnable(options);
        break;
      } catch (err) {
        if (!(err instanceof RootRoleNotExistError) || attempt >= enableAttemptsMax) throw err;
        await client.auth.roleAdd('root', options);
        await client.auth.userGrantRole('root', 'root', options);
      }
    }
    this.stdout.write('Authentication Enabled\n');
  }
}
