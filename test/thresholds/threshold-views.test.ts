import test from 'ava';
import { renderFrame, renderLine } from '../../ts/cli/live-view.js';
import { formatEndSummary } from '../../ts/cli/end-summary.js';
import type { RunSummary } from '../../ts/coordinator/run-summary.js';
import type { ThresholdResult } from '../../ts/shared/thresholds.js';
import { fakeSnapshot } from '../cli/fake-snapshot.js';

const results: ThresholdResult[] = [
  { metric: 'headers_us', expression: 'p99 < 10000', window: 'run', abortOnFail: false, gracePeriod: 0, ok: false, value: 85_500 },
  { metric: 'error_rate', expression: '< 0.01', window: 'interval', abortOnFail: false, gracePeriod: 0, ok: true, value: 0.002 },
  { metric: 'page_us', expression: 'p90 < 1s', window: 'run', abortOnFail: true, gracePeriod: 5, ok: null, value: null },
];

test('sgcli’s live view shows every threshold with pass, FAIL or wait and the value measured so far', (t) => {
  const frame = renderFrame(fakeSnapshot({ thresholds: results }), false).join('\n');
  t.regex(frame, /FAIL\s+headers_us: p99 < 10000\s+85\.5 ms/);
  t.regex(frame, /pass\s+error_rate: < 0\.01 \(each interval\)\s+0\.002/);
  t.regex(frame, /wait\s+page_us: p90 < 1s\s+no data/);
  t.regex(renderLine(fakeSnapshot({ thresholds: results })), / thresholds_failed=1 thresholds_passed=1/);
});

test('the end-of-run summary has the run, devices, requests, latencies, errors, thresholds and the busiest CPU', (t) => {
  const summary: RunSummary = {
    name: 'checkout',
    runId: 'checkout-20260101T000000Z-abcd',
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:30.000Z',
    desiredDevices: 25,
    effectiveDevices: 20,
    generatorCount: 2,
    maxCpuPercent: 91.5,
    errors: { conn_refused_error_count: 3 },
    errorTotal: 3,
    aborted: false,
    generatorsLost: [],
    durationSeconds: 30,
    counters: { response_count: 3000, conn_refused_error_count: 3 },
    histograms: { headers_us: { count: 3000, mean: 900, min: 100, p50: 800, p90: 1500, p99: 85_500, p999: 99_000, max: 120_000 } },
    thresholds: results.slice(0, 2).map((r) => ({ ...r, ok: r.ok ?? false })),
  };
  const text = formatEndSummary(summary).join('\n');
  t.regex(text, /run checkout \(checkout-20260101T000000Z-abcd\): done/);
  t.regex(text, /duration 0:30 +devices 20 \(desired 25\) +generators 2 +busiest generator CPU 91\.5%/);
  t.regex(text, /requests 3,000 \(100\/s\)/);
  t.regex(text, /latency \(ms\) +count +p50 +p90 +p99 +p99\.9 +max\n +headers_us +3,000 +0\.800 +1\.50 +85\.5 +99\.0 +120/);
  t.regex(text, /errors 3: conn_refused_error_count 3/);
  t.regex(text, /thresholds: 1 of 2 FAILED\n +FAIL +headers_us: p99 < 10000 +measured 85\.5 ms\n +pass +error_rate: < 0\.01 \(each interval\) +measured 0\.002/);
});
