import type { Settings } from './env.js';
import type { TransportLogger } from './transport-interface.js';

const mib = 1024 * 1024;

/**
 * Logs how far a snapshot transfer got, at most once per progress interval,
 * checked as chunks pass (no timer), plus the figures for the final line.
 */
export class ProgressLog {
  private readonly startMs: number;
  private lastMs: number;

  constructor(
    private readonly env: { logger: TransportLogger; settings: Settings },
    private readonly id: bigint,
    private readonly totalBytes: bigint,
    private readonly what: string,
  ) {
    this.startMs = env.settings.now();
    this.lastMs = this.startMs;
  }

  maybeLog(bytes: bigint): void {
    const now = this.env.settings.now();
    if (now - this.lastMs < this.env.settings.snapshotProgressIntervalMs) return;
    this.lastMs = now;
    this.env.logger.info({ 'peer-id': this.id.toString(16), ...this.fields(bytes) }, this.what);
  }

  /** Size, share done and rate so far. */
  fields(bytes: bigint): Record<string, string | number> {
    const elapsedMs = Math.max(1, this.env.settings.now() - this.startMs);
    const percent = this.totalBytes > 0n ? Number((bytes * 1000n) / this.totalBytes) / 10 : 100;
    return {
      bytes: Number(bytes),
      'total-bytes': Number(this.totalBytes),
      percent,
      'elapsed-ms': elapsedMs,
      'mib-per-second': Math.round((Number(bytes) / mib / (elapsedMs / 1000)) * 10) / 10,
    };
  }
}
