/**
 * Thresholds: a plan's pass/fail goals on its metrics, defined once for the
 * plan validator, the coordinator that evaluates them, sgcli's `--threshold`,
 * the website and the report.
 *
 * ```
 * thresholds: {
 *   "headers_us": ["p99 < 50000", { "threshold": "p(99.9) < 200ms", "abortOnFail": true, "gracePeriod": 10 }],
 *   "error_rate": ["< 0.01"],
 *   "conn_refused_error_count": ["count == 0", { "threshold": "ratio(response_count) < 0.001", "window": "interval" }]
 * }
 * ```
 *
 * An expression is `<statistic> <operator> <number>`. Which statistics a metric
 * takes follows from its kind, and its kind from its name (metrics.ts):
 * histograms (`<key>_us`, including the `_intended` twins, and `cpu_percent`)
 * take `pN` / `p(N)` for any percentile, `mean`, `min`, `max`, `count`;
 * counters (`<key>_count`) take `count` (the total), `rate` (per second) and
 * `ratio(<other counter>)`; `error_rate` (every `*_error_count` over responses
 * plus errors) is a fraction and takes `value` (or `rate`, as k6 writes it), or
 * nothing before the operator. `_us` values may carry a unit: `us`, `ms`, `s`.
 *
 * This module imports nothing from Node, so the website loads it as it is.
 */

import { describe, isPlainObject } from './json-shape.js';

/** The built-in ratio of failures: Σ `*_error_count` / (`response_count` + Σ `*_error_count`). */
export const ERROR_RATE = 'error_rate';

export const THRESHOLD_WINDOWS = ['run', 'interval'] as const;
/** `run`: the whole run's merged histograms and totals; `interval`: each report interval on its own, every one must pass. */
export type ThresholdWindow = (typeof THRESHOLD_WINDOWS)[number];

export const THRESHOLD_OPERATORS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ThresholdOperator = (typeof THRESHOLD_OPERATORS)[number];

/** One threshold as a plan writes it: the expression alone, or with options. */
export type ThresholdSpec = string | { threshold: string; abortOnFail?: boolean; gracePeriod?: number; window?: ThresholdWindow };

/** The plan field: metric name → its thresholds. */
export type ThresholdsInput = Record<string, ThresholdSpec[]>;

export type MetricShape = 'histogram' | 'counter' | 'errorRate';

/** What is measured: one statistic of one metric. */
export type ThresholdStatistic = { kind: 'percentile'; percentile: number } | { kind: 'mean' | 'min' | 'max' | 'count' | 'rate' | 'value' } | { kind: 'ratio'; denominator: string };

/** One threshold with every default filled in, as the coordinator evaluates it. */
export interface Threshold {
  metric: string;
  /** The expression as the plan wrote it, for people. */
  expression: string;
  statistic: ThresholdStatistic;
  operator: ThresholdOperator;
  /** In the metric's recorded unit (µs for `_us`, after any unit in the expression). */
  limit: number;
  window: ThresholdWindow;
  abortOnFail: boolean;
  /** Seconds from the start of the ramp before a failure may abort the run. */
  gracePeriod: number;
}

/** How one threshold stands, live (so far) or at the end. */
export interface ThresholdResult {
  metric: string;
  expression: string;
  window: ThresholdWindow;
  abortOnFail: boolean;
  gracePeriod: number;
  /** True: met; false: missed; null: nothing to measure yet (a histogram without a sample). */
  ok: boolean | null;
  /** What was measured (for `interval`, the worst interval); null without data. */
  value: number | null;
  /** This threshold stopped the run. */
  aborted?: boolean;
  /** When it did: seconds since the ramp started. */
  abortedAt?: number;
}

/** One thing wrong with the thresholds field, with its field path (`thresholds["headers_us"][1].threshold`). */
export interface ThresholdProblem {
  path: string;
  message: string;
}

const THRESHOLD_FIELDS = ['threshold', 'abortOnFail', 'gracePeriod', 'window'] as const;

const GENERATOR_HISTOGRAMS = ['cpu_percent'];
const GENERATOR_GAUGES = ['active_device_number', 'generator_count'];

