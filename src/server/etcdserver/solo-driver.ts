import { EntryType, type Entry } from '../../proto/gen/etcdtspb/raft.js';
import type { ConsensusDriver } from './driver.js';

/**
 * Consensus for a member that is alone and keeps no log: every proposal is
 * committed at once, in arrival order. Proposals that arrive in the same
 * event-loop turn form one batch (one apply pass, one backend transaction,
 * one fsync): group commit. Entries are not durable before apply, so the
 * member acknowledges only after the backend commit (see ConsensusDriver).
 */
export class SoloDriver implements ConsensusDriver {
  readonly entriesDurableBeforeApply = false;
  readonly term = 1n;
  private queue: Uint8Array[] = [];
  private flushScheduled = false;
  private apply: ((entries: Entry[]) => void) | undefined;
  private lastIndex: bigint;
  private stopped = false;

  constructor(readonly memberId: bigint, appliedIndex: bigint, private readonly settled: () => Promise<void>) {
    this.lastIndex = appliedIndex;
  }

  get leaderId(): bigint {
    return this.memberId;
  }

  get committedIndex(): bigint {
    return this.lastIndex;
  }

  async start(apply: (entries: Entry[]) => void): Promise<void> {
    this.apply = apply;
  }

  propose(data: Uint8Array): void {
    this.queue.push(data);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.stopped || this.apply === undefined || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const entries: Entry[] = batch.map((data) => ({ term: this.term, index: ++this.lastIndex, type: EntryType.EntryNormal, data: Buffer.from(data) }));
    this.apply(entries);
  }

  /** Everything applied is readable once the backend commits in flight are durable. */
  async readIndex(): Promise<bigint> {
    await this.settled();
    return this.lastIndex;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
