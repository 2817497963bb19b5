import type { ServerConfig } from './config.js';
import type { Logger } from '../logger.js';
import type { Clock } from '../lease/lessor.js';

/** What the compactor needs from the member. */
export interface CompactorHost {
  readonly log: Logger;
  readonly clock: Clock;
  readonly driver: { readonly isLeader: boolean };
  readonly store: { readonly currentRev: bigint; readonly compactMainRev: bigint };
  /** Auto-compaction is the member's own request: 'member' exempts it from permission checks. */
  compact(r: { revision: bigint; physical: boolean }, origin: 'member'): Promise<unknown>;
}

/** Revision mode re-checks on this period, as etcd 3.4's revision compactor does. */
const revisionCheckIntervalMs = 5 * 60 * 1000;

/**
 * Automatic compaction (--auto-compaction-mode / --auto-compaction-retention),
 * run by the leader only, through ordinary Compact proposals:
 *
 * - periodic: keep `retention` of history. The current revision is sampled
 *   every retention/10 (at most every hour); each time, the history is
 *   compacted to the newest sample that is at least `retention` old.
 *   A bare number is hours, as in etcd ("1" = 1h); Go durations work too.
 * - revision: keep the last `retention` revisions, checked every 5 minutes.
 */
export class Compactor {
  private timer: NodeJS.Timeout | undefined;
  private readonly samples: Array<{ atMs: number; rev: bigint }> = [];
  private running = false;

  private constructor(private readonly host: CompactorHost, private readonly mode: 'periodic' | 'revision', private readonly retention: number) {}

  static fromConfig(config: ServerConfig, host: CompactorHost): Compactor | undefined {
    const retention = parseRetention(config.autoCompactionMode, config.autoCompactionRetention);
    if (retention <= 0) return undefined;
    return new Compactor(host, config.autoCompactionMode, retention);
  }

  /** Interval between checks: retention/10 for periodic (capped at an hour), 5 minutes for revision mode. */
  get intervalMs(): number {
    if (this.mode === 'revision') return revisionCheckIntervalMs;
    return Math.max(1, Math.min(this.retention / 10, 60 * 60 * 1000));
  }

  start(): void {
    this.host.log.info({ mode: this.mode, retention: this.retention }, 'auto compaction enabled');
    this.timer = setInterval(() => void this.run(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const target = this.target();
      if (target === undefined || !this.host.driver.isLeader || target <= this.host.store.compactMainRev) return;
      await this.host.compact({ revision: target, physical: false }, 'member');
      this.host.log.info({ revision: target.toString(), mode: this.mode }, 'auto compaction done');
    } catch (err) {
      this.host.log.warn({ err }, 'auto compaction failed');
    } finally {
      this.running = false;
    }
  }

  private target(): bigint | undefined {
    const now = this.host.clock.nowMs();
    const current = this.host.store.currentRev;
    if (this.mode === 'revision') {
      const target = current - BigInt(this.retention);
      return target > 0n ? target : undefined;
    }
    this.samples.push({ atMs: now, rev: current });
    let chosen: bigint | undefined;
    while (this.samples.length > 0 && now - this.samples[0]!.atMs >= this.retention) chosen = this.samples.shift()!.rev;
    return chosen;
  }
}

/** Retention in ms (periodic) or revisions (revision mode); 0 disables. */
export function parseRetention(mode: 'periodic' | 'revision', text: string): number {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '0') return 0;
  if (mode === 'revision') {
    const n = Number(trimmed);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid auto compaction retention "${text}" for revision mode`);
    return n;
  }
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 60 * 60 * 1000;
  const ms = parseGoDurationMs(trimmed);
  if (ms === undefined) throw new Error(`invalid auto compaction retention "${text}"`);
  return ms;
}

const unitsMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration such as "1h30m", "500ms", "2.5s". */
export function parseGoDurationMs(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unitsMs[m[2]!]!;
    matched += m[0].length;
  }
  return matched === text.length && matched > 0 ? total : undefined;
}
