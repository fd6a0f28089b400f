import test from 'ava';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { parseRunOptions, buildPlan } from '../../ts/cli/run-options.js';
import { parseThresholdExpression, parseThresholdOption, readThresholds, type ThresholdStatistic } from '../../ts/shared/thresholds.js';

const plan = (thresholds: unknown) => ({ name: 'checkout', blocks: [{ script: 'await get("/")' }], addresses: [{ host: 'localhost' }], thresholds });

const statistic = (metric: string, expression: string): ThresholdStatistic | string => {
  const parsed = parseThresholdExpression(metric, expression);
  return parsed.ok ? parsed.statistic : parsed.message;
};

test('histograms take any percentile, mean, min, max and count', (t) => {
  t.deepEqual(statistic('headers_us', 'p99 < 50000'), { kind: 'percentile', percentile: 99 });
  t.deepEqual(statistic('headers_us', 'p(99.9) < 200000'), { kind: 'percentile', percentile: 99.9 });
  t.deepEqual(statistic('headers_us', 'p99.99<1'), { kind: 'percentile', percentile: 99.99 });
  t.deepEqual(statistic('headers_us', 'median <= 1'), { kind: 'percentile', percentile: 50 });
  t.deepEqual(statistic('conn_us', 'mean < 1'), { kind: 'mean' });
  t.deepEqual(statistic('conn_us', 'min >= 1'), { kind: 'min' });
  t.deepEqual(statistic('conn_us', 'max < 1'), { kind: 'max' });
  t.deepEqual(statistic('cpu_percent', 'p90 < 80'), { kind: 'percentile', percentile: 90 });
  // The open model's twins and a script's own timings are histograms like any other.
  t.deepEqual(statistic('headers_intended_us', 'p99 < 1'), { kind: 'percentile', percentile: 99 });
  t.deepEqual(statistic('page_us', 'p(95) < 1'), { kind: 'percentile', percentile: 95 });
});

test('durations may carry a unit, converted to µs', (t) => {
  const ms = parseThresholdExpression('headers_us', 'p99 < 50ms');
  t.true(ms.ok && ms.limit === 50_000);
  const s = parseThresholdExpression('headers_us', 'p(99.9) < 0.2s');
  t.true(s.ok && s.limit === 200_000);
  const bad = parseThresholdExpression('response_count', 'count < 5ms');
  t.false(bad.ok);
  t.regex(bad.ok ? '' : bad.message, /unit "ms" applies only to the durations of a _us metric/);
});

test('counters take count, rate and the ratio to another counter; error_rate a fraction', (t) => {
  t.deepEqual(statistic('response_count', 'count > 100'), { kind: 'count' });
  t.deepEqual(statistic('response_count', 'rate > 100'), { kind: 'rate' });
  t.deepEqual(statistic('login_count', 'rate > 1'), { kind: 'rate' });
  t.deepEqual(statistic('conn_refused_error_count', 'ratio(response_count) < 0.01'), { kind: 'ratio', denominator: 'response_count' });
  t.deepEqual(statistic('error_rate', '< 0.01'), { kind: 'value' });
  t.deepEqual(statistic('error_rate', 'rate < 0.01'), { kind: 'value' });
  t.deepEqual(statistic('error_rate', 'value < 0.01'), { kind: 'value' });
});

test('a malformed expression says what is wrong and what is allowed', (t) => {
  t.regex(statistic('headers_us', 'p99 50000') as string, /has no comparison: write "<statistic> <operator> <number>"/);
  t.regex(statistic('headers_us', 'rate < 5') as string, /"rate" is not a statistic of a histogram; use a percentile \(p99, p\(99.9\)\), mean, min, max or count/);
  t.regex(statistic('response_count', 'p99 < 5') as string, /"p99" is not a statistic of a counter; use count, rate or ratio/);
  t.regex(statistic('headers_us', 'p(101) < 5') as string, /p\(101\) is not a percentile/);
  t.regex(statistic('headers_us', 'p99 < fast') as string, /"fast" is not a number/);
  t.regex(statistic('conn_count', 'ratio(headers_us) < 1') as string, /the denominator must be another counter/);
});

