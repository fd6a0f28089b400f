import type { BusyGenerator } from './busy-generator.js';
import { METRIC } from './metrics.js';
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

/** What a plan's arrival-rate blocks (the open model) are due to do now; absent when every block is closed. */
export interface ArrivalsView {
  /** Iterations per second their stages schedule at this second, summed over the blocks. */
  intendedPerSecond: number;
  /** Their pools summed: the most devices they may run at once. */
  maxDevices: number;
}

/** What an open-model user reads each second: due and started rates, the pool in use, the iterations dropped. */
export interface OpenModelFigures {
  intendedPerSecond: number;
  /** Iterations started over the last second (`iteration_per_second`). */
  startedPerSecond: number;
  /** Devices running an iteration (with a plan that also has closed blocks, their devices too). */
  activeDevices: number;
  maxDevices: number;
  /** `dropped_iteration_count` since the start, and over the last second. */
  dropped: number;
  droppedPerSecond: number;
}

/** The open-model figures of a snapshot, or null when its plan has no arrival-rate block. */
export function openModelFigures(snapshot: Pick<LiveSnapshot, 'arrivals' | 'counters' | 'activeDevices'>): OpenModelFigures | null {
  if (snapshot.arrivals === undefined) return null;
  const started = snapshot.counters[METRIC.iterationCount];
  const dropped = snapshot.counters[METRIC.droppedIterationCount];
  return {
    intendedPerSecond: snapshot.arrivals.intendedPerSecond,
    startedPerSecond: started?.perSecond ?? 0,
    activeDevices: snapshot.activeDevices,
    maxDevices: snapshot.arrivals.maxDevices,
    dropped: dropped?.total ?? 0,
    droppedPerSecond: dropped?.perSecond ?? 0,
  };
}

/** A plan of arrival-rate blocks only: it has no closed devices, so target and effective devices say nothing. */
export const openModelOnly = (snapshot: Pick<LiveSnapshot, 'arrivals' | 'effectiveDevices'>): boolean => snapshot.arrivals !== undefined && snapshot.effectiveDevices === 0;

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
  /** The arrival-rate blocks' rate and pool; absent when every block is closed. */
  arrivals?: ArrivalsView;
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
