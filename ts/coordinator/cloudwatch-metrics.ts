/**
 * How one report interval becomes CloudWatch metric data, and how that data is
 * cut into PutMetricData requests. Pure functions: the writer
 * (cloudwatch-writer.ts) only queues and sends what these return.
 *
 * Histograms go as statistic sets (SampleCount, Sum, Minimum, Maximum: exact,
 * and CloudWatch combines them correctly over any period), plus one plain metric
 * per chosen percentile (`conn_us_p99`, the CSV's column names), because a
 * datum holds either a statistic set or Values/Counts, never both, and a
 * statistic set alone gives CloudWatch no percentiles.
 */
import type { MetricDatum, StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { Histogram } from '../hdr/index.js';
import { METRIC, metricKind, rateName } from '../shared/metrics.js';
import { histogramStats } from './histogram-stats.js';
import type { ReportRow } from './report-row.js';

export const CLOUDWATCH_NAMESPACE = 'Stressgrid';
/** The one dimension of every datum: the run id. */
export const RUN_DIMENSION = 'Run';

/** PutMetricData's limits: at most 1000 metric data and 1 MB of request per call. */
export const MAX_DATA_PER_REQUEST = 1000;
export const MAX_REQUEST_BYTES = 1_000_000;
/** Room left in a request for the namespace, the JSON around the data and the SDK's own fields. */
const REQUEST_OVERHEAD_BYTES = 4096;

/** Percentiles sent for every histogram, by the stat (column suffix) of REPORTED_PERCENTILES they are. */
export const CLOUDWATCH_PERCENTILES = ['median', 'p90', 'p99', 'p999'] as const;

/** The CloudWatch unit of a report metric, from its name's suffix. */
export function cloudWatchUnit(name: string): StandardUnit {
  if (name === rateName(METRIC.networkRxBytes) || name === rateName(METRIC.networkTxBytes)) return 'Bytes/Second';
  if (name === METRIC.cpuPercent || name.startsWith(`${METRIC.cpuPercent}_`)) return 'Percent';
  if (name === METRIC.activeDeviceNumber || name === METRIC.generatorCount) return 'Count';
  // Byte counters (`ws_sent_bytes_count`, a script's `payload_bytes`): Bytes, not Count.
  if (name.endsWith('_bytes_per_second')) return 'Bytes/Second';
  if (name.endsWith('_bytes_count')) return 'Bytes';
  if (name.endsWith('_per_second')) return 'Count/Second';
  if (name.endsWith('_count')) return 'Count';
  if (/_us(_[a-z0-9]+)?$/.test(name)) return 'Microseconds';
  return 'None';
}

export interface IntervalData {
  data: MetricDatum[];
  /** Counter totals after this interval, to take the next interval's increments from. */
  totals: Map<string, number>;
}

/**
 * The data of one interval. A counter's `_count` is what was counted in this
 * interval (the CSV's column is the running total), so CloudWatch's Sum over any
 * period is that period's count; `previousTotals` are the totals after the
 * interval before. Gauges (`generator_count`, `active_device_number`) and rates
 * go as they are.
 */
export function intervalData(runId: string, row: ReportRow, histograms: ReadonlyMap<string, Histogram>, previousTotals: ReadonlyMap<string, number>): IntervalData {
  const Timestamp = new Date(row.time);
  const Dimensions = [{ Name: RUN_DIMENSION, Value: runId }];
  const datum = (MetricName: string, fields: Partial<MetricDatum>): MetricDatum => ({ MetricName, Dimensions, Timestamp, Unit: cloudWatchUnit(MetricName), ...fields });
  const histogramColumns = new Set<string>();
  const data: MetricDatum[] = [];
  for (const [name, h] of histograms) {
    if (h.totalCount === 0) continue;
    const stats = histogramStats(h);
    for (const stat of Object.keys(stats)) histogramColumns.add(`${name}_${stat}`);
    data.push(datum(name, { StatisticValues: { SampleCount: h.totalCount, Sum: stats.mean * h.totalCount, Minimum: stats.min, Maximum: stats.max } }));
    for (const stat of CLOUDWATCH_PERCENTILES) data.push(datum(`${name}_${stat}`, { Value: stats[stat] }));
  }
  const totals = new Map<string, number>();
  for (const [name, value] of Object.entries(row.metrics)) {
    if (histogramColumns.has(name) || !Number.isFinite(value)) continue;
    let sent = value;
    if (metricKind(name) === 'counter') {
      totals.set(name, value);
      sent = Math.max(0, value - (previousTotals.get(name) ?? 0));
    }
    data.push(datum(name, { Value: sent }));
  }
  return { data, totals };
}

/** Splits data into requests within MAX_DATA_PER_REQUEST and MAX_REQUEST_BYTES, in order. */
export function batches(data: readonly MetricDatum[], maxData = MAX_DATA_PER_REQUEST, maxBytes = MAX_REQUEST_BYTES): MetricDatum[][] {
  const out: MetricDatum[][] = [];
  let current: MetricDatum[] = [];
  let bytes = REQUEST_OVERHEAD_BYTES;
  for (const d of data) {
    // The SDK sends JSON; its size is this datum's JSON plus a comma.
    const size = Buffer.byteLength(JSON.stringify(d)) + 1;
    if (current.length > 0 && (current.length >= maxData || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = REQUEST_OVERHEAD_BYTES;
    }
    current.push(d);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The CloudWatch console's metric search for one run's metrics. */
export function consoleUrl(region: string, runId: string): string {
  // The console keeps its state after '#', with '*' standing for '%' in URL escapes.
  // The search: every metric of the namespace with the Run dimension whose value is exactly this run's id.
  const query = encodeURIComponent(`{${CLOUDWATCH_NAMESPACE},${RUN_DIMENSION}} "${runId}"`).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const host = `${encodeURIComponent(region)}.console.aws.amazon.com`;
  return `https://${host}/cloudwatch/home?region=${encodeURIComponent(region)}#metricsV2:graph=~();query=~'${query.replace(/%/g, '*')}`;
}
