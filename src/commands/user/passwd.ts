import { interactiveFlagSpec, readNewPassword } from '../../cli/auth/ask-password.js';
import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const passwdFlagSpecs: readonly FlagSpec[] = [interactiveFlagSpec];

export default class UserPasswd extends EtcdCommand {
  static override summary = 'Changes password of user';
  static override description = `Sets a user's password. The new password is asked twice with a hidden prompt on
a terminal; when stdin is not a terminal it is read from stdin: two lines, or
one word with --interactive=false. The user's current tokens stay valid until
they expire.`;
  static override usage = 'user passwd <user name> [options]';
  static override examples = [
    '<%= config.bin %> user passwd alice --user root',
    'echo "$NEW_PW" | <%= config.bin %> user passwd alice --interactive=false --user root:"$ROOT_PW"',
  ];
  static override commandFlags = passwdFlagSpecs;
  static override flags = oclifFlags(passwdFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('user passwd command requires user name as its argument');
    const name = args[0]!;
    const password = await readNewPassword(name, flags.bool('interactive'));
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    printer.authChange('Password updated', await client.auth.userChangePassword(name, password, this.callOptions(flags)));
  }
}
