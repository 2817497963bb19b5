import { interactiveFlagSpec, readNewPassword } from '../../cli/auth/ask-password.js';
import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const userAddFlagSpecs: readonly FlagSpec[] = [
  interactiveFlagSpec,
  { name: 'new-user-password', kind: 'string', defaultText: '', description: 'Supply password from the command line flag' },
  { name: 'no-password', kind: 'bool', defaultText: 'false', description: 'Create a user without password (CN based auth only)' },
];

export default class UserAdd extends EtcdCommand {
  static override summary = 'Adds a new user';
  static override description = `Adds a user. The password comes from "name:password", from --new-user-password,
or is asked for: twice with a hidden prompt on a terminal; when stdin is not a
terminal, two lines of stdin (etcdctl's prompts read them there too), or one
word of stdin with --interactive=false. A user made with --no-password can only
authenticate with a client certificate whose common name is its name.

Arguments on the command line are visible to other users of the machine (ps):
prefer the prompt or stdin for real passwords.`;
  static override usage = 'user add <user name or user:password> [options]';
  static override examples = [
    '<%= config.bin %> user add alice',
    'printf "%s\\n%s\\n" "$PW" "$PW" | <%= config.bin %> user add alice',
    'echo "$PW" | <%= config.bin %> user add alice --interactive=false',
    '<%= config.bin %> user add build-agent --no-password',
  ];
  static override commandFlags = userAddFlagSpecs;
  static override flags = oclifFlags(userAddFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('user add command requires user name as its argument');
    const noPassword = flags.bool('no-password');
    const { user, password } = noPassword ? { user: args[0]!, password: '' } : await userAndPassword(args[0]!, flags);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.auth.userAdd(user, password, { ...this.callOptions(flags), noPassword });
    printer.authChange(`User ${user} created`, response);
  }
}

/** etcdctl's order: --new-user-password (the whole argument is the name), else "name:password", else ask. */
async function userAndPassword(arg: string, flags: ParsedFlags): Promise<{ user: string; password: string }> {
  const fromFlag = flags.string('new-user-password');
  if (fromFlag !== '') return { user: arg, password: fromFlag };
  const colon = arg.indexOf(':');
  if (colon < 0) return { user: arg, password: await readNewPassword(arg, flags.bool('interactive')) };
  if (colon === 0) throw badArgs('empty user name is not allowed');
  return { user: arg.slice(0, colon), password: arg.slice(colon + 1) };
}
