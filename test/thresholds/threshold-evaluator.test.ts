import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import { Aggregator } from '../../ts/coordinator/aggregator.js';
import { ThresholdEvaluator } from '../../ts/coordinator/threshold-evaluator.js';
import type { Telemetry } from '../../ts/shared/protocol.js';
import { readThresholds, type ThresholdsInput } from '../../ts/shared/thresholds.js';

const RUN = 'checkout-20260101T000000Z-abcd';
const T0 = Date.UTC(2026, 0, 1);

function push(agg: Aggregator, generatorId: string, at: number, counters: Record<string, number>, samples: Record<string, number[]> = {}): void {
  const histograms: Record<string, Uint8Array> = {};
  for (const [name, values] of Object.entries(samples)) {
    const h = new Histogram();
    h.recordMany(values);
    histograms[name] = h.encode();
  }
  const t: Telemetry = { type: 'telemetry', generatorId, runId: RUN, seq: 0, at, intervalMs: 1000, activeDevices: 10, cpuPercent: 10, networkRxBytes: 0, networkTxBytes: 0, counters, histograms };
  agg.ingest(t, at);
}

function evaluator(input: ThresholdsInput): ThresholdEvaluator {
  const { thresholds, problems } = readThresholds(input);
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  return new ThresholdEvaluator(thresholds);
}

/** The exact percentile of raw samples, HdrHistogram's definition: the smallest value with at least p % at or below it. */
function rawPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

test('percentiles come from the histograms merged across generators, not from averaged percentiles', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  // A fast generator and a slow one: their p99s average to nothing like the run's p99.
  const fast = Array.from({ length: 9000 }, (_, i) => 1000 + (i % 1000));
  const slow = Array.from({ length: 1000 }, (_, i) => 200_000 + i * 100);
  push(agg, 'fast', T0 + 1000, { response_count: fast.length }, { headers_us: fast });
  push(agg, 'slow', T0 + 1000, { response_count: slow.length }, { headers_us: slow });
  const e = evaluator({ headers_us: ['p99 < 300000', 'p(90) < 5000', 'mean < 30000', 'max < 1000000', 'min >= 1000'] });
  const [p99, p90, mean, max, min] = e.evaluate(agg.wholeRun(T0 + 2000), null, true);
  const raw = [...fast, ...slow];
  const within = (value: number | null, exact: number) => value !== null && Math.abs(value - exact) <= exact * 0.001 + 1;
  t.true(within(p99!.value, rawPercentile(raw, 99)), `${p99!.value} vs ${rawPercentile(raw, 99)}`);
  t.true(within(p90!.value, rawPercentile(raw, 90)), `${p90!.value} vs ${rawPercentile(raw, 90)}`);
  t.true(within(mean!.value, raw.reduce((a, b) => a + b, 0) / raw.length));
  t.true(within(max!.value, Math.max(...raw)));
  t.true(within(min!.value, 1000));
  const averaged = (rawPercentile(fast, 99) + rawPercentile(slow, 99)) / 2;
  t.true(Math.abs(p99!.value! - averaged) > 50_000, 'the merged p99 is not the average of the generators’ p99s');
  t.is(p99!.ok, true);
  t.is(p90!.ok, true);
});

test('counters: total, rate over the run, ratio to another counter, and error_rate over responses plus errors', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  for (let s = 1; s <= 10; s++) {
    push(agg, 'g1', T0 + s * 1000, { response_count: 90, conn_refused_error_count: 5 });
    push(agg, 'g2', T0 + s * 1000, { response_count: 10, timeout_error_count: 5 });
  }
  const e = evaluator({
    response_count: ['count == 1000', 'rate > 99', 'rate > 101'],
    conn_refused_error_count: ['ratio(response_count) < 0.06', 'count == 0'],
    error_rate: ['< 0.1'],
  });
  const results = e.evaluate(agg.wholeRun(T0 + 10_000), null, true);
  t.deepEqual(
    results.map((r) => [r.expression, r.ok, r.value]),
    [
      ['count == 1000', true, 1000],
      ['rate > 99', true, 100],
      ['rate > 101', false, 100],
      ['ratio(response_count) < 0.06', true, 0.05],
      ['count == 0', false, 50],
      ['< 0.1', true, 100 / 1100],
    ],
  );
});

test('an interval threshold must hold in every interval; the worst interval is shown', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  const e = evaluator({ headers_us: [{ threshold: 'p99 < 10000', window: 'interval' }, 'p99 < 10000'] });
  // Two fast intervals and one slow one; over the whole run the slow one is under 1 % of the samples.
  for (const [end, value, n] of [
    [10_000, 1000, 1000],
    [20_000, 50_000, 5],
    [30_000, 2000, 1000],
  ] as const) {
    push(agg, 'g1', T0 + end - 500, { response_count: n }, { headers_us: new Array<number>(n).fill(value) });
    e.closeInterval(agg.closeInterval(T0 + end));
  }
  const [perInterval, wholeRun] = e.evaluate(agg.wholeRun(T0 + 30_000), null, true);
  t.is(perInterval!.ok, false);
  t.true(Math.abs(perInterval!.value! - 50_000) < 50);
  t.is(wholeRun!.ok, true);
});

test('nothing measured is unknown while live and a failure at the end; abortOnFail waits for its grace period', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  const e = evaluator({ page_us: [{ threshold: 'p99 < 1', abortOnFail: true, gracePeriod: 5 }], error_rate: [{ threshold: '< 0.5', abortOnFail: true }] });
  const live = e.evaluate(agg.wholeRun(T0 + 1000), agg.currentInterval(T0 + 1000));
  t.deepEqual(
    live.map((r) => r.ok),
    [null, true],
  );
  push(agg, 'g1', T0 + 2000, { response_count: 1 }, { page_us: [100] });
  const failing = e.evaluate(agg.wholeRun(T0 + 2000), null);
  t.is(failing[0]!.ok, false);
  t.is(e.abortingThreshold(failing, 4.9), null);
  const aborting = e.abortingThreshold(failing, 5);
  t.is(aborting?.metric, 'page_us');
  t.true(e.evaluate(agg.wholeRun(T0 + 2000), null, true)[0]!.aborted);
  t.deepEqual(
    evaluator({ page_us: ['p99 < 1'] })
      .evaluate(new Aggregator({ runId: RUN, startedAt: T0 }).wholeRun(T0), null, true)
      .map((r) => r.ok),
    [false],
  );
});