/** What kind of metric a threshold names, or null when the name is no metric Stressgrid produces. */
export function thresholdMetricShape(name: string): MetricShape | null {
  if (name === ERROR_RATE) return 'errorRate';
  if (GENERATOR_HISTOGRAMS.includes(name) || /^[A-Za-z0-9_.-]+_us$/.test(name)) return 'histogram';
  if (/^[A-Za-z0-9_.-]+_count$/.test(name) && !GENERATOR_GAUGES.includes(name)) return 'counter';
  return null;
}

/** Why a name is no metric, and what the user likely meant. */
function unknownMetricMessage(name: string): string {
  const hint = /_per_second$/.test(name)
    ? ` (a rate is a statistic of its counter: "${name.replace(/_per_second$/, '_count')}": ["rate > ..."])`
    : /_ms$/.test(name)
      ? ` (durations are recorded in microseconds: "${name.replace(/_ms$/, '_us')}")`
      : /_(p\d+|mean|min|max|median|p999)$/.test(name)
        ? ` (the statistic goes in the expression: "${name.replace(/_(p\d+|mean|min|max|median|p999)$/, '')}": ["${/_([a-z0-9]+)$/.exec(name)![1]} < ..."])`
        : GENERATOR_GAUGES.includes(name)
          ? ''
          : ` (did you mean "${name}_us" for a timing or "${name}_count" for a counter?)`;
  return `unknown metric "${name}": thresholds apply to histograms (<key>_us, cpu_percent), counters (<key>_count) and error_rate${hint}`;
}

const UNITS: Record<string, number> = { us: 1, µs: 1, ms: 1000, s: 1_000_000 };

/**
 * Parses one expression for a metric. Returns the parts or a message that says
 * what is wrong and what is allowed.
 */
export function parseThresholdExpression(metric: string, expression: string): { ok: true; statistic: ThresholdStatistic; operator: ThresholdOperator; limit: number } | { ok: false; message: string } {
  const shape = thresholdMetricShape(metric);
  if (shape === null) return { ok: false, message: unknownMetricMessage(metric) };
  const text = expression.trim();
  const match = /^(.*?)\s*(<=|>=|==|!=|<|>)\s*(.*)$/.exec(text);
  if (!match) return { ok: false, message: `${JSON.stringify(expression)} has no comparison: write "<statistic> <operator> <number>" like ${example(shape)}` };
  const [, left, operator, right] = match as unknown as [string, string, ThresholdOperator, string];

  const statistic = parseStatistic(left.trim(), shape);
  if ('message' in statistic) return { ok: false, message: `${JSON.stringify(expression)}: ${statistic.message}` };

  const number = /^(-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-zµ]*)$/i.exec(right.trim());
  if (!number) return { ok: false, message: `${JSON.stringify(expression)}: "${right.trim()}" is not a number` };
  let limit = Number(number[1]);
  const unit = number[2]!;
  if (unit !== '') {
    const timed = metric.endsWith('_us') && ['percentile', 'mean', 'min', 'max'].includes(statistic.kind);
    const factor = UNITS[unit];
    if (!timed || factor === undefined) {
      return { ok: false, message: `${JSON.stringify(expression)}: unit "${unit}" ${timed ? 'is not one of us, ms, s' : 'applies only to the durations of a _us metric (us, ms, s)'}` };
    }
    limit *= factor;
  }
  if (!Number.isFinite(limit)) return { ok: false, message: `${JSON.stringify(expression)}: the limit must be a finite number` };
  return { ok: true, statistic, operator, limit };
}

function example(shape: MetricShape): string {
  return shape === 'histogram' ? '"p99 < 50000", "p(99.9) < 200ms", "mean < 10ms"' : shape === 'counter' ? '"count == 0", "rate > 100", "ratio(response_count) < 0.01"' : '"< 0.01" or "value < 0.01"';
}

const STATISTICS: Record<MetricShape, string> = {
  histogram: 'a percentile (p99, p(99.9)), mean, min, max or count',
  counter: 'count, rate or ratio(<another counter>)',
  errorRate: 'value (or rate), or nothing before the operator',
};

