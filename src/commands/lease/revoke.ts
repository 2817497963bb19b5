import { EtcdCommand } from '../../cli/base-command.js';
import { leaseIdFromArg } from '../../cli/coordination/lease-id.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class LeaseRevoke extends EtcdCommand {
  static override summary = 'Revokes leases';
  static override description = 'Revokes a lease: every key attached to it is deleted, all in one revision.';
  static override usage = 'lease revoke <leaseID>';
  static override examples = ['<%= config.bin %> lease revoke 694d7a3b4e8e5e0d'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('lease revoke command needs 1 argument');
    const id = leaseIdFromArg(args[0]!);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    let response;
    try {
      response = await client.lease.revoke(id, this.callOptions(flags));
    } catch (err) {
      throw new CliError(`failed to revoke lease (${(err as Error).message})`, ExitCode.error);
    }
    printer.leaseRevoke(id, response);
  }
}
