/**
 * The sink of a device serving an arrival-rate block: every duration its
 * transport records (`conn`, `headers`, `body`, `ws_upgrade`) also goes into its
 * `_intended` twin, measured from the instant the current iteration was due to
 * the end of the measurement, so time spent waiting for a device or behind a
 * stalled earlier operation is not hidden (coordinated omission). The script's
 * own timings get their twin in the sandbox, which knows their end instant.
 */
import { intendedKey } from '../shared/metrics.js';
import type { MetricSink } from './metric-sink.js';

export class IntendedTwinSink implements MetricSink {
  /** When the current iteration was due, in this thread's performance.now() ms. */
  intendedStartMs = 0;

  constructor(private readonly inner: MetricSink) {}

  count(key: string, n?: number): void {
    this.inner.count(key, n);
  }

  duration(key: string, us: number): void {
    this.inner.duration(key, us);
    this.inner.duration(intendedKey(key), (performance.now() - this.intendedStartMs) * 1000);
  }
}