function parseStatistic(left: string, shape: MetricShape): ThresholdStatistic | { message: string } {
  const lower = left.toLowerCase();
  const wrong = () => ({ message: `"${left}" is not a statistic of ${shape === 'errorRate' ? ERROR_RATE : `a ${shape}`}; use ${STATISTICS[shape]}` });
  if (shape === 'errorRate') return lower === '' || lower === 'value' || lower === 'rate' ? { kind: 'value' } : wrong();
  if (shape === 'counter') {
    if (lower === 'count' || lower === 'rate') return { kind: lower };
    const ratio = /^ratio\s*\(\s*([^)]*?)\s*\)$/i.exec(left);
    if (!ratio) return wrong();
    const denominator = ratio[1]!;
    if (thresholdMetricShape(denominator) !== 'counter') return { message: `ratio(${denominator}): the denominator must be another counter (<key>_count), like ratio(response_count)` };
    return { kind: 'ratio', denominator };
  }
  if (lower === 'mean' || lower === 'avg') return { kind: 'mean' };
  if (lower === 'min' || lower === 'max' || lower === 'count') return { kind: lower };
  if (lower === 'median' || lower === 'med') return { kind: 'percentile', percentile: 50 };
  const percentile = /^p\s*(?:\(\s*(\d+(?:\.\d+)?)\s*\)|(\d+(?:\.\d+)?))$/i.exec(left);
  if (!percentile) return wrong();
  const value = Number(percentile[1] ?? percentile[2]);
  if (!(value >= 0 && value <= 100)) return { message: `p(${value}) is not a percentile: it must be between 0 and 100` };
  return { kind: 'percentile', percentile: value };
}

/**
 * Reads the plan's `thresholds` field: every threshold resolved, or every
 * problem with its field path. `path` is the field's own path (`thresholds`).
 */
export function readThresholds(input: unknown, path = 'thresholds'): { thresholds: Threshold[]; problems: ThresholdProblem[] } {
  const problems: ThresholdProblem[] = [];
  const thresholds: Threshold[] = [];
  if (input === undefined) return { thresholds, problems };
  if (!isPlainObject(input)) {
    problems.push({ path, message: 'must be an object of metric name → list of thresholds, like {"headers_us": ["p99 < 50000"]}' });
    return { thresholds, problems };
  }
  for (const [metric, specs] of Object.entries(input)) {
    const metricPath = `${path}[${JSON.stringify(metric)}]`;
    if (thresholdMetricShape(metric) === null) {
      problems.push({ path: metricPath, message: unknownMetricMessage(metric) });
      continue;
    }
    const list = typeof specs === 'string' || isPlainObject(specs) ? [specs] : specs;
    if (!Array.isArray(list)) {
      problems.push({ path: metricPath, message: 'must be a list of thresholds: expressions like "p99 < 50000" or { "threshold": ..., "abortOnFail": true, "gracePeriod": 10 }' });
      continue;
    }
    if (list.length === 0) problems.push({ path: metricPath, message: 'must hold at least one threshold' });
    list.forEach((spec: unknown, i) => {
      const threshold = readThreshold(metric, spec, `${metricPath}[${i}]`, problems);
      if (threshold) thresholds.push(threshold);
    });
  }
  return { thresholds, problems };
}

