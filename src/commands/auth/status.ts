import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class AuthStatus extends EtcdCommand {
  static override summary = 'Returns authentication status';
  static override description = `Prints whether authentication is enabled and the revision of the auth store,
which every change to users, roles and permissions increments (etcdctl 3.5's
"auth status"; etcd 3.4 has no AuthStatus call and answers Unimplemented).`;
  static override usage = 'auth status';
  static override examples = ['<%= config.bin %> auth status', '<%= config.bin %> auth status -w json'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw badArgs('auth status command does not accept any arguments');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authStatus(await client.auth.authStatus(this.callOptions(flags)));
  }
}
