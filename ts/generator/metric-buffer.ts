/**
 * The MetricSink devices record into inside one worker. Durations collect in a
 * Float64Array per key and reach the native histogram one batch at a time (one
 * boundary crossing per BATCH values, DESIGN.md 5.2); counters are plain numbers.
 * Once a second the worker drains it into what the telemetry carries.
 */
import { Histogram } from '../hdr/index.js';
import { HISTOGRAM_BOUNDS, TELEMETRY_HISTOGRAM_ENCODING, counterName, durationName } from '../shared/metrics.js';
import type { MetricSink } from './metric-sink.js';

const BATCH = 1024;

class DurationSeries {
  readonly histogram = new Histogram(HISTOGRAM_BOUNDS);
  private readonly batch = new Float64Array(BATCH);
  private filled = 0;

  add(us: number): void {
    // A clock that went backwards, or a NaN or infinity from a broken timer, must not
    // make the native batch refuse every value with it.
    this.batch[this.filled++] = Number.isFinite(us) && us > 0 ? us : 0;
    if (this.filled === BATCH) this.flush();
  }

  flush(): void {
    if (this.filled === 0) return;
    this.histogram.recordMany(this.filled === BATCH ? this.batch : this.batch.subarray(0, this.filled));
    this.filled = 0;
  }
}

/** One interval's measurements, ready for the wire. */
export interface DrainedMetrics {
  /** Full counter names → increments. */
  counters: Record<string, number>;
  /** Full histogram names → V2-compressed encodings. */
  histograms: Record<string, Uint8Array>;
}

export class MetricBuffer implements MetricSink {
  private counters = new Map<string, number>();
  private readonly durations = new Map<string, DurationSeries>();

  count(key: string, n = 1): void {
    if (!Number.isFinite(n)) return;
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  duration(key: string, us: number): void {
    let series = this.durations.get(key);
    if (!series) {
      series = new DurationSeries();
      this.durations.set(key, series);
    }
    series.add(us);
  }

  /** Everything recorded since the last drain; the buffer starts over empty. */
  drain(): DrainedMetrics {
    const counters: Record<string, number> = {};
    for (const [key, n] of this.counters) counters[counterName(key)] = n;
    this.counters = new Map();
    const histograms: Record<string, Uint8Array> = {};
    for (const [key, series] of this.durations) {
      series.flush();
      if (series.histogram.totalCount === 0) continue;
      histograms[durationName(key)] = series.histogram.encode(TELEMETRY_HISTOGRAM_ENCODING);
      series.histogram.reset();
    }
    return { counters, histograms };
  }
}
