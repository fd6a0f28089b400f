/**
 * summary.json: the few facts about a run worth reading without opening the
 * CSV (how big it really was, how hot the generators ran, what failed).
 */
import type { BusyGenerator } from '../shared/busy-generator.js';
import type { WriterStatus } from '../shared/live.js';
import { METRIC, isErrorMetric } from '../shared/metrics.js';
import type { ResolvedPlan } from '../shared/plan.js';
import type { ThresholdResult } from '../shared/thresholds.js';
import type { RunTotals } from './aggregator.js';
import { histogramStats } from './histogram-stats.js';
import type { MetricWindow, ReportRow } from './report-row.js';

export const SUMMARY_JSON = 'summary.json';
export const PLAN_JSON = 'plan.json';

export interface RunSummary {
  name: string;
  runId: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  desiredDevices: number;
  /** Null only for a run recovered after the coordinator died, whose ramp is not on record. */
  effectiveDevices: number | null;
  generatorCount: number;
  /** Highest CPU sample of any generator; null when none reported. */
  maxCpuPercent: number | null;
  /** Error counters over the whole run (`conn_refused_error_count` → total). */
  errors: Record<string, number>;
  errorTotal: number;
  aborted: boolean;
  /** Why the run was aborted or failed, for the user. */
  reason?: string;
  /** Generators that left during the run (their running devices were lost), even if they rejoined. */
  generatorsLost: string[];
  /** Per generator: the network interfaces its network bytes count, and its peak share of their link (null: speed unknown). */
  networks?: Record<string, { interfaces: string[]; maxLinkPercent: number | null }>;
  /**
   * Generators whose final telemetry never came (paused, overloaded, or gone), so
   * the report lacks part of what they measured; empty when the report is complete.
   * Always written since it exists; absent from older archives.
   */
  telemetryMissing?: MissingTelemetry[];
  /** Generators whose CPU stayed above 90 % for more than 10 % of the run: the run holds, its latencies are suspect (busy-generator.ts). */
  busyGenerators?: BusyGenerator[];
  /** Writers that sent the results elsewhere: what arrived, what failed, and where to see it (the CloudWatch console). */
  writers?: WriterStatus[];
  /** Seconds from the start of the ramp to the end. */
  durationSeconds?: number;
  /** Every counter's total over the run (`response_count` → total). */
  counters?: Record<string, number>;
  /** Every histogram over the whole run, from the histograms merged across generators and intervals. */
  histograms?: Record<string, SummaryHistogram>;
  /** The plan's thresholds at the end: each met (ok true) or not; absent when the plan has none. */
  thresholds?: ThresholdResult[];
}

