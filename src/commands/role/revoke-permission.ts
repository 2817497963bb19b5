import { permissionRange, rangeFlags, rangeFlagSpecs, revokedText } from '../../cli/auth/permissions.js';
import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const revokeFlagSpecs = rangeFlagSpecs('revoke');

export default class RoleRevokePermission extends EtcdCommand {
  static override summary = 'Revokes a key from a role';
  static override description = `Revokes the permission granted for exactly this key or range (give the same
key, endkey, --prefix or --from-key as when it was granted); its type does not
matter.`;
  static override usage = 'role revoke-permission [options] <role name> <key> [endkey]';
  static override examples = [
    '<%= config.bin %> role revoke-permission app-reader --prefix app/',
    '<%= config.bin %> role revoke-permission archiver logs/2024 logs/2025',
  ];
  static override commandFlags = revokeFlagSpecs;
  static override flags = oclifFlags(revokeFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length < 2) throw badArgs('role revoke-permission command requires role name and key [endkey] as its argument');
    const role = args[0]!;
    const { key, rangeEnd } = permissionRange(args.slice(1), rangeFlags(flags));
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.auth.roleRevokePermission(role, key, rangeEnd, this.callOptions(flags));
    printer.authChange(revokedText(role, args[1]!, rangeEnd), response);
  }
}
