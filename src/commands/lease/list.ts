import { EtcdCommand } from '../../cli/base-command.js';
import { CliError, ExitCode } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

export default class LeaseList extends EtcdCommand {
  static override summary = 'List all active leases';
  static override usage = 'lease list';
  static override examples = ['<%= config.bin %> lease list', '<%= config.bin %> lease list -w json'];

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    let response;
    try {
      response = await client.lease.leases(this.callOptions(flags));
    } catch (err) {
      throw new CliError((err as Error).message, ExitCode.badConnection);
    }
    printer.leaseLeases(response);
  }
}
