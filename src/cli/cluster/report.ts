import type { FlagSpec } from '../flags/flag-spec.js';
import { clientUrl, defaultClusterDir, peerUrl, type ClusterFolder, type ClusterLayout } from './layout.js';
import type { MemberStatus } from './health.js';

/** The --data-dir every `cluster` command takes. */
export const clusterDirFlag: FlagSpec = { name: 'data-dir', kind: 'string', defaultText: defaultClusterDir, description: 'the cluster\'s folder: cluster.json, the members\' data, logs and pids, and its certificates' };

export interface MemberRow {
  status: MemberStatus;
  pid: number | undefined;
}

/** The member table: NAME, CLIENT URL, PEER URL, PID, STATUS, LEADER (a * marks it), aligned for reading. */
export function memberTable(layout: ClusterLayout, rows: MemberRow[]): string {
  const header = ['NAME', 'CLIENT URL', 'PEER URL', 'PID', 'STATUS', 'LEADER'];
  const cells = rows.map(({ status, pid }) => [
    status.member.name,
    clientUrl(layout, status.member),
    peerUrl(layout, status.member),
    pid === undefined ? '-' : String(pid),
    pid === undefined ? 'stopped' : status.answered ? `running, revision ${status.revision}` : 'not answering',
    status.isLeader ? '*' : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  return [header, ...cells].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/**
 * The shell lines that point etcdctl and etcdts at the cluster: the
 * endpoints, and with TLS the CA and the client certificate. Paths are
 * quoted for the shell.
 */
export function exportLines(folder: ClusterFolder, layout: ClusterLayout): string {
  const lines = [`export ETCDCTL_ENDPOINTS=${layout.members.map((m) => clientUrl(layout, m)).join(',')}`];
  if (layout.tls) {
    const t = folder.tls;
    lines.push(`export ETCDCTL_CACERT=${shellQuote(t.ca)} ETCDCTL_CERT=${shellQuote(t.clientCert)} ETCDCTL_KEY=${shellQuote(t.clientKey)}`);
  }
  return lines.join('\n') + '\n';
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
