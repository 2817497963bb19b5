import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { adminClientOptions, clusterFlagSpec, endpointsFromCluster, errorText, exitQuietly, withEndpoint } from '../../cli/admin/endpoint-clients.js';
import type { EndpointStatus } from '../../cli/admin/reports.js';
import { ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const statusFlagSpecs: readonly FlagSpec[] = [clusterFlagSpec];

export default class EndpointStatusCommand extends EtcdCommand {
  static override summary = 'Prints out the status of endpoints specified in `--endpoints` flag';
  static override description = `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.`;
  static override usage = 'endpoint status [options]';
  static override examples = ['<%= config.bin %> endpoint status --cluster -w table', '<%= config.bin %> endpoint status --endpoints=10.0.0.1:2379,10.0.0.2:2379 -w json'];
  static override commandFlags = statusFlagSpecs;
  static override flags = oclifFlags(statusFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const printer = await this.printer(flags);
    const options = await adminClientOptions(flags);
    const { timeoutMs } = this.callOptions(flags);
    const statuses: EndpointStatus[] = [];
    let failed = false;
    for (const endpoint of await endpointsFromCluster(flags, options, timeoutMs)) {
      try {
        const status = await withEndpoint(options, endpoint, (c) => c.maintenance.status({ timeoutMs }));
        statuses.push({ endpoint, status });
      } catch (err) {
        failed = true;
        this.stderr.write(`Failed to get the status of endpoint ${endpoint} (${errorText(err)})\n`);
      }
    }
    printer.endpointStatus(statuses);
    // etcdctl exits 1 here without an "Error:" line: the failures are already printed.
    if (failed) exitQuietly(ExitCode.error);
  }
}

