/**
 * Every metric name Stressgrid produces, and how a name is formed from a key.
 * Generators, the coordinator, writers and the CLI all import from here.
 *
 * Devices record under a key ("conn", "response", a script's own "login"); the
 * suffix says what kind of metric it is: `<key>_count` and `<key>_per_second`
 * for counters, `<key>_us` for durations in microseconds.
 */

/** Range and precision of every histogram on the wire: 1 µs .. 60 s, 3 significant digits. */
export const HISTOGRAM_BOUNDS = Object.freeze({ lowest: 1, highest: 60_000_000, significantDigits: 3 });

/** How histograms travel from workers to generators to the coordinator: plain V2, cheap to merge (protocol.ts, Telemetry). */
export const TELEMETRY_HISTOGRAM_ENCODING = Object.freeze({ compressed: false });

/** Percentiles written for every histogram, with the column suffix each gets. */
export const REPORTED_PERCENTILES: ReadonlyArray<readonly [suffix: string, percentile: number]> = [
  ['p1', 1],
  ['p10', 10],
  ['p25', 25],
  ['median', 50],
  ['p75', 75],
  ['p90', 90],
  ['p99', 99],
  ['p999', 99.9],
];

/** Statistic columns of a histogram, in report order. */
export const HISTOGRAM_STATS = ['mean', 'min', 'p1', 'p10', 'p25', 'median', 'p75', 'p90', 'p99', 'p999', 'max', 'stddev'] as const;
export type HistogramStat = (typeof HISTOGRAM_STATS)[number];

export const counterName = (key: string): string => `${key}_count`;
export const rateName = (key: string): string => `${key}_per_second`;
export const durationName = (key: string): string => `${key}_us`;
export const errorKey = (code: string): string => `${code}_error`;

/**
 * The twin of a latency key in an arrival-rate block, measured from the
 * iteration's intended start: `headers` → `headers_intended`, so `headers_us` →
 * `headers_intended_us` (DESIGN.md 7: `_intended` goes before the unit).
 */
export const INTENDED_SUFFIX = '_intended';
export const intendedKey = (key: string): string => `${key}${INTENDED_SUFFIX}`;
/** `headers_us` → `headers_intended_us`; a name without the `_us` unit has no twin and is returned as it is. */
export const intendedName = (name: string): string => name.replace(/_us$/, `${INTENDED_SUFFIX}_us`);
/** A histogram measured from intended starts (`headers_intended_us`). */
export const isIntendedMetric = (name: string): boolean => name.endsWith(`${INTENDED_SUFFIX}_us`);

/** Keys of the metrics devices record themselves. */
export const KEY = Object.freeze({
  conn: 'conn',
  response: 'response',
  headers: 'headers',
  body: 'body',
  wsUpgrade: 'ws_upgrade',
  /** WebSocket messages (a fragmented message counts once) and their payload bytes; control frames are not counted. */
  wsSentFrames: 'ws_sent_frames',
  wsSentBytes: 'ws_sent_bytes',
  wsReceivedFrames: 'ws_received_frames',
  wsReceivedBytes: 'ws_received_bytes',
  /** Messages dropped because the device's receive buffer was full. */
  wsReceiveOverflow: 'ws_receive_overflow',
  send: 'send',
  receive: 'receive',
  /** TCP stream bytes and UDP payload bytes as they cross the kernel boundary (no headers). */
  socketSentBytes: 'socket_sent_bytes',
  socketReceivedBytes: 'socket_received_bytes',
  /** Arrival-rate blocks: iterations started; */
  iteration: 'iteration',
  /** due but never started (no free device within MAX_ITERATION_WAIT_MS, or the block ended first); */
  droppedIteration: 'dropped_iteration',
  /** started after waiting for a free device; */
  lateIteration: 'late_iteration',
  /** and how long after its due time each iteration started (the scheduler's own, never twinned). */
  iterationLateness: 'iteration_lateness',
});

