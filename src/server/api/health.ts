import { AlarmType, RangeRequest, type AlarmMember } from '../../proto/gen/etcdserverpb/rpc.js';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../proto/gen/grpc/health/v1/health.js';
import type { AuthInfo } from '../auth/store.js';
import { rootUser } from '../auth/store.js';
import { wireErrorOf } from './grpc-errors.js';

/**
 * What a member's health is made of, for the probes that orchestrators and
 * load balancers use: etcd 3.4's /health, etcd 3.6's /livez and /readyz,
 * and the gRPC health service. Every check answers within
 * healthReadTimeoutMs; a check that fails says why, in etcd's words.
 *
 * The probes differ on purpose:
 * - /livez asks "is this process still able to serve at all?": a local
 *   (serializable) read. Nothing the cluster does, no alarm, makes it fail,
 *   so a liveness probe never restarts a member for a NOSPACE alarm (the
 *   crash loop of etcd#14497, k8s#96886).
 * - /readyz asks "should clients use this member now?": no CORRUPT alarm,
 *   a local read, a linearizable read (which needs a leader and a quorum),
 *   and, unlike etcd 3.6, no NOSPACE alarm (writes would fail); each check
 *   can be left out with ?exclude=<name>.
 * - /health is etcd 3.4's: false with any alarm (?exclude=NOSPACE), without
 *   a leader, or when a linearizable read does not complete in time
 *   (?serializable=true: a local read, leader or not).
 * - gRPC health answers SERVING when the member has a leader, no CORRUPT
 *   alarm and its linearizable reads complete. NOSPACE does not change it:
 *   the alarm is the same on every member, so a balancer could route nowhere
 *   better, and clients that honour the status would lose the very calls
 *   (compaction, defragmentation, alarm disarm) that clear it.
 */

/** How long a health read may take (etcd 3.4's /health gives its read one second). */
export const healthReadTimeoutMs = 1000;

/** The member as health checks see it; EtcdServer has all of it. */
export interface HealthSubject {
  readonly leaderId: bigint;
  readonly alarms: { get(): AlarmMember[] };
  readonly auth: { readonly enabled: boolean; readonly revision: bigint };
  range(r: RangeRequest, ai?: AuthInfo): Promise<unknown>;
}

/** A check: resolves when healthy, rejects with the reason otherwise. */
export type HealthCheck = () => Promise<void>;

/** The smallest read there is: one key, keys only, run as root so that auth never makes it fail. */
export function readCheck(member: HealthSubject, serializable: boolean): HealthCheck {
  return () => withTimeout(member.range(
    RangeRequest.fromPartial({ key: Buffer.from([0]), limit: 1n, keysOnly: true, serializable }),
    member.auth.enabled ? { username: rootUser, revision: member.auth.revision } : undefined,
  ));
}

export function alarmCheck(member: HealthSubject, type: AlarmType): HealthCheck {
  return async () => {
    if (member.alarms.get().some((a) => a.alarm === type)) throw new Error(`alarm activated: ${AlarmType[type]}`);
  };
}

export function leaderCheck(member: HealthSubject): HealthCheck {
  return async () => {
    if (member.leaderId === 0n) throw new Error('etcdserver: no leader');
  };
}

async function withTimeout(pending: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pending,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('etcdserver: request timed out')), healthReadTimeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failed check's reason, in etcd's words where the error has some. */
export function reasonOf(err: unknown): string {
  return wireErrorOf(err).message;
}

/** The checks of /livez and /readyz, in the order they run and print (etcd 3.6 plus no_space). */
export function probeChecks(member: HealthSubject): { livez: Map<string, HealthCheck>; readyz: Map<string, HealthCheck> } {
  return {
    livez: new Map([['serializable_read', readCheck(member, true)]]),
    readyz: new Map([
      ['data_corruption', alarmCheck(member, AlarmType.CORRUPT)],
      ['no_space', alarmCheck(member, AlarmType.NOSPACE)],
      ['serializable_read', readCheck(member, true)],
      ['linearizable_read', readCheck(member, false)],
    ]),
  };
}

export interface CheckResult {
  name: string;
  error?: string;
}

/** Runs checks one after another (the reads share the member; the order of the report is fixed). */
export async function runChecks(checks: Iterable<[string, HealthCheck]>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [name, check] of checks) {
    try {
      await check();
      results.push({ name });
    } catch (err) {
      results.push({ name, error: reasonOf(err) });
    }
  }
  return results;
}

/**
 * etcd 3.4's /health: alarms not excluded, then the leader (unless
 * serializable), then one read. Returns whether the member is healthy.
 */
export async function legacyHealth(member: HealthSubject, exclude: ReadonlySet<string>, serializable: boolean): Promise<boolean> {
  if (member.alarms.get().some((a) => !exclude.has(AlarmType[a.alarm] ?? String(a.alarm)))) return false;
  if (!serializable && member.leaderId === 0n) return false;
  try {
    await readCheck(member, serializable)();
    return true;
  } catch {
    return false;
  }
}

/** The checks behind the gRPC status (see the module comment), stopping at the first that fails. */
export async function servingStatus(member: HealthSubject): Promise<ServingStatus> {
  for (const check of [leaderCheck(member), alarmCheck(member, AlarmType.CORRUPT), readCheck(member, false)]) {
    try {
      await check();
    } catch {
      return ServingStatus.NOT_SERVING;
    }
  }
  return ServingStatus.SERVING;
}
