import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { CoordinationError, CoordinationExit } from '../../cli/coordination/exit-codes.js';
import { leaseIdFromArg } from '../../cli/coordination/lease-id.js';
import { onStopSignal } from '../../cli/coordination/signals.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { leaseIdHex } from '../../cli/printers/simple.js';

const keepAliveFlagSpecs: readonly FlagSpec[] = [
  { name: 'once', kind: 'bool', defaultText: 'false', description: 'Resets the keep-alive time to its original value and exits immediately' },
];

export default class LeaseKeepAlive extends EtcdCommand {
  static override summary = 'Keeps leases alive (renew)';
  static override description = `Renews a lease every third of its TTL and prints each renewal, until interrupted
(SIGINT/SIGTERM: exit 0) or until the lease is lost.

When the lease is lost, the simple output ends with etcdctl's "lease <id> expired or revoked."
line, and the command exits with code 125 (etcdctl exits 0, which hides the loss from scripts).
Lost means: the server answered that the lease no longer exists, or no renewal was confirmed
before the lease's TTL ran out (the cluster was unreachable), so it must be assumed expired.`;
  static override usage = 'lease keep-alive [options] <leaseID>';
  static override examples = [
    '<%= config.bin %> lease keep-alive 694d7a3b4e8e5e0d',
    '<%= config.bin %> lease keep-alive --once 694d7a3b4e8e5e0d',
    '<%= config.bin %> lease keep-alive 694d7a3b4e8e5e0d || echo "lease lost, stop serving"',
  ];
  static override commandFlags = keepAliveFlagSpecs;
  static override flags = oclifFlags(keepAliveFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('lease keep-alive command needs lease ID as argument');
    const id = leaseIdFromArg(args[0]!);
    const printer = await this.printer(flags);
    const client = await this.connect(flags);
    if (flags.bool('once')) {
      let response;
      try {
        response = await client.lease.keepAliveOnce(id, this.callOptions(flags));
      } catch (err) {
        throw new CliError((err as Error).message, ExitCode.badConnection);
      }
      printer.leaseKeepAlive(response);
      return;
    }
    const keepAlive = client.lease.keepAlive(id);
    const dispose = onStopSignal(() => keepAlive.close());
    try {
      for await (const response of keepAlive) {
        printer.leaseKeepAlive(response);
        this.stdout.flush();
      }
    } finally {
      dispose();
    }
    const end = await keepAlive.done;
    if (end.reason === 'closed') return;
    if (printer.format === 'simple') this.stdout.write(`lease ${leaseIdHex(id)} expired or revoked.\n`);
    const why = end.reason === 'expired' ? 'expired or was revoked' : 'could not be renewed before its TTL ran out (no answer from the cluster)';
    throw new CoordinationError(`lease ${leaseIdHex(id)} ${why}`, CoordinationExit.lost);
  }
}
