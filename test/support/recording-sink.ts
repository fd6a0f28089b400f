/** A MetricSink that keeps every value, so tests can say exactly what was recorded. */
import type { MetricSink } from '../../ts/generator/metric-sink.js';

export class RecordingSink implements MetricSink {
  readonly counts = new Map<string, number>();
  readonly durations = new Map<string, number[]>();

  count(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  duration(key: string, us: number): void {
    const values = this.durations.get(key);
    if (values === undefined) this.durations.set(key, [us]);
    else values.push(us);
  }

  countOf(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  durationsOf(key: string): number[] {
    return this.durations.get(key) ?? [];
  }
}
