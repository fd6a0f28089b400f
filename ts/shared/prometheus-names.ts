/**
 * How Stressgrid's metric names become Prometheus names: the one mapping the
 * scrape endpoint (/metrics), the remote-write writer, the Grafana dashboard and
 * the README's table follow. Prometheus conventions: a `stressgrid_` prefix,
 * base units (seconds, bytes, ratios), `_total` on counters.
 *
 *   `<key>_count`        → `stressgrid_<key>_total` counter (`response_count` → `stressgrid_response_total`)
 *   `<key>_per_second`   → none: `rate()` of the counter
 *   `<key>_us`           → `stressgrid_<key>_seconds` histogram, and
 *                          `stressgrid_<key>_seconds_quantile{quantile}`: exact quantiles of the last second
 *   `active_device_number` → `stressgrid_active_devices`, `generator_count` → `stressgrid_generators`
 *   `cpu_percent`        → `stressgrid_generator_cpu_ratio{generator}` (0..1 per core set, percent / 100)
 *   `network_rx_bytes`, `network_tx_bytes` → `stressgrid_generator_network_{receive,transmit}_bytes_total{generator}`
 */
import { METRIC } from './metrics.js';

export const PROMETHEUS_PREFIX = 'stressgrid_';

/** Labels of every series of a run; `generator` only on a generator's own. */
export const PROMETHEUS_LABEL = Object.freeze({
  run: 'run',
  runId: 'run_id',
  generator: 'generator',
  quantile: 'quantile',
  le: 'le',
  writer: 'writer',
  state: 'state',
});

/** Labels a user's extra labels may not take: ours, and Prometheus's own. */
export const RESERVED_PROMETHEUS_LABELS: readonly string[] = Object.freeze([...Object.values(PROMETHEUS_LABEL), '__name__', 'job', 'instance']);

/** Names that do not come from a metric key. */
export const PROMETHEUS_NAME = Object.freeze({
  activeDevices: 'stressgrid_active_devices',
  desiredDevices: 'stressgrid_desired_devices',
  effectiveDevices: 'stressgrid_effective_devices',
  targetDevices: 'stressgrid_target_devices',
  /** Generators reporting in the run (the CSV's generator_count). */
  generators: 'stressgrid_generators',
  /** Generators connected to the coordinator, run or no run. */
  generatorsConnected: 'stressgrid_generators_connected',
  generatorActiveDevices: 'stressgrid_generator_active_devices',
  generatorCpuRatio: 'stressgrid_generator_cpu_ratio',
  generatorNetworkReceiveBytes: 'stressgrid_generator_network_receive_bytes_total',
  generatorNetworkTransmitBytes: 'stressgrid_generator_network_transmit_bytes_total',
  runElapsedSeconds: 'stressgrid_run_elapsed_seconds',
  runRemainingSeconds: 'stressgrid_run_remaining_seconds',
  /** 1 for the run's current state (`state` label). */
  runState: 'stressgrid_run_state',
  writerSent: 'stressgrid_writer_sent_total',
  writerFailed: 'stressgrid_writer_failed_total',
  writerRetries: 'stressgrid_writer_retries_total',
  writerPending: 'stressgrid_writer_pending',
});

/** Generator metrics and what they become (documentation and the README's table). */
export const PROMETHEUS_GENERATOR_METRICS: Readonly<Record<string, string>> = Object.freeze({
  [METRIC.activeDeviceNumber]: PROMETHEUS_NAME.activeDevices,
  [METRIC.generatorCount]: PROMETHEUS_NAME.generators,
  [METRIC.cpuPercent]: PROMETHEUS_NAME.generatorCpuRatio,
  [METRIC.networkRxBytes]: PROMETHEUS_NAME.generatorNetworkReceiveBytes,
  [METRIC.networkTxBytes]: PROMETHEUS_NAME.generatorNetworkTransmitBytes,
});

/** Quantile gauges of every latency histogram: the label value and the live view's stat that holds it. */
export const PROMETHEUS_QUANTILES = [
  ['0.5', 'median'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['0.999', 'p999'],
] as const;

/**
 * Upper bounds (seconds) of every latency histogram's buckets: 2^(k/4) from
 * 2^-20 s (about 1 µs, HDR's lowest) to 2^6 s (64 s, past HDR's 60 s), to 4
 * significant digits (`0.0001221`, `0.0001452`, …), so each bucket is 19 % wider
 * than the one below. The count at each bound is read
 * exactly (to HDR's 3 significant digits) from the merged histogram, so a
 * quantile Prometheus interpolates from these buckets is within one bucket,
 * at most 19 %, of the exact value; the `_quantile` series carry exact ones.
 * Fixed bounds keep `rate()` and `histogram_quantile()` valid across scrapes,
 * generators and runs.
 */
export const PROMETHEUS_BUCKET_RATIO = 2 ** 0.25;
export const PROMETHEUS_BUCKETS_SECONDS: readonly number[] = Object.freeze(Array.from({ length: 26 * 4 + 1 }, (_, i) => Number((2 ** ((i - 80) / 4)).toPrecision(4))));

const INVALID = /[^a-zA-Z0-9_]/g;
/** A metric key as a Prometheus name part (script keys are already `[a-z][a-z0-9_]*`; telemetry is not trusted). */
const clean = (key: string): string => key.replace(INVALID, '_');

export type PrometheusMetric = { type: 'counter'; name: string; key: string } | { type: 'histogram'; name: string; key: string; quantileName: string };

/**
 * The Prometheus metric of a Stressgrid counter (`<key>_count`) or latency
 * histogram (`<key>_us`); null for names with no 1:1 mapping (rates, the
 * generator metrics, which have their own names above).
 */
export function prometheusMetric(name: string): PrometheusMetric | null {
  if (name === METRIC.generatorCount) return null;
  if (name.endsWith('_count')) {
    const key = clean(name.slice(0, -'_count'.length));
    return { type: 'counter', key, name: `${PROMETHEUS_PREFIX}${key}_total` };
  }
  if (name.endsWith('_us')) {
    const key = clean(name.slice(0, -'_us'.length));
    const base = `${PROMETHEUS_PREFIX}${key}_seconds`;
    return { type: 'histogram', key, name: base, quantileName: `${base}_quantile` };
  }
  return null;
}

/** Microseconds (HDR's unit) to seconds. */
export const MICROS_PER_SECOND = 1e6;
