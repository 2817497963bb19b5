import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, ExitCode } from '../errors.js';
import { clusterHealthy, waitForMembers, type MemberStatus } from './health.js';
import type { ClusterFolder, ClusterLayout, MemberLayout } from './layout.js';
import { runningPid, startMember, stopMembers } from './members.js';
import type { MemberRow } from './report.js';

/**
 * Starts the given members of a cluster (those not running already) and
 * waits until the cluster is healthy with them. If it is not by the
 * deadline, or a member exits, the members started here are stopped again
 * and the error names the member and the last line of its log.
 */
export async function startAndWait(folder: ClusterFolder, layout: ClusterLayout, members: MemberLayout[], packageRoot: string, timeoutMs: number): Promise<MemberRow[]> {
  const runJs = join(packageRoot, 'bin', 'run.js');
  const started: string[] = [];
  for (const m of members) {
    if (runningPid(folder, m.name) !== undefined) continue;
    await startMember(folder, layout, m, runJs);
    started.push(m.name);
  }
  const exited = (): string | undefined => started.find((name) => runningPid(folder, name) === undefined);
  const ready = async (statuses: MemberStatus[]): Promise<boolean> => {
    const running = statuses.filter((s) => runningPid(folder, s.member.name) !== undefined);
    return running.length > 0 && clusterHealthy(folder, layout, running);
  };
  const result = await waitForMembers(folder, layout, timeoutMs, ready, exited);
  if (!result.ok) {
    await stopMembers(folder, started);
    const culprit = result.exitedMember ?? result.statuses.find((s) => !s.answered)?.member.name ?? started[0] ?? members[0]!.name;
    const log = folder.member(culprit).log;
    const why = result.exitedMember !== undefined ? `member ${culprit} exited` : `the cluster was not healthy within ${timeoutMs / 1000}s`;
    throw new CliError(`${why} (${lastLogLine(log)}); see ${log}`, ExitCode.error);
  }
  return result.statuses.map((status) => ({ status, pid: runningPid(folder, status.member.name) }));
}

/** The last line of a member's log, shortened: usually what went wrong. */
function lastLogLine(log: string): string {
  if (!existsSync(log)) return 'no log';
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  return last.length > 300 ? `${last.slice(0, 300)}...` : last || 'empty log';
}
