/**
 * summary.json: the few facts about a run worth reading without opening the
 * CSV (how big it really was, how hot the generators ran, what failed).
 */
import { isErrorMetric } from '../shared/metrics.js';
import type { ResolvedPlan } from '../shared/plan.js';
import type { RunTotals } from './aggregator.js';

export const SUMMARY_JSON = 'summary.json';
export const PLAN_JSON = 'plan.json';

export interface RunSummary {
  name: string;
  runId: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  desiredDevices: number;
  effectiveDevices: number;
  generatorCount: number;
  /** Highest CPU sample of any generator; null when none reported. */
  maxCpuPercent: number | null;
  /** Error counters over the whole run (`conn_refused_error_count` → total). */
  errors: Record<string, number>;
  errorTotal: number;
  aborted: boolean;
  /** Why the run was aborted or failed, for the user. */
  reason?: string;
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
  };
}
