import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import { CloudWatchWriter, isRetryable, type CloudWatchWriterOptions } from '../../ts/coordinator/cloudwatch-writer.js';
import { MAX_DATA_PER_REQUEST, batches, cloudWatchUnit, consoleUrl } from '../../ts/coordinator/cloudwatch-metrics.js';
import { CsvWriter, RESULTS_CSV } from '../../ts/coordinator/csv-writer.js';
import type { ReportRow } from '../../ts/coordinator/report-row.js';
import { fanOut, type RunInfo } from '../../ts/coordinator/writer.js';
import { HISTOGRAM_BOUNDS, KEY, METRIC, metricKind, rateName, type MetricKind } from '../../ts/shared/metrics.js';
import { CLOUDWATCH_TARGET, startCloudWatchEndpoint, type CloudWatchEndpoint, type RecordedDatum } from '../support/cloudwatch-endpoint.js';
import { closedPort } from '../support/closed-port.js';
import { localCloudWatchWriter } from '../support/cloudwatch-test-writer.js';
import { testPlan } from './fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { csvRecords } from '../support/results-csv.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const RUN_ID = 'cloudwatch-20260101T120000Z-0a1b';

async function runInfo(t: { teardown: (fn: () => Promise<void>) => void }): Promise<RunInfo> {
  return { runId: RUN_ID, plan: testPlan({ name: 'cloudwatch' }), startedAt: T0, dir: await tempDir(t) };
}

function writerFor(url: string, options: Partial<CloudWatchWriterOptions> = {}, log: string[] = []): CloudWatchWriter {
  return localCloudWatchWriter(url, { region: 'eu-west-1', log: (l) => log.push(l), ...options });
}

async function endpoint(t: { teardown: (fn: () => Promise<void>) => void }): Promise<CloudWatchEndpoint> {
  const e = await startCloudWatchEndpoint();
  t.teardown(() => e.close());
  return e;
}

const row = (elapsed: number, metrics: Record<string, number>, intervalSeconds = 60): ReportRow => ({
  elapsed,
  time: new Date(T0 + elapsed * 1000).toISOString(),
  intervalSeconds,
  metrics,
});

function histogram(values: number[]): Histogram {
  const h = new Histogram(HISTOGRAM_BOUNDS);
  h.recordMany(values);
  return h;
}

const byName = (data: RecordedDatum[]) => new Map(data.map((d) => [d.MetricName, d]));

