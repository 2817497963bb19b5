import { readFileSync } from 'node:fs';
import type { ClientOptions } from '../../client/options.js';
import { withEndpoint } from '../admin/endpoint-clients.js';
import { clientUrl, type ClusterFolder, type ClusterLayout, type MemberLayout } from './layout.js';

/**
 * What a local cluster's members say about themselves: each one is asked on
 * its own client URL (Maintenance.Status), so a stopped member is one row,
 * not a failed command.
 */
export const memberStatusTimeoutMs = 1000;

export interface MemberStatus {
  member: MemberLayout;
  url: string;
  /** Reachable and answering; then whether it is the leader and the leader it knows. */
  answered: boolean;
  isLeader: boolean;
  leader: bigint;
  revision: bigint;
  error?: string;
}

/** Client options for talking to the cluster's members (its CA and client certificate with --tls). */
export function clusterClientOptions(folder: ClusterFolder, layout: ClusterLayout): Omit<ClientOptions, 'endpoints'> {
  if (!layout.tls) return {};
  const t = folder.tls;
  return { tls: { ca: readFileSync(t.ca), cert: readFileSync(t.clientCert), key: readFileSync(t.clientKey) } };
}

export async function memberStatuses(folder: ClusterFolder, layout: ClusterLayout): Promise<MemberStatus[]> {
  const options: ClientOptions = { ...clusterClientOptions(folder, layout), endpoints: [] };
  return Promise.all(layout.members.map(async (member): Promise<MemberStatus> => {
    const url = clientUrl(layout, member);
    try {
      const status = await withEndpoint(options, url, (c) => c.maintenance.status({ timeoutMs: memberStatusTimeoutMs }));
      const id = status.header?.memberId ?? 0n;
      return { member, url, answered: true, isLeader: status.leader !== 0n && status.leader === id, leader: status.leader, revision: status.header?.revision ?? 0n };
    } catch (err) {
      return { member, url, answered: false, isLeader: false, leader: 0n, revision: 0n, error: (err as Error).message };
    }
  }));
}

/**
 * Healthy: every member given answers and all of them name the same
 * leader, one of them, which has answered a linearizable read.
 */
export async function clusterHealthy(folder: ClusterFolder, layout: ClusterLayout, statuses: MemberStatus[]): Promise<boolean> {
  if (statuses.some((s) => !s.answered || s.leader === 0n || s.leader !== statuses[0]!.leader)) return false;
  const leader = statuses.find((s) => s.isLeader);
  if (leader === undefined) return false;
  const options: ClientOptions = { ...clusterClientOptions(folder, layout), endpoints: [] };
  return withEndpoint(options, leader.url, (c) => c.kv.get('health', { timeoutMs: memberStatusTimeoutMs })).then(() => true, () => false);
}

export const clusterWaitPollMs = 200;

/**
 * Polls the members until `ready` says so; gives up at the deadline, or at
 * once when a member it started has exited (its log says why). Resolves
 * with the last statuses and whether they were ready.
 */
export async function waitForMembers(
  folder: ClusterFolder,
  layout: ClusterLayout,
  timeoutMs: number,
  ready: (statuses: MemberStatus[]) => Promise<boolean>,
  exited: () => string | undefined,
): Promise<{ ok: boolean; statuses: MemberStatus[]; exitedMember?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await memberStatuses(folder, layout);
    if (await ready(statuses)) return { ok: true, statuses };
    const gone = exited();
    if (gone !== undefined) return { ok: false, statuses, exitedMember: gone };
    if (Date.now() > deadline) return { ok: false, statuses };
    await new Promise((r) => setTimeout(r, clusterWaitPollMs));
  }
}
