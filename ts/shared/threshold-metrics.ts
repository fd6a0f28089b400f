/**
 * Threshold metrics nothing in a plan records: no built-in metric, no error
 * counter, and no key a block's script names in a literal `startTiming`,
 * `stopTiming`, `stopStartTiming` or `incCounter` call. A threshold on one can
 * only fail at the end, for want of data (a misspelt `header_us`), so a run says
 * so when it starts. The plan stays valid: a script that names keys by
 * expression (`startTiming(name)`) may record anything, and then nothing is said.
 */
import { METRIC, isErrorMetric, isIntendedMetric, INTENDED_SUFFIX } from './metrics.js';
import { ERROR_RATE, type Threshold } from './thresholds.js';

const BUILT_IN: ReadonlySet<string> = new Set(Object.values(METRIC));

/** A metric call and its arguments up to the first closing parenthesis (enough for the key, which comes first). */
const METRIC_CALL = /\b(startTiming|stopTiming|stopStartTiming|incCounter)\s*\(([^)]*)\)/g;
const LITERAL_KEY = /^\s*(['"`])([a-z][a-z0-9_]*)\1\s*$/;

/** The metric names a script records by literal keys; null when some key is an expression. */
export function scriptMetricNames(source: string): Set<string> | null {
  const names = new Set<string>();
  for (const [, fn, args] of source.matchAll(METRIC_CALL)) {
    const parts = args!.split(',');
    const keys = fn === 'stopStartTiming' ? parts.slice(0, 2) : parts.slice(0, 1);
    for (const part of keys) {
      const key = LITERAL_KEY.exec(part)?.[2];
      if (key === undefined) return null;
      names.add(fn === 'incCounter' ? `${key}_count` : `${key}_us`);
    }
  }
  return names;
}

/** The metrics (and ratio denominators) of `thresholds` that neither Stressgrid nor any of `scripts` records, in order, once each. */
export function unrecordedThresholdMetrics(thresholds: readonly Threshold[], scripts: readonly string[]): string[] {
  const known = new Set(BUILT_IN);
  for (const source of scripts) {
    const names = scriptMetricNames(source);
    if (names === null) return [];
    for (const name of names) known.add(name);
  }
  const recorded = (name: string): boolean => name === ERROR_RATE || isErrorMetric(name) || known.has(isIntendedMetric(name) ? name.replace(`${INTENDED_SUFFIX}_us`, '_us') : name);
  const named = thresholds.flatMap((t) => (t.statistic.kind === 'ratio' ? [t.metric, t.statistic.denominator] : [t.metric]));
  return [...new Set(named)].filter((name) => !recorded(name));
}