test('names, the Run dimension, units, timestamps and values as CloudWatch receives them', async (t) => {
  const cw = await endpoint(t);
  const writer = writerFor(cw.url);
  await writer.open(await runInfo(t));
  const conn = histogram([100, 200, 300, 400, 1000]);
  const cpu = histogram([20, 40, 60]);
  const metrics = {
    active_device_number: 100,
    generator_count: 2,
    network_rx_bytes_per_second: 5000,
    network_tx_bytes_per_second: 7000,
    response_count: 600,
    response_per_second: 10,
    conn_refused_error_count: 3,
    conn_refused_error_per_second: 0.05,
    // The histograms' report columns: CloudWatch gets the histograms themselves instead.
    conn_us_mean: 400,
    conn_us_p99: 1000,
    cpu_percent_max: 60,
  };
  await writer.write(
    row(60, metrics),
    new Map([
      ['conn_us', conn],
      ['cpu_percent', cpu],
    ]),
  );
  await writer.write(row(120, { ...metrics, response_count: 1500, conn_refused_error_count: 3 }), new Map());
  await writer.close();

  t.true(cw.requests.length >= 1);
  for (const r of cw.requests) {
    t.is(r.target, CLOUDWATCH_TARGET);
    t.is(r.body.Namespace, 'Stressgrid');
    // Signed with the static credentials given, for the region asked for.
    t.regex(r.authorization ?? '', /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/monitoring\/aws4_request/);
  }
  const data = cw.accepted();
  for (const d of data) t.deepEqual(d.Dimensions, [{ Name: 'Run', Value: RUN_ID }]);
  const first = byName(data.filter((d) => d.Timestamp === (T0 + 60_000) / 1000));
  const second = byName(data.filter((d) => d.Timestamp === (T0 + 120_000) / 1000));
  t.is(first.size + second.size, data.length, 'every datum is stamped with the end of its interval');

  t.deepEqual(first.get('conn_us'), {
    MetricName: 'conn_us',
    Dimensions: [{ Name: 'Run', Value: RUN_ID }],
    Timestamp: (T0 + 60_000) / 1000,
    Unit: 'Microseconds',
    StatisticValues: { SampleCount: 5, Sum: conn.mean * 5, Minimum: 100, Maximum: conn.max },
  });
  t.is(Math.round(first.get('conn_us')!.StatisticValues!.Sum), 2000);
  t.like(first.get('conn_us_median'), { Unit: 'Microseconds', Value: conn.valueAtPercentile(50) });
  t.like(first.get('conn_us_p99'), { Unit: 'Microseconds', Value: conn.valueAtPercentile(99) });
  t.like(first.get('conn_us_p999'), { Unit: 'Microseconds' });
  t.like(first.get('cpu_percent'), { Unit: 'Percent', StatisticValues: { SampleCount: 3, Sum: cpu.mean * 3, Minimum: 20, Maximum: cpu.max } });
  t.like(first.get('cpu_percent_p90'), { Unit: 'Percent' });
  t.false(first.has('conn_us_mean') || first.has('cpu_percent_max'), 'histogram columns go as the histogram, not again as values');
  t.like(first.get('active_device_number'), { Unit: 'Count', Value: 100 });
  t.like(first.get('generator_count'), { Unit: 'Count', Value: 2 });
  t.like(first.get('network_rx_bytes_per_second'), { Unit: 'Bytes/Second', Value: 5000 });
  t.like(first.get('network_tx_bytes_per_second'), { Unit: 'Bytes/Second', Value: 7000 });
  t.like(first.get('response_per_second'), { Unit: 'Count/Second', Value: 10 });
  t.like(first.get('conn_refused_error_per_second'), { Unit: 'Count/Second', Value: 0.05 });
  // Counts are what was counted in each interval, so CloudWatch's Sum over a period is that period's count.
  t.like(first.get('response_count'), { Unit: 'Count', Value: 600 });
  t.like(second.get('response_count'), { Unit: 'Count', Value: 900 });
  t.like(second.get('conn_refused_error_count'), { Unit: 'Count', Value: 0 });
  t.false(second.has('conn_us'), 'an interval without values sends no statistic set');

  t.like(writer.status(), { writer: 'cloudwatch', sent: data.length, failed: 0, retries: 0, pending: 0 });
  t.is(writer.status().link, consoleUrl('eu-west-1', RUN_ID));
});

test('generator_count and active_device_number are gauges: every interval sends its own value, not the change since the last (regression)', async (t) => {
  const cw = await endpoint(t);
  const writer = writerFor(cw.url);
  await writer.open(await runInfo(t));
  const totals = [600, 1500, 1500];
  for (const [i, response_count] of totals.entries()) {
    await writer.write(row(60 * (i + 1), { generator_count: 3, active_device_number: 30, response_count, response_per_second: 10 }), new Map());
  }
  await writer.close();
  const intervals = totals.map((_, i) => byName(cw.accepted().filter((d) => d.Timestamp === (T0 + 60_000 * (i + 1)) / 1000)));
  t.deepEqual(
    intervals.map((d) => d.get('generator_count')?.Value),
    [3, 3, 3],
  );
  t.deepEqual(
    intervals.map((d) => d.get('active_device_number')?.Value),
    [30, 30, 30],
  );
  t.deepEqual(
    intervals.map((d) => d.get('response_per_second')?.Value),
    [10, 10, 10],
  );
  t.deepEqual(
    intervals.map((d) => d.get('response_count')?.Value),
    [600, 900, 0],
    'a counter still goes as what was counted in the interval',
  );
});

