/**
 * Summary statistics and etcd-benchmark-style printing of a load run.
 *
 * Percentiles are exact (nearest rank over every recorded latency): the p-th
 * percentile is the smallest latency such that at least p% of the calls took
 * no longer. Times are reported in seconds in the text summary (as etcd's
 * tool does, "%4.4f secs") and in milliseconds in JSON.
 */

export const reportedPercentiles = [10, 25, 50, 75, 90, 95, 99, 99.9] as const;

export interface LatencyStats {
  count: number;
  errorCount: number;
  errors: Record<string, number>;
  elapsedMs: number;
  requestsPerSec: number;
  fastestMs: number;
  slowestMs: number;
  averageMs: number;
  stddevMs: number;
  /** Keyed by the percentile as a string ("50", "99.9"). */
  percentilesMs: Record<string, number>;
  /** Load-generator CPU (user + system, all threads) per successful request. */
  clientCpuUsPerRequest: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface RawResult {
  latenciesMs: Float64Array;
  errors: Record<string, number>;
  elapsedMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
}

/** Sorts `raw.latenciesMs` in place and summarises it. */
export function summarize(raw: RawResult): LatencyStats {
  const lat = raw.latenciesMs.sort();
  const n = lat.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += lat[i];
  const average = n > 0 ? sum / n : NaN;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (lat[i] - average) ** 2;
  const percentilesMs: Record<string, number> = {};
  for (const p of reportedPercentiles) percentilesMs[String(p)] = percentile(lat, p);
  const errorCount = Object.values(raw.errors).reduce((a, b) => a + b, 0);
  return {
    count: n,
    errorCount,
    errors: raw.errors,
    elapsedMs: raw.elapsedMs,
    requestsPerSec: raw.elapsedMs > 0 ? (n * 1000) / raw.elapsedMs : 0,
    fastestMs: n > 0 ? lat[0] : NaN,
    slowestMs: n > 0 ? lat[n - 1] : NaN,
    averageMs: average,
    stddevMs: n > 0 ? Math.sqrt(squares / n) : NaN,
    percentilesMs,
    clientCpuUsPerRequest: n > 0 ? (raw.cpuUserUs + raw.cpuSystemUs) / n : NaN,
  };
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(4)} secs`;
}

const barChar = '∎';

/** etcd's "Response time histogram": ten equal buckets between fastest and slowest. */
function histogram(sorted: Float64Array, stats: LatencyStats): string[] {
  const buckets = 10;
  const width = (stats.slowestMs - stats.fastestMs) / buckets;
  const bounds = Array.from({ length: buckets + 1 }, (_, i) => (i === buckets ? stats.slowestMs : stats.fastestMs + width * i));
  const counts = new Array<number>(buckets + 1).fill(0);
  let b = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i] > bounds[b] && b < buckets) b++;
    counts[b]++;
  }
  const most = Math.max(...counts);
  return bounds.map((bound, i) => `  ${(bound / 1000).toFixed(4)} [${counts[i]}]\t|${barChar.repeat(most > 0 ? Math.floor((counts[i] * 40) / most) : 0)}`);
}

/** The text summary etcd's benchmark tool prints, from the stats and the sorted latencies. */
export function formatSummary(stats: LatencyStats, sortedLatenciesMs: Float64Array): string {
  const lines: string[] = [];
  if (stats.count > 0) {
    lines.push('', 'Summary:');
    lines.push(`  Total:\t${secs(stats.elapsedMs)}.`);
    lines.push(`  Slowest:\t${secs(stats.slowestMs)}.`);
    lines.push(`  Fastest:\t${secs(stats.fastestMs)}.`);
    lines.push(`  Average:\t${secs(stats.averageMs)}.`);
    lines.push(`  Stddev:\t${secs(stats.stddevMs)}.`);
    lines.push(`  Requests/sec:\t${stats.requestsPerSec.toFixed(4)}`);
    lines.push('', 'Response time histogram:', ...histogram(sortedLatenciesMs, stats));
    lines.push('', 'Latency distribution:');
    for (const p of reportedPercentiles) {
      const value = stats.percentilesMs[String(p)];
      if (value > 0) lines.push(`  ${p}% in ${secs(value)}.`);
    }
  }
  if (stats.errorCount > 0) {
    lines.push('', 'Error distribution:');
    for (const [message, count] of Object.entries(stats.errors)) lines.push(`  [${count}]\t${message}`);
  }
  return lines.join('\n') + '\n';
}
