import { parsePermissionType, permissionRange, rangeFlags, rangeFlagSpecs } from '../../cli/auth/permissions.js';
import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { badArgs } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const grantFlagSpecs = rangeFlagSpecs('grant');

export default class RoleGrantPermission extends EtcdCommand {
  static override summary = 'Grants a key to a role';
  static override description = `Lets a role read, write or readwrite one key, the range [key, endkey), every key
with a prefix (--prefix) or every key from a key on (--from-key). The empty key
with --prefix or --from-key means every key.`;
  static override usage = 'role grant-permission [options] <role name> <permission type> <key> [endkey]';
  static override examples = [
    '<%= config.bin %> role grant-permission app-reader read --prefix app/',
    '<%= config.bin %> role grant-permission app-writer readwrite app/config',
    '<%= config.bin %> role grant-permission archiver read logs/2024 logs/2025',
    '<%= config.bin %> role grant-permission auditor read --prefix ""',
  ];
  static override commandFlags = grantFlagSpecs;
  static override flags = oclifFlags(grantFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length < 3) throw badArgs('role grant command requires role name, permission type, and key [endkey] as its argument');
    const role = args[0]!;
    const permType = parsePermissionType(args[1]!);
    const { key, rangeEnd } = permissionRange(args.slice(2), rangeFlags(flags));
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    const response = await client.auth.roleGrantPermission(role, permType, key, rangeEnd, this.callOptions(flags));
    printer.authChange(`Role ${role} updated`, response);
  }
}
