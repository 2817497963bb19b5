import type { Registry } from 'prom-client';
import type { Histogram } from './histogram.js';

/** One line of a metric family: its labels and value (and, for a histogram, which series). */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** _bucket, _sum or _count for histogram series. */
  suffix?: string;
}

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * Registers a family whose samples are read from the member when /metrics
 * is scraped (prom-client's Registry formats them): the request path only
 * ever bumps plain numbers.
 */
export function registerFamily(registry: Registry, name: string, help: string, type: MetricType, collect: () => Sample[]): void {
  registry.registerMetric({
    name,
    help,
    type,
    aggregator: 'sum',
    reset: () => undefined,
    get: async () => ({
      name,
      help,
      type,
      aggregator: 'sum',
      values: collect().map((s) => ({ labels: s.labels ?? {}, value: s.value, metricName: s.suffix === undefined ? undefined : `${name}${s.suffix}` })),
    }),
  } as never);
}

/** A histogram's series (cumulative buckets, +Inf, sum, count), with `labels` on each. */
export function histogramSamples(h: Histogram, labels: Record<string, string> = {}): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  h.bounds.forEach((bound, i) => {
    cumulative += h.counts[i]!;
    samples.push({ labels: { ...labels, le: String(bound) }, value: cumulative, suffix: '_bucket' });
  });
  samples.push({ labels: { ...labels, le: '+Inf' }, value: h.count, suffix: '_bucket' });
  samples.push({ labels, value: h.sum, suffix: '_sum' });
  samples.push({ labels, value: h.count, suffix: '_count' });
  return samples;
}
