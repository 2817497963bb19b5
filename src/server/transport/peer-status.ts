import assert from 'node:assert';
import type { TransportLogger } from './transport-interface.js';

/**
 * Whether we can talk with one peer, and since when. A peer is active while
 * our message stream to it is accepted or a stream from it to us is open
 * (etcd activates a peer on either of its two streams too). `since` is what
 * "not enough started members" and leader transfer on shutdown look at: a
 * peer that flaps gets a new, later `since` each time it comes back.
 */
export class PeerStatus {
  private outbound = false;
  private inbound = 0;
  private sinceMs: number | undefined;

  constructor(
    private readonly id: bigint,
    private readonly now: () => number,
    private readonly logger: TransportLogger,
  ) {}

  get active(): boolean {
    return this.outbound || this.inbound > 0;
  }

  get since(): number | undefined {
    return this.sinceMs;
  }

  outboundUp(): void {
    this.update(() => { this.outbound = true; });
  }

  outboundDown(reason: string): void {
    this.update(() => { this.outbound = false; }, reason);
  }

  inboundUp(): void {
    this.update(() => { this.inbound++; });
  }

  inboundDown(reason: string): void {
    assert(this.inbound > 0, 'inbound stream count');
    this.update(() => { this.inbound--; }, reason);
  }

  private update(change: () => void, reason?: string): void {
    const was = this.active;
    change();
    if (!was && this.active) {
      this.sinceMs = this.now();
      this.logger.info({ 'peer-id': this.id.toString(16) }, 'peer became active');
    } else if (was && !this.active) {
      this.sinceMs = undefined;
      this.logger.warn({ 'peer-id': this.id.toString(16), reason }, 'peer became inactive');
    }
  }
}