/** Built-in metric names as they appear in reports. */
export const METRIC = Object.freeze({
  connUs: durationName(KEY.conn),
  connCount: counterName(KEY.conn),
  responseCount: counterName(KEY.response),
  headersUs: durationName(KEY.headers),
  bodyUs: durationName(KEY.body),
  wsUpgradeUs: durationName(KEY.wsUpgrade),
  wsSentFramesCount: counterName(KEY.wsSentFrames),
  wsSentBytesCount: counterName(KEY.wsSentBytes),
  wsReceivedFramesCount: counterName(KEY.wsReceivedFrames),
  wsReceivedBytesCount: counterName(KEY.wsReceivedBytes),
  wsReceiveOverflowCount: counterName(KEY.wsReceiveOverflow),
  sendCount: counterName(KEY.send),
  receiveCount: counterName(KEY.receive),
  socketSentBytesCount: counterName(KEY.socketSentBytes),
  socketReceivedBytesCount: counterName(KEY.socketReceivedBytes),
  iterationCount: counterName(KEY.iteration),
  droppedIterationCount: counterName(KEY.droppedIteration),
  lateIterationCount: counterName(KEY.lateIteration),
  iterationLatenessUs: durationName(KEY.iterationLateness),
  /** Generator utilisation. */
  activeDeviceNumber: 'active_device_number',
  cpuPercent: 'cpu_percent',
  networkRxBytes: 'network_rx_bytes',
  networkTxBytes: 'network_tx_bytes',
  generatorCount: 'generator_count',
});

/**
 * What a report column holds, which decides how a writer that adds values up
 * over time (CloudWatch) may send it: a `counter` is a running total since the
 * start, a `rate` and a `gauge` are the interval's own value, a `histogram`
 * column is one statistic of the interval's histogram.
 */
export type MetricKind = 'counter' | 'rate' | 'gauge' | 'histogram';

/**
 * The kinds of the generator metrics, whose names do not follow the key
 * suffixes: `generator_count` is how many generators reported in the interval,
 * a gauge, although it ends in `_count`.
 */
const GENERATOR_METRIC_KINDS: ReadonlyMap<string, MetricKind> = new Map([
  [METRIC.activeDeviceNumber, 'gauge'],
  [METRIC.generatorCount, 'gauge'],
  [METRIC.cpuPercent, 'histogram'],
  [rateName(METRIC.networkRxBytes), 'rate'],
  [rateName(METRIC.networkTxBytes), 'rate'],
]);

/**
 * Counter keys a script may not use: their `_count` or `_per_second` column is
 * a generator metric's (`incCounter('generator')` would add to `generator_count`).
 */
export const RESERVED_COUNTER_KEYS: readonly string[] = Object.freeze([
  ...[...GENERATOR_METRIC_KINDS.keys()].flatMap((name) => /^(.+)_(count|per_second)$/.exec(name)?.[1] ?? []),
  // The arrival-rate scheduler's own counters: a script adding to them would falsify them.
  KEY.iteration,
  KEY.droppedIteration,
  KEY.lateIteration,
]);

/** A histogram (`conn_us`, `cpu_percent`) or one of its statistic columns (`conn_us_p99`). */
const HISTOGRAM_COLUMN = new RegExp(`^(${METRIC.cpuPercent}|.+_us)(_(${HISTOGRAM_STATS.join('|')}))?$`);

/** The kind of a report column: a generator metric's own, else what its suffix says. */
export function metricKind(name: string): MetricKind {
  const fixed = GENERATOR_METRIC_KINDS.get(name);
  if (fixed) return fixed;
  if (name.endsWith('_count')) return 'counter';
  if (name.endsWith('_per_second')) return 'rate';
  if (HISTOGRAM_COLUMN.test(name)) return 'histogram';
  return 'gauge';
}

/** A metric name that counts errors: `conn_refused_error_count` and the like. */
export const isErrorMetric = (name: string): boolean => /_error_(count|per_second)$/.test(name);
