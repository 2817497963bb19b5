import { EtcdCommand } from '../cli/base-command.js';
import { adminClientOptions, endpointClient } from '../cli/admin/endpoint-clients.js';
import { badArgs, CliError, ExitCode } from '../cli/errors.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { goParseUint } from '../cli/go/strconv.js';
import type { Client } from '../client/client.js';

export default class MoveLeader extends EtcdCommand {
  static override summary = 'Transfers leadership to another etcd cluster member.';
  static override description = `Finds the leader among --endpoints (give them all, or the leader's) and asks it
to hand leadership to the member with the given hex ID.`;
  static override usage = 'move-leader <transferee-member-id>';
  static override examples = ['<%= config.bin %> move-leader 8211f1d0f64f3269 --endpoints=10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379'];

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('move-leader command needs 1 argument');
    let target: bigint;
    try {
      target = goParseUint(args[0]!, 16);
    } catch (err) {
      throw badArgs((err as Error).message);
    }
    const printer = await this.printer(flags);
    const options = await adminClientOptions(flags);
    const { timeoutMs } = this.callOptions(flags);
    const leader = await this.findLeader(options.endpoints, options, timeoutMs);
    try {
      const response = await leader.client.maintenance.moveLeader(target, { timeoutMs });
      printer.moveLeader(leader.id, target, response);
    } finally {
      leader.client.close();
    }
  }

  /** The first endpoint that says it is the leader; any failed status ends the command, as in etcdctl. */
  private async findLeader(endpoints: string[], options: Parameters<typeof endpointClient>[0], timeoutMs: number | undefined): Promise<{ client: Client; id: bigint }> {
    for (const endpoint of endpoints) {
      const client = await endpointClient(options, endpoint);
      let status;
      try {
        status = await client.maintenance.status({ timeoutMs });
      } catch (err) {
        client.close();
        throw err;
      }
      if (status.header !== undefined && status.header.memberId === status.leader) return { client, id: status.leader };
      client.close();
    }
    throw new CliError(`no leader endpoint given at [${endpoints.join(' ')}]`, ExitCode.badArgs);
  }
}