function readThreshold(metric: string, spec: unknown, path: string, problems: ThresholdProblem[]): Threshold | undefined {
  let expression: unknown = spec;
  let abortOnFail: unknown = false;
  let gracePeriod: unknown = 0;
  let window: unknown = 'run';
  let expressionPath = path;
  let ok = true;
  if (isPlainObject(spec)) {
    for (const key of Object.keys(spec)) {
      if (!(THRESHOLD_FIELDS as readonly string[]).includes(key)) {
        problems.push({ path: `${path}.${key}`, message: `unknown field; known fields are ${THRESHOLD_FIELDS.join(', ')}` });
        ok = false;
      }
    }
    expression = spec.threshold;
    expressionPath = `${path}.threshold`;
    abortOnFail = spec.abortOnFail ?? false;
    gracePeriod = spec.gracePeriod ?? 0;
    window = spec.window ?? 'run';
    if (typeof abortOnFail !== 'boolean') {
      problems.push({ path: `${path}.abortOnFail`, message: `must be true or false, got ${describe(abortOnFail)}` });
      ok = false;
    }
    if (typeof gracePeriod !== 'number' || !Number.isFinite(gracePeriod) || gracePeriod < 0) {
      problems.push({ path: `${path}.gracePeriod`, message: `must be a number of seconds, at least 0, got ${describe(gracePeriod)}` });
      ok = false;
    }
    if (typeof window !== 'string' || !(THRESHOLD_WINDOWS as readonly string[]).includes(window)) {
      problems.push({ path: `${path}.window`, message: `must be "run" (the whole run) or "interval" (each report interval), got ${describe(window)}` });
      ok = false;
    }
  } else if (typeof spec !== 'string') {
    problems.push({ path, message: `must be an expression like "p99 < 50000" or an object { "threshold": ..., "abortOnFail"?, "gracePeriod"?, "window"? }, got ${describe(spec)}` });
    return undefined;
  }
  if (typeof expression !== 'string' || expression.trim() === '') {
    problems.push({
      path: expressionPath,
      message: expression === undefined ? 'an expression is required, like "p99 < 50000"' : `must be an expression like "p99 < 50000", got ${describe(expression)}`,
    });
    return undefined;
  }
  const parsed = parseThresholdExpression(metric, expression);
  if (!parsed.ok) {
    problems.push({ path: expressionPath, message: parsed.message });
    return undefined;
  }
  if (!ok) return undefined;
  return {
    metric,
    expression: expression.trim(),
    statistic: parsed.statistic,
    operator: parsed.operator,
    limit: parsed.limit,
    window: window as ThresholdWindow,
    abortOnFail: abortOnFail as boolean,
    gracePeriod: gracePeriod as number,
  };
}

/**
 * `--threshold 'headers_us: p99 < 10000'` → metric and expression, or a message.
 * The metric name ends at the first colon.
 */
export function parseThresholdOption(text: string): { ok: true; metric: string; expression: string } | { ok: false; message: string } {
  const colon = text.indexOf(':');
  if (colon < 0) return { ok: false, message: `${JSON.stringify(text)} must be "<metric>: <expression>", like "headers_us: p99 < 10000"` };
  const metric = text.slice(0, colon).trim();
  const expression = text.slice(colon + 1).trim();
  if (metric === '') return { ok: false, message: `${JSON.stringify(text)} names no metric before the colon` };
  const parsed = parseThresholdExpression(metric, expression);
  if (!parsed.ok) return { ok: false, message: parsed.message };
  return { ok: true, metric, expression };
}

/** Whether `value` meets `operator limit`. */
export function compareThreshold(value: number, operator: ThresholdOperator, limit: number): boolean {
  switch (operator) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
    case '==':
      return value === limit;
    case '!=':
      return value !== limit;
  }
}

/** `headers_us p99 < 50000` (and `, each interval` when per interval): the one way a threshold is named to people. */
export function thresholdLabel(result: Pick<ThresholdResult, 'metric' | 'expression' | 'window'>): string {
  return `${result.metric}: ${result.expression}${result.window === 'interval' ? ' (each interval)' : ''}`;
}

/** Why a threshold with abortOnFail stopped the run, as sgcli, the website and summary.json's reason say it. */
export function thresholdAbortReason(result: Pick<ThresholdResult, 'metric' | 'expression' | 'window' | 'value'>): string {
  return `threshold ${thresholdLabel(result)} failed (measured ${formatThresholdValue(result)}) and has abortOnFail`;
}

/**
 * A measured value as people read it: durations of a `_us` metric in ms
 * (`8.1 ms`), anything else as a plain number; `no data` when nothing was measured.
 */
export function formatThresholdValue(result: Pick<ThresholdResult, 'metric' | 'expression' | 'value'>): string {
  if (result.value === null) return 'no data';
  const parsed = parseThresholdExpression(result.metric, result.expression);
  const timed = parsed.ok && result.metric.endsWith('_us') && ['percentile', 'mean', 'min', 'max'].includes(parsed.statistic.kind);
  return timed ? `${formatThresholdNumber(result.value / 1000)} ms` : formatThresholdNumber(result.value);
}

/** A measured value as thresholds print it: up to 4 significant digits, no exponent for usual sizes. */
export function formatThresholdNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return value.toFixed(0);
  return String(Number(value.toPrecision(4)));
}
