/**
 * Linearizable reads without log writes (Raft thesis §6.4, "ReadIndex"):
 * the leader records its commit index when a read arrives, then confirms it
 * is still the leader by a heartbeat round acknowledged by a quorum. Once
 * confirmed, the read may be served as soon as the state machine has
 * applied up to the recorded index.
 *
 * Requests are queued in arrival order. A heartbeat carries the context of
 * the newest pending request; a quorum of acks for it also confirms every
 * older request, since their heartbeats could only have been sent earlier.
 * So one heartbeat round confirms a whole batch.
 */
import type { Message } from '../../proto/gen/etcdtspb/raft.js';

export interface ReadIndexStatus {
  /** The original request: from the leader itself, or forwarded by a follower. */
  req: Message;
  /** The leader's commit index when the request arrived. */
  index: bigint;
  /** Members that acknowledged a heartbeat sent after this request arrived. */
  acks: Map<bigint, boolean>;
}

export function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /**
   * Queues a read that arrived when the commit index was `index`. Contexts
   * must be unique: a request whose context is already pending is ignored.
   */
  addRequest(index: bigint, m: Message): void {
    const key = contextKey(m.entries[0]!.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Map() });
    this.queue.push(key);
  }

  /** Records a heartbeat ack for the request with this context; returns its acks. */
  recvAck(id: bigint, context: Uint8Array): ReadonlyMap<bigint, boolean> | undefined {
    const rs = this.pending.get(contextKey(context));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * Dequeues every request up to and including the one with this context,
   * now confirmed by a quorum.
   */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((k) => {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      return rs;
    });
  }

  /** The context of the newest pending request, to attach to heartbeats. */
  lastPendingRequestCtx(): Buffer | undefined {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? undefined : Buffer.from(last, 'latin1');
  }

  get pendingCount(): number {
    return this.queue.length;
  }
}
