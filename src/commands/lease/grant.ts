import { EtcdCommand } from '../../cli/base-command.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { goParseInt } from '../../cli/go/strconv.js';

export default class LeaseGrant extends EtcdCommand {
  static override summary = 'Creates leases';
  static override description = `Creates a lease with the given TTL in seconds and prints its ID in hex.

The server raises a TTL below its minimum (1.5 election timeouts, 2 s with
the default flags) to that minimum; the TTL printed is the one granted.`;
  static override usage = 'lease grant <ttl>';
  static override examples = [
    '<%= config.bin %> lease grant 60',
    'ID=$(<%= config.bin %> lease grant 60 | cut -d" " -f2) && <%= config.bin %> put --lease=$ID svc/me 10.0.0.1',
    '<%= config.bin %> lease grant 10 -w json',
  ];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('lease grant command needs TTL argument');
    let ttl: bigint;
    try {
      ttl = goParseInt(args[0]!, 10);
    } catch (err) {
      throw badArgs(`bad TTL (${(err as Error).message})`);
    }
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    let response;
    try {
      response = await client.lease.grant(ttl, this.callOptions(flags));
    } catch (err) {
      throw new CliError(`failed to grant lease (${(err as Error).message})`, ExitCode.error);
    }
    printer.leaseGrant(response);
  }
}
