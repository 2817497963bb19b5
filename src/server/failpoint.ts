/**
 * Named failpoints at the crash-sensitive seams (reliability-anchors §8): the
 * same places etcd marks with gofail (raftBeforeSave, raftAfterSave,
 * beforeCommit, afterCommit, applyBeforeCommit, ...). They are compiled in and
 * inert unless the environment variable ETCDTS_FAILPOINTS names them:
 *
 *   ETCDTS_FAILPOINTS='raftAfterSave=panic;beforeCommit=sleep(200)'
 *
 * Actions: `panic` (the process kills itself with SIGKILL, as a crash would:
 * no cleanup, no flushing), `sleep(ms)` (a delay: at a `failpoint()` seam a
 * synchronous busy wait that stalls the whole process, at an awaited
 * `failpointAsync()` seam a timer that stalls only that path, as a slow
 * fsync stalls only its caller), `error` (the seam throws an injected
 * error), and an optional count prefix `N*action` to fire only N times.
 *
 * A running member can be armed from outside, as etcd's gofail allows with
 * GOFAIL_HTTP: with ETCDTS_FAILPOINTS_HTTP=127.0.0.1:port set, `PUT /name`
 * with the action as body arms a failpoint, `DELETE /name` disarms it, and
 * `GET /` lists what is armed (failpoint-http.ts). The robustness runner uses
 * it to fire a failpoint once, on the member it chose, after traffic began.
 */

export type FailpointAction =
  | { kind: 'panic' }
  | { kind: 'sleep'; ms: number }
  | { kind: 'error' };

interface Armed {
  action: FailpointAction;
  /** Remaining times to fire; Infinity when unlimited. */
  remaining: number;
}

const armed = new Map<string, Armed>();

export class FailpointError extends Error {
  constructor(readonly failpoint: string) {
    super(`failpoint ${failpoint} fired`);
  }
}

/** Parses a failpoint spec like `raftAfterSave=panic;beforeCommit=2*sleep(50)`. */
export function parseFailpoints(spec: string): Map<string, Armed> {
  const parsed = new Map<string, Armed>();
  for (const part of spec.split(/[;,]/)) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`bad failpoint spec "${item}": want name=action`);
    const name = item.slice(0, eq).trim();
    let action = item.slice(eq + 1).trim();
    let remaining = Infinity;
    const counted = /^(\d+)\*(.*)$/.exec(action);
    if (counted) {
      remaining = Number(counted[1]);
      action = counted[2] ?? '';
    }
    const sleep = /^sleep\((\d+)\)$/.exec(action);
    if (action === 'panic') parsed.set(name, { action: { kind: 'panic' }, remaining });
    else if (action === 'error') parsed.set(name, { action: { kind: 'error' }, remaining });
    else if (sleep) parsed.set(name, { action: { kind: 'sleep', ms: Number(sleep[1]) }, remaining });
    else throw new Error(`bad failpoint action "${action}" for ${name}`);
  }
  return parsed;
}

/** Arms the failpoints named in a spec string (replacing earlier ones). */
export function armFailpoints(spec: string): void {
  armed.clear();
  for (const [name, value] of parseFailpoints(spec)) armed.set(name, value);
}

export function disarmFailpoints(): void {
  armed.clear();
}

/** Arms one failpoint, e.g. armFailpoint('raftBeforeSave', '1*panic'), leaving the others as they are. */
export function armFailpoint(name: string, action: string): void {
  const parsed = parseFailpoints(`${name}=${action}`).get(name);
  if (parsed !== undefined) armed.set(name, parsed);
}

export function disarmFailpoint(name: string): boolean {
  return armed.delete(name);
}

/** What is armed, as `name=action` lines with the remaining count (for the HTTP listing). */
export function describeFailpoints(): string[] {
  return [...armed].map(([name, a]) => {
    const action = a.action.kind === 'sleep' ? `sleep(${a.action.ms})` : a.action.kind;
    return `${name}=${a.remaining === Infinity ? '' : `${a.remaining}*`}${action}`;
  });
}

/**
 * Marks a seam. Costs one Map lookup when nothing is armed. Call it exactly at
 * the point whose crash behaviour the name promises (before or after the
 * fsync, the commit, the send).
 */
export function failpoint(name: string): void {
  const action = take(name);
  if (action === undefined) return;
  switch (action.kind) {
    case 'panic':
      // SIGKILL to ourselves: no exit handlers, no buffered writes flushed,
      // exactly what a crash at this line would leave on disk.
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'sleep': {
      const until = performance.now() + action.ms;
      while (performance.now() < until) {
        // Busy wait on purpose: a failpoint sleep must block the seam, as a stalled disk would.
      }
      break;
    }
    case 'error':
      throw new FailpointError(name);
  }
}

/**
 * A seam on an asynchronous path (the WAL's write and fsync): `sleep` waits on
 * a timer, so the rest of the process (heartbeats, reads, other requests)
 * goes on while this path stalls, as it does behind a slow disk. The other
 * actions behave as in failpoint().
 */
export async function failpointAsync(name: string): Promise<void> {
  const action = armed.size === 0 ? undefined : armed.get(name)?.action;
  if (action?.kind !== 'sleep') return failpoint(name);
  take(name);
  await new Promise((resolve) => setTimeout(resolve, action.ms));
}

/** The action to run at this seam now, counting the firing; undefined when not armed. */
function take(name: string): FailpointAction | undefined {
  if (armed.size === 0) return undefined;
  const entry = armed.get(name);
  if (entry === undefined || entry.remaining <= 0) return undefined;
  entry.remaining -= 1;
  return entry.action;
}

const fromEnv = process.env['ETCDTS_FAILPOINTS'];
if (fromEnv !== undefined && fromEnv !== '') armFailpoints(fromEnv);
const httpAddress = process.env['ETCDTS_FAILPOINTS_HTTP'];
// Loaded only when asked for, so that a member without the variable opens no extra port.
if (httpAddress !== undefined && httpAddress !== '') void import('./failpoint-http.js').then((m) => m.serveFailpoints(httpAddress));
