import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { leaseIdFromArg } from '../../cli/coordination/lease-id.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const timeToLiveFlagSpecs: readonly FlagSpec[] = [
  { name: 'keys', kind: 'bool', defaultText: 'false', description: 'Get keys attached to this lease' },
];

export default class LeaseTimeToLive extends EtcdCommand {
  static override summary = 'Get lease information';
  static override description = `Prints a lease's granted and remaining TTL, and with --keys the keys attached to it.

A lease that does not exist (never granted, expired or revoked) prints
"lease <id> already expired" and exits 0, as etcdctl does.`;
  static override usage = 'lease timetolive <leaseID> [options]';
  static override examples = [
    '<%= config.bin %> lease timetolive 694d7a3b4e8e5e0d',
    '<%= config.bin %> lease timetolive 694d7a3b4e8e5e0d --keys -w json',
  ];
  static override commandFlags = timeToLiveFlagSpecs;
  static override flags = oclifFlags(timeToLiveFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('lease timetolive command needs lease ID as argument');
    const id = leaseIdFromArg(args[0]!);
    const keys = flags.bool('keys');
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    let response;
    try {
      response = await client.lease.timeToLive(id, { ...this.callOptions(flags), keys });
    } catch (err) {
      throw new CliError((err as Error).message, ExitCode.badConnection);
    }
    printer.leaseTimeToLive(response, keys);
  }
}
