/**
 * Named failpoints at the crash-sensitive seams (reliability-anchors §8): the
 * same places etcd marks with gofail (raftBeforeSave, raftAfterSave,
 * beforeCommit, afterCommit, applyBeforeCommit, ...). They are compiled in and
 * inert unless the environment variable ETCDTS_FAILPOINTS names them:
 *
 *   ETCDTS_FAILPOINTS='raftAfterSave=panic;beforeCommit=sleep(200)'
 *
 * Actions: `panic` (the process kills itself with SIGKILL, as a crash would:
 * no cleanup, no flushing), `sleep(ms)` (synchronous busy delay, so it blocks
 * the seam like a slow disk would), `error` (the seam throws an injected
 * error), and an optional count prefix `N*action` to fire only N times.
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

/**
 * Marks a seam. Costs one Map lookup when nothing is armed. Call it exactly at
 * the point whose crash behaviour the name promises (before or after the
 * fsync, the commit, the send).
 */
export function failpoint(name: string): void {
  if (armed.size === 0) return;
  const entry = armed.get(name);
  if (entry === undefined || entry.remaining <= 0) return;
  entry.remaining -= 1;
  switch (entry.action.kind) {
    case 'panic':
      // SIGKILL to ourselves: no exit handlers, no buffered writes flushed,
      // exactly what a crash at this line would leave on disk.
      process.kill(process.pid, 'SIGKILL');
      break;
    case 'sleep': {
      const until = performance.now() + entry.action.ms;
      while (performance.now() < until) {
        // Busy wait on purpose: a failpoint sleep must block the seam, as a stalled disk would.
      }
      break;
    }
    case 'error':
      throw new FailpointError(name);
  }
}

const fromEnv = process.env['ETCDTS_FAILPOINTS'];
if (fromEnv !== undefined && fromEnv !== '') armFailpoints(fromEnv);
