/**
 * Where devices, transports and scripts record measurements. Keys are bare
 * (`conn`, `response`, a script's `login`); the sink adds the suffix from
 * ts/shared/metrics.ts. Implementations batch values so the native histogram is
 * crossed once per batch, not once per value.
 */
export interface MetricSink {
  /** Adds `n` (default 1) to the counter `<key>_count`. */
  count(key: string, n?: number): void;
  /** Records a duration in microseconds into the histogram `<key>_us`. */
  duration(key: string, us: number): void;
}
