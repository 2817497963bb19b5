import { rejectionLogsPerSecond } from './limits.js';

export interface WarnLogger {
  warn(fields: object, message: string): void;
}

/**
 * A warning that may repeat once per connection (a rejected handshake, a
 * refused connection): logged up to rejectionLogsPerSecond times a second,
 * then counted, and the count logged with the next line that gets through.
 */
export class RateLimitedLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(private readonly log: WarnLogger, private readonly now: () => number = Date.now) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= rejectionLogsPerSecond) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    if (this.suppressed > 0) {
      fields = { ...fields, 'suppressed-since-last': this.suppressed };
      this.suppressed = 0;
    }
    this.log.warn(fields, message);
  }
}
