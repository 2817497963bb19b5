import type { Endpoint } from './endpoints.js';
import type { StreamHost } from './watch.js';

/**
 * Gets a long-lived stream (watch, lease keep-alive) an endpoint: one dial
 * or one wait before redialling at a time, both dropped by reset() when the
 * stream goes away. The owner decides when a stream is needed and how long
 * to wait after a break; this only keeps the attempts from overlapping.
 */
export class StreamConnector {
  private connecting: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: StreamHost,
    /** Called with the endpoint a dial found. */
    private readonly open: (endpoint: Endpoint) => void,
    /** Called when a wait from retryAfter() is over. */
    private readonly retry: () => void,
  ) {}

  /** A dial or a wait is under way. */
  get busy(): boolean {
    return this.connecting !== undefined || this.timer !== undefined;
  }

  /** Dials, unless a dial or a wait is under way. */
  connect(): void {
    if (this.busy) return;
    const controller = new AbortController();
    this.connecting = controller;
    this.host.streamEndpoint(controller.signal).then(
      (endpoint) => {
        if (this.connecting !== controller) return;
        this.connecting = undefined;
        this.open(endpoint);
      },
      () => {
        if (this.connecting === controller) this.connecting = undefined;
      },
    );
  }

  /** Calls retry() after `delayMs`. */
  retryAfter(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retry();
    }, delayMs);
  }

  /** Drops the dial or the wait under way. */
  reset(): void {
    this.connecting?.abort();
    this.connecting = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
