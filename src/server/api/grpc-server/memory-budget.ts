import assert from 'node:assert';

/**
 * The memory all connections of one GrpcServer hold together: received
 * bytes not consumed yet (partial frames, header blocks being assembled,
 * request messages) and response bytes queued and not framed yet. Each
 * connection adds and removes its own bytes (`used`), and asks before it
 * takes more.
 *
 * The policy past the budget: a connection holding less than its fair
 * share (the budget divided by the connections there are) still gets what
 * it asks for; one holding more is refused, which fails the stream that
 * asked (RESOURCE_EXHAUSTED on the client) or, for the transport's own
 * buffers, the connection (ENHANCE_YOUR_CALM). Well-behaved clients send
 * small requests and read their responses, so they hold little and keep
 * working while the connections that hoard (slow readers, zero windows,
 * unread request streams) are the ones turned down. The alternatives were
 * worse: refusing every new stream once the budget is reached fails the
 * well-behaved clients first, and merely pausing reads of the heaviest
 * connections frees nothing they already hold. Memory stays below twice
 * the budget: what the budget allows, plus at most a fair share per
 * connection.
 */
export class MemoryBudget {
  /** Bytes held by all connections. */
  used = 0;
  /** Connections sharing the budget. */
  connections = 0;

  constructor(readonly maxBytes: number) {
    assert(maxBytes > 0);
  }

  /** Whether a connection that holds `held` bytes may take `bytes` more. */
  allows(held: number, bytes: number): boolean {
    if (this.used + bytes <= this.maxBytes) return true;
    return held + bytes <= this.maxBytes / Math.max(1, this.connections);
  }

  /** Adds (or, negative, gives back) bytes; on every call's path, so the property tests check what it adds up to. */
  add(bytes: number): void {
    this.used += bytes;
  }
}
