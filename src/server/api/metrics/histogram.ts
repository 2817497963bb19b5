/**
 * A Prometheus histogram kept as plain numbers: observe() is a short loop
 * and two additions, so the places that time work (a WAL fsync, a backend
 * commit, a gRPC call) pay next to nothing; the text form is made only when
 * /metrics is scraped.
 */
export class Histogram {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** prometheus.ExponentialBuckets: `count` upper bounds from `start`, each `factor` times the last. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const bounds: number[] = [];
  let b = start;
  for (let i = 0; i < count; i++) {
    bounds.push(b);
    b *= factor;
  }
  return bounds;
}

/** prometheus.DefBuckets, which go-grpc-prometheus's handling-time histogram uses. */
export const defaultBuckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
