/**
 * One report interval as every writer receives it, and the one column order all
 * of them share, so a CSV written today lines up with one written next year.
 */
import type { Histogram } from '../hdr/index.js';
import { HISTOGRAM_STATS, METRIC, isErrorMetric } from '../shared/metrics.js';

export interface ReportRow {
  /** Seconds since the run started, at the end of the interval. */
  elapsed: number;
  /** End of the interval, ISO 8601 UTC. */
  time: string;
  /** Real length of the interval in seconds: the configured one, or less for the last, partial one. */
  intervalSeconds: number;
  /**
   * Column name → value: `<key>_count` (since start), `<key>_per_second` (over the
   * interval), `<histogram>_<stat>` for each of HISTOGRAM_STATS, and the
   * generator columns (UTILISATION_COLUMNS). A histogram with no value in the
   * interval has no columns in its row.
   */
  metrics: Record<string, number>;
}

/** Merged metrics over a span of the run (an interval, or the whole run), as thresholds and the summary read them. */
export interface MetricWindow {
  /** Merged histograms by metric name (`conn_us`, `cpu_percent`). */
  histograms: ReadonlyMap<string, Histogram>;
  /** Counter amounts over the span by full name (`response_count`): increments for an interval, totals for the run. */
  counters: Record<string, number>;
  /** The span's length. */
  seconds: number;
}

/** What Aggregator.closeInterval hands to the writers (row, histograms) and to the thresholds (all of it). */
export interface ClosedInterval extends MetricWindow {
  row: ReportRow;
  /** The interval's merged histograms by metric name (`conn_us`, `cpu_percent`), for writers that keep them whole. */
  histograms: Map<string, Histogram>;
}

/** First columns of every CSV, before any metric. */
export const ELAPSED_COLUMN = 'elapsed';
export const TIME_COLUMN = 'time';

const STAT_SUFFIXES = HISTOGRAM_STATS.map((s) => `_${s}`);
const CPU_STATS = HISTOGRAM_STATS.map((s) => `${METRIC.cpuPercent}_${s}`);

/** Generator columns, in the order they lead every report. */
export const UTILISATION_COLUMNS: readonly string[] = [METRIC.activeDeviceNumber, METRIC.generatorCount, ...CPU_STATS, `${METRIC.networkRxBytes}_per_second`, `${METRIC.networkTxBytes}_per_second`];

/**
 * Where a column goes: utilisation first (in UTILISATION_COLUMNS order), then
 * counters by key (errors after the rest; `_count` before `_per_second`), then
 * histograms by name (stats in HISTOGRAM_STATS order).
 */
function rank(column: string): [group: number, base: string, order: number] {
  const fixed = UTILISATION_COLUMNS.indexOf(column);
  if (fixed >= 0) return [0, '', fixed];
  if (column.endsWith('_count')) return [isErrorMetric(column) ? 2 : 1, column.slice(0, -'_count'.length), 0];
  if (column.endsWith('_per_second')) return [isErrorMetric(column) ? 2 : 1, column.slice(0, -'_per_second'.length), 1];
  const stat = STAT_SUFFIXES.findIndex((s) => column.endsWith(s));
  if (stat >= 0) return [3, column.slice(0, -STAT_SUFFIXES[stat]!.length), stat];
  return [4, column, 0];
}

/** Orders metric columns for reports; a total order, so any set of columns sorts the same way. */
export function compareColumns(a: string, b: string): number {
  const [ga, ba, oa] = rank(a);
  const [gb, bb, ob] = rank(b);
  if (ga !== gb) return ga - gb;
  if (ba !== bb) return ba < bb ? -1 : 1;
  if (oa !== ob) return oa - ob;
  return a < b ? -1 : a > b ? 1 : 0;
}
