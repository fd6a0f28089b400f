/**
 * Evaluates a run's thresholds on the coordinator, from the histograms merged
 * across every generator (Aggregator), never from per-generator percentiles:
 * the p99 of a run is read off one histogram that holds every sample.
 *
 * `run` thresholds are measured over the whole run so far; `interval` ones on
 * each report interval as it closes (every interval must pass, the worst one is
 * shown), plus the open interval while the run is live.
 */
import { isErrorMetric, METRIC } from '../shared/metrics.js';
import { compareThreshold, ERROR_RATE, type Threshold, type ThresholdResult } from '../shared/thresholds.js';
import type { MetricWindow } from './report-row.js';

/** What one threshold measures on a span of the run; null when there is nothing to measure. */
export function measureThreshold(threshold: Threshold, window: MetricWindow): number | null {
  const { statistic, metric } = threshold;
  const counter = (name: string): number => window.counters[name] ?? 0;
  switch (statistic.kind) {
    case 'value': {
      if (metric !== ERROR_RATE) return null;
      const errors = Object.entries(window.counters).reduce((sum, [name, n]) => (isErrorMetric(name) && name.endsWith('_count') ? sum + n : sum), 0);
      const total = counter(METRIC.responseCount) + errors;
      return total === 0 ? 0 : errors / total;
    }
    case 'rate':
      return window.seconds > 0 ? counter(metric) / window.seconds : null;
    case 'ratio': {
      const numerator = counter(metric);
      const denominator = counter(statistic.denominator);
      if (denominator === 0) return numerator === 0 ? 0 : null;
      return numerator / denominator;
    }
    case 'count':
      if (threshold.metric.endsWith('_count')) return counter(metric);
      return window.histograms.get(metric)?.totalCount ?? 0;
  }
  const h = window.histograms.get(metric);
  if (!h || h.totalCount === 0) return null;
  switch (statistic.kind) {
    case 'percentile':
      return h.valueAtPercentile(statistic.percentile);
    case 'mean':
      return h.mean;
    case 'min':
      return h.min;
    case 'max':
      return h.max;
  }
}

/** Of two values measured on intervals, the one further on the failing side of the threshold. */
function worse(threshold: Threshold, a: number, b: number): number {
  const passA = compareThreshold(a, threshold.operator, threshold.limit);
  const passB = compareThreshold(b, threshold.operator, threshold.limit);
  if (passA !== passB) return passA ? b : a;
  if (threshold.operator === '<' || threshold.operator === '<=') return Math.max(a, b);
  if (threshold.operator === '>' || threshold.operator === '>=') return Math.min(a, b);
  return a;
}

export class ThresholdEvaluator {
  /** Per threshold: the worst value of the closed intervals (interval window only). */
  readonly #worstInterval: Array<number | null>;
  #abortedBy: number | null = null;
  #abortedAt = 0;

  constructor(readonly thresholds: readonly Threshold[]) {
    this.#worstInterval = thresholds.map(() => null);
  }

  /** Takes a report interval that just closed. */
  closeInterval(interval: MetricWindow): void {
    this.thresholds.forEach((threshold, i) => {
      if (threshold.window !== 'interval') return;
      const value = measureThreshold(threshold, interval);
      if (value === null) return;
      const worst = this.#worstInterval[i];
      this.#worstInterval[i] = worst === null || worst === undefined ? value : worse(threshold, worst, value);
    });
  }

  /**
   * How every threshold stands: `run` over `wholeRun`, `interval` over the closed
   * intervals and `openInterval` (left out at the end, when every interval is closed).
   * With `final`, a threshold with nothing measured counts as failed: nothing shows it met its goal.
   */
  evaluate(wholeRun: MetricWindow, openInterval: MetricWindow | null, final = false): ThresholdResult[] {
    return this.thresholds.map((threshold, i) => {
      let value: number | null;
      if (threshold.window === 'run') {
        value = measureThreshold(threshold, wholeRun);
      } else {
        value = this.#worstInterval[i] ?? null;
        const open = openInterval ? measureThreshold(threshold, openInterval) : null;
        if (open !== null) value = value === null ? open : worse(threshold, value, open);
      }
      const ok = value === null ? (final ? false : null) : compareThreshold(value, threshold.operator, threshold.limit);
      return {
        metric: threshold.metric,
        expression: threshold.expression,
        window: threshold.window,
        abortOnFail: threshold.abortOnFail,
        gracePeriod: threshold.gracePeriod,
        ok,
        value,
        ...(this.#abortedBy === i ? { aborted: true, abortedAt: this.#abortedAt } : {}),
      };
    });
  }

  /**
   * The first threshold that must stop the run now: failing, abortOnFail, and
   * past its grace period (`elapsed` seconds since the ramp started). Marks it.
   */
  abortingThreshold(results: readonly ThresholdResult[], elapsed: number): ThresholdResult | null {
    const i = results.findIndex((r) => r.abortOnFail && r.ok === false && elapsed >= r.gracePeriod);
    if (i < 0) return null;
    this.#abortedBy = i;
    this.#abortedAt = Math.round(elapsed * 1000) / 1000;
    return { ...results[i]!, aborted: true, abortedAt: this.#abortedAt };
  }
}
