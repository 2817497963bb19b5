import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { adminClientOptions, clusterFlagSpec, endpointsFromCluster, errorText, withEndpoint } from '../../cli/admin/endpoint-clients.js';
import type { EndpointHashKV } from '../../cli/admin/reports.js';
import { CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';

const hashKVFlagSpecs: readonly FlagSpec[] = [
  clusterFlagSpec,
  { name: 'rev', kind: 'int64', defaultText: '0', description: 'maximum revision to hash (default: all revisions)' },
];

export default class EndpointHashKVCommand extends EtcdCommand {
  static override summary = 'Prints the KV history hash for each endpoint in --endpoints';
  static override description = `Members that applied the same history report the same hash for the same revision;
a member whose hash differs has diverged (compare with --rev at one revision).`;
  static override usage = 'endpoint hashkv [options]';
  static override examples = ['<%= config.bin %> endpoint hashkv --cluster', '<%= config.bin %> endpoint hashkv --cluster --rev 1234 -w table'];
  static override commandFlags = hashKVFlagSpecs;
  static override flags = oclifFlags(hashKVFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const printer = await this.printer(flags);
    const options = await adminClientOptions(flags);
    const { timeoutMs } = this.callOptions(flags);
    const revision = flags.bigint('rev');
    const hashes: EndpointHashKV[] = [];
    let lastError: unknown;
    for (const endpoint of await endpointsFromCluster(flags, options, timeoutMs)) {
      try {
        hashes.push({ endpoint, hashKV: await withEndpoint(options, endpoint, (c) => c.maintenance.hashKV(revision, { timeoutMs })) });
      } catch (err) {
        lastError = err;
        this.stderr.write(`Failed to get the hash of endpoint ${endpoint} (${errorText(err)})\n`);
      }
    }
    printer.endpointHashKV(hashes);
    if (lastError !== undefined) throw new CliError(errorText(lastError), ExitCode.error);
  }
}
