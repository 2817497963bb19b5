/**
 * The request mix of the watch/lease simulation and the knobs it draws from
 * the seed: KV clients also delete, run txns (several events in one
 * revision), attach keys to leases (sometimes to leases that have ended, to
 * check that such puts are refused) and compact, often at exactly the
 * revision of a delete (etcd #18089, #19179).
 */
import type { Prng } from '../../src/server/raft/prng.js';
import { del, get, put, txn, type EtcdInput } from '../support/lincheck/etcd-model.js';
import type { Command } from './kv-state-machine.js';
import type { Truth } from './sim-layer.js';

export interface WorkloadConfig {
  /** Member clocks run at rates within 1 +/- skew. */
  skew: number;
  watchClients: number;
  leaseClients: number;
  /** Percent of KV requests that compact. */
  compactPercent: number;
  /** Percent of puts that attach a lease. */
  leasePutPercent: number;
  /** Revisions a watch catch-up round reads at most (etcd reads 1000 at a time). */
  catchUpRevisionsMax: number;
  /** Responses a member queues per watch stream before its watchers fall behind (slow consumer). */
  streamQueueMax: number;
  /** Interval of the periodic progress notification (etcd: 10 minutes; short here). */
  progressNotifyUnits: number;
}

function pick<T>(prng: Prng, xs: readonly T[]): T {
  return xs[prng.nextInt(xs.length)]!;
}

export function drawWorkloadConfig(prng: Prng): WorkloadConfig {
  return {
    skew: pick(prng, [0, 0.01, 0.05, 0.1]),
    watchClients: 2 + prng.nextInt(4),
    leaseClients: 1 + prng.nextInt(3),
    compactPercent: pick(prng, [0, 2, 5]),
    leasePutPercent: pick(prng, [20, 50]),
    catchUpRevisionsMax: pick(prng, [1, 3, 20]),
    streamQueueMax: pick(prng, [2, 4, 16]),
    progressNotifyUnits: pick(prng, [50, 200]),
  };
}

export interface Request {
  /** What the linearizability model sees; absent for compaction, which it does not model. */
  input?: EtcdInput;
  /** The proposal for a write; absent for a read. */
  cmd?: Command;
  /** For the trace. */
  label: string;
}

export interface RequestContext {
  clientId: number;
  reqId: string;
  keys: number;
  truth: Truth;
  /** A lease to attach if this turns out to be a put with a lease; 0 when there is none. */
  lease: number;
}

/** Percent of requests that are reads, deletes and txns; puts get the rest. */
const getPercent = 30;
const deletePercent = 15;
const txnPercent = 10;

export function chooseRequest(prng: Prng, w: WorkloadConfig, c: RequestContext): Request {
  const key = `k${prng.nextInt(c.keys)}`;
  const value = `c${c.clientId}-${c.reqId}`;
  let roll = prng.nextInt(100);
  if (roll < w.compactPercent) {
    const rev = compactionTarget(prng, c.truth);
    return { cmd: { t: 'compact', id: c.reqId, rev }, label: `compact ${rev}` };
  }
  roll -= w.compactPercent;
  if (roll < getPercent) return { input: get(key), label: `get ${key}` };
  roll -= getPercent;
  if (roll < deletePercent) return { input: del(key), cmd: { t: 'del', id: c.reqId, k: key }, label: `del ${key}` };
  roll -= deletePercent;
  if (roll < txnPercent && c.keys >= 2) {
    const other = `k${(Number(key.slice(1)) + 1 + prng.nextInt(c.keys - 1)) % c.keys}`;
    const puts = [{ k: key, v: `${value}/0` }, { k: other, v: `${value}/1` }];
    return { input: txn([], puts.map((p) => put(p.k, p.v))), cmd: { t: 'txn', id: c.reqId, puts }, label: `txn ${key} ${other}` };
  }
  const lease = c.lease !== 0 && prng.nextInt(100) < w.leasePutPercent ? c.lease : 0;
  const cmd: Command = lease === 0 ? { t: 'put', id: c.reqId, k: key, v: value } : { t: 'put', id: c.reqId, k: key, v: value, lease };
  return { input: put(key, value), cmd, label: lease === 0 ? `put ${key}` : `put ${key} lease ${lease}` };
}

/**
 * Half the time the latest delete not yet compacted: compacting at a delete's
 * revision is where etcd lost delete events. Otherwise anything between the
 * last compaction and the current revision.
 */
function compactionTarget(prng: Prng, truth: Truth): number {
  const lastDelete = truth.deleteRevisions[truth.deleteRevisions.length - 1];
  if (lastDelete !== undefined && lastDelete > truth.compactRev && prng.nextInt(2) === 0) return lastDelete;
  return truth.compactRev + 1 + prng.nextInt(Math.max(1, truth.revision - truth.compactRev));
}
