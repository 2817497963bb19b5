import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { EtcdCommand, oclifFlags } from '../../cli/base-command.js';
import { goHex } from '../../cli/admin/go-format.js';
import { checkOwnEntry, checkPeerUrls, parseInitialCluster } from '../../cli/admin/initial-cluster.js';
import { checkSnapshotKind, runOffline } from '../../cli/admin/offline-snapshot.js';
import { badArgs, CliError, ExitCode } from '../../cli/errors.js';
import { confirmed, yesFlagSpec } from '../../cli/confirm.js';
import type { FlagSpec } from '../../cli/flags/flag-spec.js';
import type { ParsedFlags } from '../../cli/flags/parser.js';
import type { RestoreOptions } from '../../server/snapshot/snapshot-file.js';

const defaultName = 'default';
const defaultPeerUrls = 'http://localhost:2380';

const restoreFlagSpecs: readonly FlagSpec[] = [
  { name: 'data-dir', kind: 'string', defaultText: '', description: 'Path to the data directory (default "<name>.etcd")' },
  { name: 'wal-dir', kind: 'string', defaultText: '', description: 'Path to the WAL directory (use --data-dir if none given)' },
  { name: 'initial-cluster', kind: 'string', defaultText: '', description: 'Initial cluster configuration for restore bootstrap (default "<name>=<initial-advertise-peer-urls>")' },
  { name: 'initial-cluster-token', kind: 'string', defaultText: 'etcd-cluster', description: 'Initial cluster token for the etcd cluster during restore bootstrap' },
  { name: 'initial-advertise-peer-urls', kind: 'string', defaultText: defaultPeerUrls, description: "List of this member's peer URLs to advertise to the rest of the cluster" },
  { name: 'name', kind: 'string', defaultText: defaultName, description: 'Human-readable name for this member' },
  { name: 'skip-hash-check', kind: 'bool', defaultText: 'false', description: 'Ignore snapshot integrity hash value (required if copied from data directory)' },
  { ...yesFlagSpec, description: 'replace a data dir that is not empty without asking' },
];

export default class SnapshotRestore extends EtcdCommand {
  static override summary = '(offline) Restores an etcd member snapshot to an etcd directory';
  static override description = `Offline: reads a snapshot file and writes a new data directory; no server is contacted.

Builds the data dir of one member of a NEW cluster from the snapshot, an etcdts one
or an etcd one (as \`etcdctl snapshot save\` writes them against etcd 3.4 or 3.5; its
SHA-256 is checked and its bbolt database converted): every key with its revisions,
leases, users and roles come from the file; the membership and the
cluster identity come from the flags. Restore every member of the new cluster
from the same file with the same --initial-cluster and --initial-cluster-token,
then start each with those flags. A data dir that is not empty is refused, as etcdctl
does, unless a person at a terminal confirms replacing it (or --yes is given): the
restore is written next to it and swapped in once whole.
Prints where the data went on stderr.`;
  static override usage = 'snapshot restore <filename> [options]';
  static override examples = [
    '<%= config.bin %> snapshot restore backup.db --data-dir /var/lib/etcd/m1.etcd',
    `<%= config.bin %> snapshot restore backup.db --name m1 --data-dir m1.etcd \\
  --initial-cluster m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m3=http://10.0.0.3:2380 \\
  --initial-cluster-token restored-1 --initial-advertise-peer-urls http://10.0.0.1:2380`,
  ];
  static override commandFlags = restoreFlagSpecs;
  static override flags = oclifFlags(restoreFlagSpecs);

  protected async execute(args: string[], flags: ParsedFlags): Promise<void> {
    if (args.length !== 1) throw badArgs('snapshot restore requires exactly one argument');
    const options = restoreOptionsFromFlags(args[0]!, flags);
    const walDir = flags.string('wal-dir');
    if (!existsSync(options.snapshotPath)) throw new CliError(`open ${options.snapshotPath}: no such file or directory`, ExitCode.error);
    if (walDir !== '' && nonEmpty(walDir)) throw new CliError(`wal-dir "${walDir}" exists`, ExitCode.error);
    if (nonEmpty(options.dataDir)) {
      const question = `data-dir "${options.dataDir}" is not empty: replace what is in it with the restored snapshot?`;
      if (!(await confirmed(flags, question, false))) throw new CliError(`data-dir "${options.dataDir}" exists`, ExitCode.error);
      options.replaceExisting = true;
    }
    if (flags.string('data-dir') === '') this.stderr.write(`No --data-dir given: restoring into ${resolve(options.dataDir)} (the default, <name>.etcd)\n`);
    await checkSnapshotKind(options.snapshotPath);
    const result = await runOffline({ kind: 'restore', options }).catch(async (err: unknown) => {
      // A reader that crashed cannot clean up its staging dir (restoreSnapshot's "<data-dir>.restore-tmp").
      await rm(`${options.dataDir.replace(/\/+$/, '')}.restore-tmp`, { recursive: true, force: true });
      throw err;
    });
    if (walDir !== '') await moveWal(options.dataDir, walDir);
    const wal = walDir === '' ? '' : ` (WAL in ${resolve(walDir)})`;
    const kind = result.format === 'etcd' ? ' (an etcd snapshot)' : '';
    if (result.skippedBuckets.length > 0) this.stderr.write(`Left out buckets etcdts keeps nothing of: ${result.skippedBuckets.join(', ')}\n`);
    this.stderr.write(
      `Restored ${options.snapshotPath}${kind} at revision ${result.revision} into ${resolve(options.dataDir)}${wal}: ` +
        `member ${goHex(result.memberId)} "${options.name}" of new cluster ${goHex(result.clusterId)}\n`,
    );
  }
}

/** The restore's settings, checked the way etcd checks a member's bootstrap flags. */
function restoreOptionsFromFlags(snapshotPath: string, flags: ParsedFlags): RestoreOptions {
  const name = flags.string('name');
  const advertise = flags.string('initial-advertise-peer-urls').split(',');
  checkPeerUrls(advertise);
  // etcdctl's default --initial-cluster is "default=http://localhost:2380" whatever --name says,
  // which fails for any other name; the member's own entry is the only sensible default.
  const clusterText = flags.changed.has('initial-cluster') ? flags.string('initial-cluster') : advertise.map((u) => `${name}=${u}`).join(',');
  const initialCluster = parseInitialCluster(clusterText);
  checkOwnEntry(initialCluster, name, advertise);
  const walDir = flags.string('wal-dir');
  return {
    snapshotPath,
    dataDir: flags.string('data-dir') === '' ? `${name}.etcd` : flags.string('data-dir'),
    walDir: walDir === '' ? undefined : walDir,
    name,
    initialCluster,
    initialClusterToken: flags.string('initial-cluster-token'),
    initialAdvertisePeerUrls: [...advertise].sort(),
    skipHashCheck: flags.bool('skip-hash-check'),
  };
}

function nonEmpty(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}

/**
 * Puts the WAL where --wal-dir says when the restore wrote it inside the
 * data dir (the server reads it from --wal-dir, given the same flag).
 */
async function moveWal(dataDir: string, walDir: string): Promise<void> {
  const written = join(dataDir, 'member', 'wal');
  if (!existsSync(written) || resolve(written) === resolve(walDir)) return;
  await mkdir(dirname(resolve(walDir)), { recursive: true });
  await rm(walDir, { recursive: true, force: true });
  try {
    await rename(written, walDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await cp(written, walDir, { recursive: true });
    await rm(written, { recursive: true, force: true });
  }
}
