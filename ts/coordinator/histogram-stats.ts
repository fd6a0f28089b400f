/**
 * The numbers a histogram is reported as, read in one native call per histogram.
 */
import type { Histogram } from '../hdr/index.js';
import type { HistogramView } from '../shared/live.js';
import { HISTOGRAM_STATS, REPORTED_PERCENTILES, type HistogramStat } from '../shared/metrics.js';

const PERCENTILES = Float64Array.from(REPORTED_PERCENTILES.map(([, p]) => p));

/** Every statistic of HISTOGRAM_STATS, in that order; all 0 for an empty histogram. */
export function histogramStats(h: Histogram): Record<HistogramStat, number> {
  const values = h.valuesAtPercentiles(PERCENTILES);
  const read: Record<string, number> = { mean: h.mean, min: h.min, max: h.max, stddev: h.stddev };
  REPORTED_PERCENTILES.forEach(([suffix], i) => (read[suffix] = values[i]!));
  const stats = {} as Record<HistogramStat, number>;
  for (const stat of HISTOGRAM_STATS) stats[stat] = Number.isFinite(read[stat]) ? read[stat]! : 0;
  return stats;
}

/** The live (last second) view of a histogram. */
export function histogramView(h: Histogram): HistogramView {
  const s = histogramStats(h);
  return { count: h.totalCount, mean: s.mean, min: s.min, median: s.median, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max };
}