/** A histogram of the whole run; values in its recorded unit (µs for `_us`). */
export interface SummaryHistogram {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Whether every threshold of a summary was met (true when there are none). */
export const thresholdsPassed = (summary: Pick<RunSummary, 'thresholds'>): boolean => (summary.thresholds ?? []).every((t) => t.ok === true);

/** The whole-run figures of a summary: duration, counter totals, every histogram's percentiles. */
export function wholeRunFigures(run: MetricWindow): Required<Pick<RunSummary, 'durationSeconds' | 'counters' | 'histograms'>> {
  const histograms: Record<string, SummaryHistogram> = {};
  for (const name of [...run.histograms.keys()].sort()) {
    const h = run.histograms.get(name)!;
    if (h.totalCount === 0) continue;
    const s = histogramStats(h);
    histograms[name] = { count: h.totalCount, mean: s.mean, min: s.min, p50: s.median, p90: s.p90, p99: s.p99, p999: s.p999, max: s.max };
  }
  const counters = Object.fromEntries(Object.entries(run.counters).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { durationSeconds: Math.round(run.seconds * 1000) / 1000, counters, histograms };
}

/** A generator whose last measurements are not in the report, and what is known of them. */
export interface MissingTelemetry {
  generator: string;
  /** Devices it had running at its last push: what they measured after it is missing. */
  devices: number;
  /** ISO 8601 time of its last push of the run; null if it never pushed one. */
  lastTelemetryAt: string | null;
  /** True when its link closed (it is also in generatorsLost); false when it stayed connected but missed the bound. */
  left: boolean;
  /** How long the end of the run waited for the final telemetry. */
  waitedSeconds: number;
}

/** The line that says so, live and in the log. */
export function missingTelemetryLine(m: MissingTelemetry): string {
  const why = m.left ? 'left the run' : `sent no final telemetry within ${m.waitedSeconds} s`;
  const since = m.lastTelemetryAt === null ? 'since the start (it never reported)' : `after its last push at ${m.lastTelemetryAt}`;
  return `generator ${m.generator} ${why}: what its ${m.devices} devices measured ${since} is missing from the report`;
}

export interface SummaryInput {
  runId: string;
  plan: ResolvedPlan;
  /** Wall-clock ms. */
  startedAt: number;
  endedAt: number;
  effectiveDevices: number;
  generatorCount: number;
  totals: RunTotals;
  aborted: boolean;
  reason?: string;
  generatorsLost?: string[];
  networks?: RunSummary['networks'];
  telemetryMissing?: MissingTelemetry[];
  busyGenerators?: BusyGenerator[];
  writers?: WriterStatus[];
  /** The whole run's merged metrics, for the figures (durationSeconds, counters, histograms). */
  wholeRun?: MetricWindow;
  thresholds?: ThresholdResult[];
}

export function buildSummary(input: SummaryInput): RunSummary {
  const errors = Object.fromEntries(
    Object.entries(input.totals.counters)
      .filter(([name]) => isErrorMetric(name))
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  return {
    name: input.plan.name,
    runId: input.runId,
    startedAt: new Date(input.startedAt).toISOString(),
    endedAt: new Date(input.endedAt).toISOString(),
    desiredDevices: input.plan.size,
    effectiveDevices: input.effectiveDevices,
    generatorCount: input.generatorCount,
    maxCpuPercent: input.totals.maxCpuPercent,
    errors,
    errorTotal: Object.values(errors).reduce((a, b) => a + b, 0),
    aborted: input.aborted,
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    generatorsLost: input.generatorsLost ?? [],
    ...(input.networks === undefined ? {} : { networks: input.networks }),
    telemetryMissing: input.telemetryMissing ?? [],
    busyGenerators: input.busyGenerators ?? [],
    ...(input.writers === undefined ? {} : { writers: input.writers }),
    ...(input.wholeRun === undefined ? {} : wholeRunFigures(input.wholeRun)),
    ...(input.thresholds === undefined ? {} : { thresholds: input.thresholds }),
  };
}

/** One line about a writer at the end of a run: `cloudwatch: 120 metric data sent, 0 failed; https://...`. */
export function writerStatusLine(status: WriterStatus): string {
  const failed = status.failed > 0 ? `, ${status.failed} failed (${status.lastError ?? 'unknown error'})` : ', none failed';
  const retried = status.retries > 0 ? `, ${status.retries} ${status.retries === 1 ? 'retry' : 'retries'}` : '';
  return `${status.writer}: ${status.sent} ${status.unit ?? 'metric data'} sent${failed}${retried}${status.link ? `; see ${status.link}` : ''}`;
}

/**
 * The summary of a run the coordinator died during, from what its folder kept:
 * the plan and the journal's rows. Counters in the last row are totals since
 * start, so its error counts are the run's.
 */
export function recoveredSummary(runId: string, plan: ResolvedPlan, rows: readonly ReportRow[], startedAt: number): RunSummary {
  const last = rows.at(-1);
  const errors = Object.fromEntries(
    Object.entries(last?.metrics ?? {})
      .filter(([name]) => isErrorMetric(name) && name.endsWith('_count'))
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const maxOf = (column: string) => rows.reduce<number | null>((max, r) => (r.metrics[column] === undefined ? max : Math.max(max ?? 0, r.metrics[column])), null);
  return {
    name: plan.name,
    runId,
    startedAt: new Date(startedAt).toISOString(),
    endedAt: last ? last.time : new Date(startedAt).toISOString(),
    desiredDevices: plan.size,
    effectiveDevices: null,
    generatorCount: maxOf(METRIC.generatorCount) ?? 0,
    maxCpuPercent: maxOf(`${METRIC.cpuPercent}_max`),
    errors,
    errorTotal: Object.values(errors).reduce((a, b) => a + b, 0),
    aborted: true,
    reason: 'the coordinator stopped during the run; results up to its last report interval were kept',
    generatorsLost: [],
    telemetryMissing: [],
    busyGenerators: [],
  };
}