test('every kind of report column is known from its name', (t) => {
  const kinds: Record<MetricKind, string[]> = {
    gauge: ['generator_count', 'active_device_number', 'something_else'],
    counter: ['response_count', 'login_count', 'conn_refused_error_count', 'ws_sent_bytes_count'],
    rate: ['response_per_second', 'network_rx_bytes_per_second', 'network_tx_bytes_per_second', 'timeout_error_per_second'],
    histogram: ['conn_us', 'login_us_p99', 'headers_us_stddev', 'cpu_percent', 'cpu_percent_max', 'cpu_percent_median'],
  };
  for (const [kind, names] of Object.entries(kinds) as [MetricKind, string[]][]) for (const name of names) t.is(metricKind(name), kind, name);
});

test("units from names, for built-in metrics and scripts' own", (t) => {
  t.is(cloudWatchUnit('login_us'), 'Microseconds');
  t.is(cloudWatchUnit('login_us_p99'), 'Microseconds');
  t.is(cloudWatchUnit('login_count'), 'Count');
  t.is(cloudWatchUnit('login_per_second'), 'Count/Second');
  t.is(cloudWatchUnit('cpu_percent_median'), 'Percent');
  t.is(cloudWatchUnit('ws_sent_bytes_count'), 'Bytes');
  t.is(cloudWatchUnit('ws_received_bytes_per_second'), 'Bytes/Second');
  t.is(cloudWatchUnit(METRIC.socketSentBytesCount), 'Bytes');
  t.is(cloudWatchUnit(rateName(KEY.socketReceivedBytes)), 'Bytes/Second');
  t.is(cloudWatchUnit('ws_sent_frames_count'), 'Count');
  t.is(cloudWatchUnit('something_else'), 'None');
});

test("the console link searches the run's metrics in its region", (t) => {
  const url = consoleUrl('us-west-2', RUN_ID);
  t.true(url.startsWith('https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#metricsV2:'));
  const query = decodeURIComponent(url.slice(url.indexOf("query=~'") + 8).replace(/\*/g, '%'));
  t.is(query, `{Stressgrid,Run} "${RUN_ID}"`);
});

test('a large interval is split into requests of at most 1000 metric data', async (t) => {
  const cw = await endpoint(t);
  const writer = writerFor(cw.url);
  await writer.open(await runInfo(t));
  const metrics: Record<string, number> = {};
  for (let i = 0; i < 1250; i++) metrics[`key${String(i).padStart(4, '0')}_count`] = i;
  await writer.write(row(60, metrics), new Map());
  await writer.close();
  t.deepEqual(
    cw.requests.map((r) => r.body.MetricData!.length),
    [MAX_DATA_PER_REQUEST, 250],
  );
  // The SDK gzips large bodies; the endpoint read them back.
  t.true(cw.requests.every((r) => r.contentEncoding === 'gzip'));
  t.deepEqual(
    cw
      .accepted()
      .map((d) => d.MetricName)
      .sort(),
    Object.keys(metrics).sort(),
  );
  t.like(writer.status(), { sent: 1250, failed: 0 });
});

test('batches also keep each request under the byte limit, in order', (t) => {
  const data = Array.from({ length: 30 }, (_, i) => ({ MetricName: `m${i}`.padEnd(200, 'x'), Value: i }));
  const split = batches(data, 1000, 4096 + 2000);
  t.true(split.length > 1);
  for (const b of split) t.true(b.reduce((n, d) => n + JSON.stringify(d).length + 1, 4096) <= 4096 + 2000);
  t.deepEqual(split.flat(), data);
  t.deepEqual(batches([]), []);
});

