import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { CliError, ExitCode } from '../../cli/errors.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import { nanosToMs } from '../../cli/global-flags.js';
import { ClusterFolder, newLayout } from '../../cli/cluster/layout.js';
import { choosePorts } from '../../cli/cluster/members.js';
import { clusterDirFlag, exportLines, memberTable } from '../../cli/cluster/report.js';
import { startAndWait } from '../../cli/cluster/start.js';
import { makeClusterCertificates } from '../../cli/cluster/tls.js';

export const clusterMembersMax = 9;

const upFlagSpecs: readonly FlagSpec[] = [
  { name: 'members', kind: 'int64', defaultText: '3', description: `number of members of a new cluster (1 to ${clusterMembersMax})` },
  clusterDirFlag,
  { name: 'tls', kind: 'bool', defaultText: 'false', description: 'serve clients and peers over TLS, with a CA and certificates made for this cluster (in <data-dir>/tls)' },
  { name: 'base-port', kind: 'int64', defaultText: '0', description: 'member i (from 0) listens for clients on base-port+2i and for peers on base-port+2i+1 (default: free ports)' },
  { name: 'wait-timeout', kind: 'duration', defaultText: '30s', description: 'how long to wait for the cluster to be healthy' },
];

export default class ClusterUp extends EtcdCommand {
  static override summary = 'Starts a local cluster of etcdts members on loopback, for trying things out';
  static override description = `Starts --members real \`etcdts server\` processes on 127.0.0.1, each in the background
(they keep running after this command ends), with their data, logs and pids under
--data-dir, waits until the cluster is healthy, and prints the member table on stderr
and the lines that point etcdctl and etcdts at the cluster on stdout, so that
  eval "$(etcdts cluster up)"
sets ETCDCTL_ENDPOINTS (and with --tls ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY).

On a folder that holds a cluster already, starts its members that are not running,
with their data and ports (--members, --tls and --base-port then do not apply).
Stop the cluster with \`cluster down\`; try failover with \`cluster kill\` and \`cluster start\`.`;
  static override usage = 'cluster up [--members 3] [--data-dir ./cluster] [--tls] [--base-port N]';
  static override examples = [
    'eval "$(<%= config.bin %> cluster up)"',
    '<%= config.bin %> cluster up --members 5 --data-dir /tmp/demo --tls',
    '<%= config.bin %> cluster up --base-port 2379   # m1 on 2379/2380, m2 on 2381/2382, m3 on 2383/2384',
  ];
  static override commandFlags = upFlagSpecs;
  static override flags = oclifFlags(upFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 0) throw new CliError('cluster up takes no arguments', ExitCode.badArgs);
    const folder = new ClusterFolder(flags.string('data-dir'));
    let layout;
    if (folder.exists()) {
      layout = folder.read();
      const ignored = ['members', 'tls', 'base-port'].filter((f) => flags.changed.has(f));
      this.stderr.write(`Restarting the cluster in ${folder.root}${ignored.length > 0 ? ` (as it was made: ${ignored.map((f) => `--${f}`).join(', ')} ignored)` : ''}\n`);
    } else {
      const members = Number(flags.bigint('members'));
      if (members < 1 || members > clusterMembersMax) throw new CliError(`--members must be between 1 and ${clusterMembersMax}, not ${members}`, ExitCode.badArgs);
      const basePort = Number(flags.bigint('base-port'));
      if (basePort < 0 || basePort + 2 * members > 65536) throw new CliError(`--base-port ${basePort} leaves no room for ${members} members`, ExitCode.badArgs);
      layout = newLayout(await choosePorts(members, basePort === 0 ? undefined : basePort), flags.bool('tls'));
      if (layout.tls) await makeClusterCertificates(folder.tls);
      await folder.write(layout);
    }
    const timeoutMs = nanosToMs(flags.bigint('wait-timeout')) ?? 30_000;
    const rows = await startAndWait(folder, layout, layout.members, this.config.root, timeoutMs);
    this.stderr.write(memberTable(layout, rows));
    this.stdout.write(exportLines(folder, layout));
  }
}
