import assert from 'node:assert';
import type { Message } from '../../proto/gen/etcdtspb/raft.js';
import { estimateMessageBytes } from './wire.js';

/**
 * The messages waiting for one peer's stream, bounded by count and by
 * (estimated) bytes. A message that does not fit is refused, never queued:
 * the newest messages are the ones dropped, so that what is queued keeps its
 * order, and Raft, told the peer is unreachable, retransmits what matters.
 */
export class MessageQueue {
  private items: Message[] = [];
  private sizes: number[] = [];
  /** Index of the oldest queued message in `items`; everything before it was taken. */
  private head = 0;
  private queuedBytes = 0;

  constructor(readonly messagesMax: number, readonly bytesMax: number) {
    assert(messagesMax > 0 && bytesMax > 0, 'queue bounds');
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  /** Queues `m` if it fits; false when the queue is full. */
  maybePush(m: Message): boolean {
    const size = estimateMessageBytes(m);
    if (this.length >= this.messagesMax) return false;
    // An empty queue takes any message, so one larger than bytesMax is still sendable.
    if (this.length > 0 && this.queuedBytes + size > this.bytesMax) return false;
    this.items.push(m);
    this.sizes.push(size);
    this.queuedBytes += size;
    return true;
  }

  /**
   * Removes and returns the oldest messages whose estimated size adds up to
   * at most `bytesMax` (always at least one message when not empty).
   */
  takeBatch(bytesMax: number): Message[] {
    let end = this.head;
    let bytes = 0;
    while (end < this.items.length) {
      const size = this.sizes[end]!;
      if (end > this.head && bytes + size > bytesMax) break;
      bytes += size;
      end++;
    }
    const batch = this.items.slice(this.head, end);
    this.head = end;
    this.queuedBytes -= bytes;
    this.compact();
    return batch;
  }

  /** Empties the queue, returning how many messages were dropped. */
  clear(): number {
    const dropped = this.length;
    this.items = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
    return dropped;
  }

  /** Drops the taken prefix once it dominates the arrays, keeping pushes amortised O(1). */
  private compact(): void {
    if (this.head === this.items.length) {
      this.clear();
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    assert(this.queuedBytes >= 0, 'queued bytes never negative');
  }
}