test('throttling is retried with backoff until the data gets through', async (t) => {
  const cw = await endpoint(t);
  cw.answer = (i) => (i < 2 ? 'throttle' : i === 2 ? 'server-error' : 'ok');
  const log: string[] = [];
  const writer = writerFor(cw.url, {}, log);
  await writer.open(await runInfo(t));
  await writer.write(row(60, { response_count: 5 }), new Map());
  await writer.close();
  t.is(cw.requests.length, 4);
  t.deepEqual(
    cw.accepted().map((d) => d.MetricName),
    ['response_count'],
  );
  t.like(writer.status(), { sent: 1, failed: 0, retries: 3, pending: 0 });
  t.regex(log[0]!, /^CloudWatch: Throttling, HTTP 400: Rate exceeded; retrying in/);
  t.regex(log[1]!, /^CloudWatch: sending again after InternalServiceFault, HTTP 500/);
  t.is(log[2], `run ${RUN_ID}: cloudwatch: 1 metric data sent, none failed, 3 retries; see ${consoleUrl('eu-west-1', RUN_ID)}`);
  t.is(log.length, 3, 'a streak of failures is logged once, the recovery once, and the outcome at close');
});

test('throttling that never ends: the data is given up on, counted, and the writer does not block', async (t) => {
  const cw = await endpoint(t);
  cw.answer = () => 'throttle';
  const log: string[] = [];
  const writer = writerFor(cw.url, { maxAttempts: 3 }, log);
  await writer.open(await runInfo(t));
  await writer.write(row(60, { a_count: 1, b_count: 2 }), new Map());
  t.is(writer.status().sent + writer.status().failed, 0, 'write() returns before anything is sent');
  await writer.close();
  t.is(cw.requests.length, 3);
  t.like(writer.status(), { sent: 0, failed: 2, retries: 2, pending: 0 });
  t.regex(writer.status().lastError!, /Throttling/);
  t.true(log.some((l) => /gave up on 2 metric data after 3 tries: Throttling/.test(l)));
});

/** A writer against `url` with the default backoff whose waits are recorded and return at once. */
function recordingDelays(url: string, options: Partial<CloudWatchWriterOptions>, log: string[] = []): { writer: CloudWatchWriter; delays: number[] } {
  const delays: number[] = [];
  const sleep = (ms: number) => {
    delays.push(ms);
    return Promise.resolve();
  };
  return { writer: writerFor(url, { backoff: undefined, sleep, ...options }, log), delays };
}

/** The documented backoff: 1 s doubling to 30 s, each delay spread over ±50 % of itself. */
const BASE_DELAYS_MS = [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];

test('retries wait longer after each try: 1 s doubling to 30 s, within ±50 % jitter', async (t) => {
  for (const [random, factor] of [
    [() => 0, 0.5],
    [() => 0.5, 1],
    [() => 0.999_999, 1.5],
  ] as const) {
    const cw = await endpoint(t);
    cw.answer = () => 'throttle';
    const { writer, delays } = recordingDelays(cw.url, { maxAttempts: BASE_DELAYS_MS.length + 1, backoff: { random } });
    await writer.open(await runInfo(t));
    await writer.write(row(60, { response_count: 1 }), new Map());
    await writer.close();
    t.is(cw.requests.length, BASE_DELAYS_MS.length + 1);
    t.deepEqual(
      delays,
      BASE_DELAYS_MS.map((ms) => Math.round(ms * factor)),
      `jitter at ${factor}`,
    );
    t.like(writer.status(), { sent: 0, failed: 1, retries: BASE_DELAYS_MS.length });
  }

  // With real randomness, every delay stays within its attempt's bounds, and the next request starts from 1 s again.
  const cw = await endpoint(t);
  cw.answer = (i) => (i < 4 || (i >= 5 && i < 7) ? 'throttle' : 'ok');
  const { writer, delays } = recordingDelays(cw.url, { backoff: {} });
  await writer.open(await runInfo(t));
  await writer.write(row(60, { response_count: 1 }), new Map());
  await writer.write(row(120, { response_count: 2 }), new Map());
  await writer.close();
  t.is(cw.requests.length, 8);
  const bases = [...BASE_DELAYS_MS.slice(0, 4), ...BASE_DELAYS_MS.slice(0, 2)];
  t.is(delays.length, bases.length);
  delays.forEach((ms, i) => t.true(ms >= bases[i]! * 0.5 && ms <= bases[i]! * 1.5, `delay ${i + 1}: ${ms} ms, base ${bases[i]} ms`));
  t.like(writer.status(), { sent: 2, failed: 0, retries: 6 });
});