test('an unknown metric is named, with what the user likely meant', (t) => {
  t.regex(statistic('headers', 'p99 < 1') as string, /unknown metric "headers".*did you mean "headers_us" for a timing or "headers_count" for a counter/);
  t.regex(statistic('headers_ms', 'p99 < 1') as string, /durations are recorded in microseconds: "headers_us"/);
  t.regex(statistic('response_per_second', '> 1') as string, /a rate is a statistic of its counter: "response_count": \["rate > \.\.\."\]/);
  t.regex(statistic('headers_us_p99', '< 1') as string, /the statistic goes in the expression: "headers_us"/);
});

test('the plan validator lists every threshold problem with its field path, beside the plan’s other problems', async (t) => {
  const result = await validatePlan({
    ...plan({
      headers_us: ['p99 < 50000', 'p99 50000', { threshold: 'p(99.9) < 1', abortOnFail: 'yes', gracePeriod: -1, window: 'hour', extra: 1 }],
      headers: ['p99 < 1'],
      error_rate: 'nope < 1',
      conn_count: [{ abortOnFail: true }],
      send_count: 42,
    }),
    size: 0,
  });
  t.false(result.ok);
  if (result.ok) return;
  const byPath = Object.fromEntries(result.problems.map((p) => [p.path, p.message]));
  t.deepEqual(Object.keys(byPath).sort(), [
    'size',
    'thresholds["conn_count"][0].threshold',
    'thresholds["error_rate"][0]',
    'thresholds["headers"]',
    'thresholds["headers_us"][1]',
    'thresholds["headers_us"][2].abortOnFail',
    'thresholds["headers_us"][2].extra',
    'thresholds["headers_us"][2].gracePeriod',
    'thresholds["headers_us"][2].window',
    'thresholds["send_count"]',
  ]);
  t.regex(byPath['thresholds["headers"]']!, /unknown metric "headers"/);
  t.regex(byPath['thresholds["conn_count"][0].threshold']!, /an expression is required/);
});

test('a valid thresholds field resolves with its defaults and stays in the plan', async (t) => {
  const input = { headers_us: ['p99 < 50000', { threshold: 'p(99.9) < 200ms', abortOnFail: true, gracePeriod: 10, window: 'interval' }] };
  const result = await validatePlan(plan(input));
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(result.plan.thresholds, input);
  const { thresholds, problems } = readThresholds(input);
  t.deepEqual(problems, []);
  t.deepEqual(thresholds[0], {
    metric: 'headers_us',
    expression: 'p99 < 50000',
    statistic: { kind: 'percentile', percentile: 99 },
    operator: '<',
    limit: 50000,
    window: 'run',
    abortOnFail: false,
    gracePeriod: 0,
  });
  t.like(thresholds[1], { limit: 200_000, window: 'interval', abortOnFail: true, gracePeriod: 10 });
});

test('--threshold is "<metric>: <expression>", added to the plan file’s thresholds', (t) => {
  t.deepEqual(parseThresholdOption('headers_us: p99 < 10000'), { ok: true, metric: 'headers_us', expression: 'p99 < 10000' });
  t.false(parseThresholdOption('headers_us p99 < 10000').ok);
  const { settings, problems } = parseRunOptions({ threshold: ['headers_us: p99 < 10000', 'error_rate: < 0.01', 'latency: p99 < 1'] }, {});
  t.is(problems.length, 1);
  t.is(problems[0]!.path, '--threshold');
  t.regex(problems[0]!.message, /unknown metric "latency"/);
  const built = buildPlan(settings, { name: 'x', scriptFile: 's.js', scriptSource: 'await get("/")', basePlan: { thresholds: { headers_us: ['p90 < 5000'] } } });
  t.deepEqual(built.plan.thresholds, { headers_us: ['p90 < 5000', 'p99 < 10000'], error_rate: ['< 0.01'] });
});
