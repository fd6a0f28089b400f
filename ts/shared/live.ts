import type { BusyGenerator } from './busy-generator.js';
import type { ThresholdResult } from './thresholds.js';

/**
 * What the coordinator shows of a run every second: the shape the CLI, the API's
 * live stream and the website read.
 */

export const RUN_STATES = ['preparing', 'rampup', 'sustain', 'rampdown', 'done', 'aborted', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface CounterView {
  /** Accumulated since the run started. */
  total: number;
  /** Over the last second. */
  perSecond: number;
}

/** A histogram over the last second; values in the metric's unit (µs for `_us`). */
export interface HistogramView {
  count: number;
  mean: number;
  min: number;
  median: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Above this share of its CPU (or of its network link) a generator may itself be what limits the load. */
export const HOT_PERCENT = 80;

export interface GeneratorView {
  id: string;
  activeDevices: number;
  cpuPercent: number;
  networkRxBytesPerSecond: number;
  networkTxBytesPerSecond: number;
  /** The interfaces counted in the network bytes. */
  networkInterfaces?: string[];
  /** The busier direction as a share of the link speed (full duplex), or null where the speed is unknown. */
  networkPercent?: number | null;
}

/** Network use as a share of the link: the busier direction, since each has the link's speed. */
export function networkPercent(rxBytesPerSecond: number, txBytesPerSecond: number, linkBitsPerSecond: number | undefined): number | null {
  if (linkBitsPerSecond === undefined || !(linkBitsPerSecond > 0)) return null;
  return (100 * 8 * Math.max(rxBytesPerSecond, txBytesPerSecond)) / linkBitsPerSecond;
}

/** Why a generator stands out ("cpu 93%", "network 85% of its link"), or null when it does not. */
export function hotReasons(generator: Pick<GeneratorView, 'cpuPercent' | 'networkPercent'>): string[] {
  const reasons: string[] = [];
  if (generator.cpuPercent > HOT_PERCENT) reasons.push(`cpu ${generator.cpuPercent.toFixed(0)}%`);
  const net = generator.networkPercent;
  if (net !== undefined && net !== null && net > HOT_PERCENT) reasons.push(`network ${net.toFixed(0)}% of its link`);
  return reasons;
}

export interface LiveSnapshot {
  runId: string;
  name: string;
  state: RunState;
  /** Seconds since the run started. */
  elapsed: number;
  /** Seconds until ramp-down ends. */
  remaining: number;
  desiredDevices: number;
  effectiveDevices: number;
  /** Devices the plan wants running now (the ramp's target). */
  targetDevices: number;
  /** Devices reported active by generators over the last second. */
  activeDevices: number;
  generators: GeneratorView[];
  /** Generators of the run that left it and have not come back: their running devices were lost. */
  lostGenerators: string[];
  /** Generators whose CPU stayed above 90 % for more than 10 % of the run so far (busy-generator.ts); absent from older coordinators. */
  busyGenerators?: BusyGenerator[];
  /** Keyed by full counter name without suffix handling: `response_count` → view. */
  counters: Record<string, CounterView>;
  /** Keyed by full histogram name: `headers_us`, `cpu_percent`. */
  histograms: Record<string, HistogramView>;
  /** Writers that send results elsewhere (CloudWatch): how that is going; absent when there are none. */
  writers?: WriterStatus[];
  /** The plan's thresholds as they stand so far, merged over every generator; absent when the plan has none. */
  thresholds?: ThresholdResult[];
}

/** How a writer that sends results over the network is doing, for the live view, the summary and the log. */
export interface WriterStatus {
  /** `cloudwatch`, `prometheus`. */
  writer: string;
  /** What sent, failed and pending count (`samples`); absent: `metric data`. */
  unit?: string;
  /** Metric data delivered. */
  sent: number;
  /** Metric data given up on: refused, still failing after every retry, or dropped from a full queue. */
  failed: number;
  /** Requests sent again after throttling or an error. */
  retries: number;
  /** Metric data waiting to be sent. */
  pending: number;
  lastError?: string;
  /** Where the user finds the results (the CloudWatch console's view of the run's metrics). */
  link?: string;
}