test('a refusal (no permission) is given up on after one try, without waiting', async (t) => {
  const cw = await endpoint(t);
  cw.answer = () => 'refuse';
  const log: string[] = [];
  const { writer, delays } = recordingDelays(cw.url, {}, log);
  await writer.open(await runInfo(t));
  await writer.write(row(60, { a_count: 1, b_count: 2 }), new Map());
  await writer.close();
  t.is(cw.requests.length, 1);
  t.deepEqual(delays, []);
  t.like(writer.status(), { sent: 0, failed: 2, retries: 0, pending: 0 });
  t.regex(writer.status().lastError!, /AccessDenied.*HTTP 403.*not authorized to perform: cloudwatch:PutMetricData/);
  t.true(
    log.some((l) => /gave up on 2 metric data after 1 try: AccessDenied/.test(l)),
    log.join('\n'),
  );
});

test('a refusal that retrying cannot fix is not retried', (t) => {
  t.false(isRetryable({ name: 'InvalidParameterValueException', $metadata: { httpStatusCode: 400 } }));
  t.false(isRetryable({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
  t.false(isRetryable({ name: 'CredentialsProviderError' }));
  t.true(isRetryable({ name: 'Throttling', $metadata: { httpStatusCode: 400 } }));
  t.true(isRetryable({ name: 'Error', code: 'ECONNREFUSED', $metadata: {} }));
  t.true(isRetryable({ name: 'InternalServiceError', $metadata: { httpStatusCode: 500 } }));
});

test("outage (connection refused): the run's other writers write everything, the CloudWatch data is counted as failed", async (t) => {
  const port = await closedPort();
  const log: string[] = [];
  const cloudWatch = writerFor(`http://127.0.0.1:${port}`, { maxAttempts: 2 }, log);
  const csv = new CsvWriter();
  const errors: unknown[] = [];
  const all = fanOut([csv, cloudWatch], (_w, e) => errors.push(e));
  const run = await runInfo(t);
  await all.open(run);
  await all.write(row(60, { response_count: 10 }), new Map());
  await all.write(row(120, { response_count: 20 }), new Map());
  await all.close();
  t.deepEqual(errors, [], 'CloudWatch failing is no writer error');
  const csvText = await readFile(join(run.dir, RESULTS_CSV), 'utf8');
  t.is(csvRecords(csvText).length, 3);
  t.like(all.statuses()[0], { writer: 'cloudwatch', sent: 0, failed: 2, pending: 0 });
  t.regex(all.statuses()[0]!.lastError!, /ECONNREFUSED/);
  t.true(log.some((l) => l.includes('gave up')));
});

test('an endpoint that never answers: close() gives up after its drain timeout, the queue stays bounded', async (t) => {
  const cw = await endpoint(t);
  cw.answer = () => 'hang';
  const log: string[] = [];
  const writer = writerFor(cw.url, { drainTimeoutMs: 300, maxPendingData: 3 }, log);
  await writer.open(await runInfo(t));
  // Every write resolves although the first request never gets an answer: sending never holds up the run.
  for (let i = 1; i <= 4; i++) await writer.write(row(60 * i, { [`m${i}_count`]: 1, [`n${i}_count`]: 1 }), new Map());
  // 8 data in 4 requests with room for 3: the first is in flight, the oldest queued ones were dropped.
  t.like(writer.status(), { sent: 0, failed: 4, pending: 4 });
  // The first request is really in flight (the endpoint holds it) before close starts its clock.
  for (const deadline = Date.now() + 10_000; cw.requests.length === 0 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(cw.requests.length, 1);
  const before = performance.now();
  await writer.close();
  const waited = performance.now() - before;
  t.true(waited >= 250 && waited < 5000, `close waited ${waited} ms`);
  t.like(writer.status(), { sent: 0, failed: 8, pending: 0 });
  t.is(cw.requests.length, 1);
  t.deepEqual(log.filter((l) => l.includes('queue full')).length, 2);
  t.true(log.includes('CloudWatch: 4 metric data still unsent 0.3 s after the run ended were given up on'), log.join('\n'));
});
