import { EtcdCommand, oclifFlags } from '../cli/base-command.js';
import { adminClientOptions, clusterFlagSpec, endpointsFromCluster, errorText, exitQuietly, withEndpoint } from '../cli/admin/endpoint-clients.js';
import { CliError, ExitCode } from '../cli/errors.js';
import { confirmOrStop, yesFlagSpec } from '../cli/confirm.js';
import type { FlagSpec } from '../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import type { ClientOptions } from '../client/options.js';

const defragFlagSpecs: readonly FlagSpec[] = [
  clusterFlagSpec,
  yesFlagSpec,
  { name: 'data-dir', kind: 'string', defaultText: '', description: 'Optional. If present, defragments a data directory not in use by etcd. (not supported by etcdts)' },
];

export default class Defrag extends EtcdCommand {
  static override summary = 'Defragments the storage of the etcd members with given endpoints';
  static override description = `Rewrites each member's database without its free pages, one member at a time
(run a compaction first: it is what frees the pages). With --cluster every member
of the member list is defragmented, followers first and the leader last, so the
leader is busy for the shortest time and only once. --cluster asks for confirmation
first on a terminal, unless --yes.`;
  static override usage = 'defrag [options]';
  static override examples = ['<%= config.bin %> defrag --cluster', '<%= config.bin %> defrag --endpoints=10.0.0.1:2379'];
  static override commandFlags = defragFlagSpecs;
  static override flags = oclifFlags(defragFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    if (flags.string('data-dir') !== '') {
      throw new CliError('defrag --data-dir is not supported: etcdts defragments a running member (omit --data-dir)', ExitCode.badFeature);
    }
    await this.printer(flags);
    const options = await adminClientOptions(flags);
    const { timeoutMs } = this.callOptions(flags);
    let endpoints = await endpointsFromCluster(flags, options, timeoutMs);
    if (flags.bool('cluster')) {
      endpoints = await leaderLast(endpoints, options, timeoutMs);
      await confirmOrStop(flags, `Defragment all ${endpoints.length} members (${endpoints.join(', ')}), one after another? Each stalls while its database is rewritten.`, 'nothing was defragmented');
    }
    let failures = 0;
    for (const endpoint of endpoints) {
      try {
        await withEndpoint(options, endpoint, (c) => c.maintenance.defragment({ timeoutMs }));
        this.stdout.write(`Finished defragmenting etcd member[${endpoint}]\n`);
      } catch (err) {
        failures++;
        this.stderr.write(`Failed to defragment etcd member[${endpoint}] (${errorText(err)})\n`);
      }
      this.stdout.flush();
      this.stderr.flush();
    }
    if (failures !== 0) exitQuietly(ExitCode.error);
  }
}

/**
 * The endpoints with the leader's moved to the end, the others in their
 * order. An endpoint whose status cannot be read stays where it is: the
 * defragmentation itself will report it.
 */
async function leaderLast(endpoints: string[], options: ClientOptions, timeoutMs: number | undefined): Promise<string[]> {
  const isLeader = await Promise.all(
    endpoints.map((endpoint) =>
      withEndpoint(options, endpoint, async (c) => {
        const status = await c.maintenance.status({ timeoutMs });
        return status.header !== undefined && status.leader === status.header.memberId;
      }).catch(() => false),
    ),
  );
  return [...endpoints.filter((_, i) => !isLeader[i]), ...endpoints.filter((_, i) => isLeader[i])];
}
