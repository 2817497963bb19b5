// Records what clients asked and got, with call and return times from a monotonic clock,
// for the linearizability checker. Follows the assumptions of etcd's robustness suite:
// every client has at most one request in flight, and a request that failed without a
// definite answer has return time Infinity (it may take effect at any later moment, or
// never). Failures that certainly did not take effect (the caller says which) are dropped.
import assert from 'node:assert';
import { performance } from 'node:perf_hooks';
import type { Operation } from './checker.js';

export class OperationTimeoutError extends Error {
  constructor(readonly clientId: number, readonly timeoutMs: number) {
    super(`client ${clientId}: no answer within ${timeoutMs} ms; outcome unknown`);
    this.name = 'OperationTimeoutError';
  }
}

export interface RecorderOptions {
  /** Monotonic time in ms; the simulator passes its simulated clock. */
  now?: () => number;
  /**
   * True for errors that prove the request had no effect (validation errors, compacted
   * revision, ...). Those operations are dropped; any other error leaves the outcome unknown.
   */
  isDefiniteFailure?: (error: unknown) => boolean;
}

/** A request that has been sent and not yet answered. */
export interface Pending<I> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
  readonly seq: number;
}

interface Slot<I, O> {
  pending: Pending<I>;
  op: Operation<I, O | undefined> | null;
  dropped: boolean;
}

export class HistoryRecorder<I, O> {
  private readonly now: () => number;
  private readonly isDefiniteFailure: (error: unknown) => boolean;
  private readonly slots: Slot<I, O>[] = [];
  private readonly inFlight = new Map<number, Slot<I, O>>();
  /** Counts per outcome, for reports. */
  readonly counts = { ok: 0, unknown: 0, failed: 0 };

  constructor(options: RecorderOptions = {}) {
    this.now = options.now ?? (() => performance.now());
    this.isDefiniteFailure = options.isDefiniteFailure ?? (() => false);
  }

  /** Marks the moment a request is sent. One request per client at a time. */
  begin(clientId: number, input: I): Pending<I> {
    assert(!this.inFlight.has(clientId), `client ${clientId} already has a request in flight`);
    const pending: Pending<I> = { clientId, input, call: this.now(), seq: this.slots.length };
    const slot: Slot<I, O> = { pending, op: null, dropped: false };
    this.slots.push(slot);
    this.inFlight.set(clientId, slot);
    return pending;
  }

  /** The request was answered with `output`. */
  succeed(pending: Pending<I>, output: O): void {
    const slot = this.settle(pending);
    slot.op = { clientId: pending.clientId, input: pending.input, output, call: pending.call, return: this.now() };
    this.counts.ok++;
  }

  /** The request failed or timed out and may or may not take effect, at any later time. */
  failUnknown(pending: Pending<I>): void {
    const slot = this.settle(pending);
    slot.op = { clientId: pending.clientId, input: pending.input, output: undefined, call: pending.call, return: Infinity };
    this.counts.unknown++;
  }

  /** The request certainly had no effect: it is left out of the history. */
  failDefinite(pending: Pending<I>): void {
    const slot = this.settle(pending);
    slot.dropped = true;
    this.counts.failed++;
  }

  /**
   * Sends a request through `send` and records it. Resolves or rejects like `send`; after
   * `timeoutMs` it rejects with OperationTimeoutError and the outcome stays unknown even
   * if an answer arrives later (the client has given up on it).
   */
  async record(clientId: number, input: I, send: () => Promise<O>, timeoutMs?: number): Promise<O> {
    const pending = this.begin(clientId, input);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (timeoutMs !== undefined) timer = setTimeout(() => reject(new OperationTimeoutError(clientId, timeoutMs)), timeoutMs);
    });
    try {
      const sent = send();
      // A late failure after a timeout must not surface as an unhandled rejection.
      sent.catch(() => undefined);
      const output = await Promise.race([sent, timeout]);
      this.succeed(pending, output);
      return output;
    } catch (error) {
      if (this.isDefiniteFailure(error)) this.failDefinite(pending);
      else this.failUnknown(pending);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The history so far, in call order. Requests still in flight are included with an
   * unknown outcome: whatever happens to them is not observed by this history.
   */
  operations(): Operation<I, O | undefined>[] {
    const ops: Operation<I, O | undefined>[] = [];
    for (const slot of this.slots) {
      if (slot.dropped) continue;
      const p = slot.pending;
      ops.push(slot.op ?? { clientId: p.clientId, input: p.input, output: undefined, call: p.call, return: Infinity });
    }
    return ops;
  }

  private settle(pending: Pending<I>): Slot<I, O> {
    const slot = this.slots[pending.seq];
    assert(slot && slot.pending === pending, 'unknown pending request');
    assert(slot.op === null && !slot.dropped, `client ${pending.clientId}: request settled twice`);
    assert(this.inFlight.get(pending.clientId) === slot, 'settling a request that is not in flight');
    this.inFlight.delete(pending.clientId);
    return slot;
  }
}
