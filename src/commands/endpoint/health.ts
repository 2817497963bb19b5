import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { adminClientOptions, clusterFlagSpec, endpointsFromCluster, endpointClient, errorText } from '../../cli/admin/endpoint-clients.js';
import { alarmTypeName } from '../../cli/admin/go-format.js';
import type { EndpointHealth } from '../../cli/admin/reports.js';
import { CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { goFormatDuration } from '../../cli/go/duration.js';
import type { Client } from '../../client/client.js';
import type { ClientOptions } from '../../client/options.js';
import { PermissionDeniedError } from '../../client/errors.js';
import { AlarmRequest_AlarmAction, AlarmType } from '../../proto/gen/etcdserverpb/rpc.js';

const healthFlagSpecs: readonly FlagSpec[] = [clusterFlagSpec];

export default class EndpointHealthCommand extends EtcdCommand {
  static override summary = 'Checks the healthiness of endpoints specified in `--endpoints` flag';
  static override description = `An endpoint is healthy when a linearizable read goes through consensus on it
("permission denied" counts: the request still went through Raft) and, stricter
than etcdctl 3.4 and like etcd's own /health check and etcdctl 3.5, when the
cluster has no active alarm: a NOSPACE alarm makes every endpoint unhealthy
("Active Alarm(s): NOSPACE"). Exits 1 when any endpoint is unhealthy.`;
  static override usage = 'endpoint health [options]';
  static override examples = ['<%= config.bin %> endpoint health --cluster', '<%= config.bin %> endpoint health -w table'];
  static override commandFlags = healthFlagSpecs;
  static override flags = oclifFlags(healthFlagSpecs);

  protected async execute(_args: string[], flags: ParsedFlags): Promise<void> {
    const printer = await this.printer(flags);
    const options = await adminClientOptions(flags);
    const { timeoutMs } = this.callOptions(flags);
    const endpoints = await endpointsFromCluster(flags, options, timeoutMs);
    const list = await Promise.all(endpoints.map((endpoint) => checkHealth(options, endpoint, timeoutMs)));
    printer.endpointHealth(list, this.stderr);
    if (list.some((h) => h.error !== '')) throw new CliError('unhealthy cluster', ExitCode.error);
  }
}

/** etcdctl's health check of one endpoint, plus the alarm check of etcd's /health (and etcdctl 3.5). */
async function checkHealth(options: ClientOptions, endpoint: string, timeoutMs: number | undefined): Promise<EndpointHealth> {
  const client = await endpointClient(options, endpoint);
  const started = process.hrtime.bigint();
  const health: EndpointHealth = { endpoint, health: false, took: '', error: '' };
  try {
    try {
      await client.kv.get('health', { timeoutMs });
      health.health = true;
    } catch (err) {
      // Permission denied still means the request went through consensus.
      if (err instanceof PermissionDeniedError) health.health = true;
      else health.error = errorText(err);
    }
    health.took = goFormatDuration(process.hrtime.bigint() - started);
    if (health.health) await checkAlarms(client, health, timeoutMs);
  } finally {
    client.close();
  }
  return health;
}

async function checkAlarms(client: Client, health: EndpointHealth, timeoutMs: number | undefined): Promise<void> {
  try {
    const { alarms } = await client.maintenance.alarm({ action: AlarmRequest_AlarmAction.GET }, { timeoutMs });
    if (alarms.length === 0) return;
    health.health = false;
    health.error = `Active Alarm(s): ${alarms.map((a) => `${a.alarm === AlarmType.NOSPACE || a.alarm === AlarmType.CORRUPT ? alarmTypeName(a.alarm) : 'UNKNOWN'} `).join('')}`;
  } catch {
    health.health = false;
    health.error = 'Unable to fetch the alarm list';
  }
}
