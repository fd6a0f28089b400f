/**
 * The Prometheus formats on their own: the text exposition as promtool checks
 * it, OpenMetrics's differences, content negotiation, the bucket bounds, and
 * the remote-write body and batching as a receiver decodes them.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram } from '../../ts/hdr/index.js';
import { renderExposition, wantsOpenMetrics } from '../../ts/coordinator/prometheus-exposition.js';
import { decodeWriteRequest, type RemoteWriteSeries } from '../../ts/coordinator/prometheus-remote-write.js';
import { runFamilies, runLabels } from '../../ts/coordinator/prometheus-series.js';
import { PrometheusRemoteWriter } from '../../ts/coordinator/prometheus-writer.js';
import { PrometheusScrape } from '../../ts/coordinator/prometheus-scrape.js';
import type { GeneratorRegistry } from '../../ts/coordinator/generator-registry.js';
import { prometheusSettings } from '../../ts/coordinator/prometheus-writer-kind.js';
import { processFamilies } from '../../ts/coordinator/process-metrics.js';
import type { SecondSample } from '../../ts/coordinator/writer.js';
import { HISTOGRAM_BOUNDS } from '../../ts/shared/metrics.js';
import { PROMETHEUS_BUCKETS_SECONDS, PROMETHEUS_BUCKET_RATIO, prometheusMetric } from '../../ts/shared/prometheus-names.js';
import { fakeSnapshot } from '../cli/fake-snapshot.js';
import { until } from '../support/until.js';

function sample(time = Date.now()): SecondSample {
  const headers = new Histogram(HISTOGRAM_BOUNDS);
  for (let v = 100; v <= 10_000; v += 100) headers.record(v);
  return {
    time,
    snapshot: fakeSnapshot({ name: 'he said "hi"\\' }),
    runHistograms: new Map([['headers_us', headers]]),
    generatorBytes: new Map([['local', { rx: 1000, tx: 2000 }]]),
  };
}

test('names: counters get _total, latencies seconds, other names none', (t) => {
  t.like(prometheusMetric('response_count'), { type: 'counter', name: 'stressgrid_response_total' });
  t.like(prometheusMetric('conn_refused_error_count'), { type: 'counter', name: 'stressgrid_conn_refused_error_total' });
  t.like(prometheusMetric('headers_us'), { type: 'histogram', name: 'stressgrid_headers_seconds', quantileName: 'stressgrid_headers_seconds_quantile' });
  t.like(prometheusMetric('headers_intended_us'), { name: 'stressgrid_headers_intended_seconds' });
  t.is(prometheusMetric('response_per_second'), null);
  t.is(prometheusMetric('generator_count'), null);
});

test('bucket bounds: fixed, ascending, each about 19 % above the last, from 1 µs to past 60 s', (t) => {
  const b = PROMETHEUS_BUCKETS_SECONDS;
  t.true(b[0]! < 1e-6 && b.at(-1)! > 60);
  for (let i = 1; i < b.length; i++) t.true(Math.abs(b[i]! / b[i - 1]! / PROMETHEUS_BUCKET_RATIO - 1) < 0.001, `${b[i - 1]} → ${b[i]}`);
});

test('the text format passes promtool, its buckets are cumulative and exact, labels escaped', (t) => {
  const families = [...runFamilies(sample(), runLabels(sample())), ...processFamilies()];
  const text = renderExposition(families, false);
  const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(check.status, 0, `${check.stdout}${check.stderr}`);
  t.regex(text, /^# TYPE stressgrid_response_total counter$/m);
  t.regex(text, /^stressgrid_response_total\{run="he said \\"hi\\"\\\\",run_id="demo-20250101T120000Z"\} 12345$/m);
  // 100 µs .. 10 ms in steps of 100 µs: 10 values at or below 1 ms's bucket (0.0009766 s holds 900 µs and below: 9).
  t.regex(text, /^stressgrid_headers_seconds_bucket\{[^}]*le="0\.0009766"\} 9$/m);
  t.regex(text, /^stressgrid_headers_seconds_bucket\{[^}]*le="\+Inf"\} 100$/m);
  t.regex(text, /^stressgrid_headers_seconds_count\{[^}]*\} 100$/m);
  t.regex(text, /^stressgrid_headers_seconds_quantile\{[^}]*quantile="0\.99"\} 0\.001204$/m);
  t.regex(text, /^stressgrid_generator_cpu_ratio\{[^}]*generator="local"\} 0\.1234$/m);
  t.regex(text, /^stressgrid_generator_network_transmit_bytes_total\{[^}]*generator="local"\} 2000$/m);
  t.regex(text, /^process_resident_memory_bytes \d+$/m);
  t.notRegex(text, /# EOF/);
  const counts = [...text.matchAll(/^stressgrid_headers_seconds_bucket\{.*\} (\d+)$/gm)].map((m) => Number(m[1]));
  t.deepEqual(
    counts,
    [...counts].sort((a, b) => a - b),
    'cumulative',
  );
});

test('OpenMetrics: counter families without _total, units where the name ends in one, # EOF', (t) => {
  const text = renderExposition(runFamilies(sample(), runLabels(sample())), true);
  t.regex(text, /^# TYPE stressgrid_response counter$/m);
  t.regex(text, /^stressgrid_response_total\{/m);
  t.regex(text, /^# UNIT stressgrid_headers_seconds seconds$/m);
  t.regex(text, /^# UNIT stressgrid_generator_network_receive_bytes bytes$/m);
  t.notRegex(text, /^# UNIT stressgrid_headers_seconds_quantile/m);
  t.true(text.endsWith('# EOF\n'));
});

test('scrapes: a counting series is first served as 0 at the run start (its timestamp in each format), then its value; gauges at once', (t) => {
  const registry = { size: 1 } as unknown as GeneratorRegistry;
  const scrape = new PrometheusScrape(registry);
  const now = Date.UTC(2025, 0, 1, 12, 0, 10);
  const first = sample(now);
  scrape.update(first);
  const startedAt = now - first.snapshot.elapsed * 1000;
  const text = renderExposition(scrape.families(), false);
  const check = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(check.status, 0, `${check.stdout}${check.stderr}`);
  t.regex(text, new RegExp(`^stressgrid_response_total\\{[^}]*\\} 0 ${startedAt}$`, 'm'));
  t.regex(text, new RegExp(`^stressgrid_headers_seconds_count\\{[^}]*\\} 0 ${startedAt}$`, 'm'));
  t.regex(text, new RegExp(`^stressgrid_headers_seconds_bucket\\{[^}]*le="\\+Inf"\\} 0 ${startedAt}$`, 'm'));
  t.regex(text, /^stressgrid_generator_cpu_ratio\{[^}]*generator="local"\} 0\.1234$/m, 'a gauge is served as it is');
  scrape.update(sample(now + 1000));
  const second = renderExposition(scrape.families(), true);
  t.regex(second, /^stressgrid_response_total\{[^}]*\} 12345$/m);
  t.regex(second, /^stressgrid_headers_seconds_count\{[^}]*\} 100$/m);
  // A new run starts from 0 again; OpenMetrics counts its timestamps in seconds.
  const next = sample(now + 60_000);
  next.snapshot = { ...next.snapshot, runId: 'demo-20250101T120100Z' };
  scrape.update(next);
  const third = renderExposition(scrape.families(), true);
  t.regex(third, new RegExp(`^stressgrid_response_total\\{[^}]*run_id="demo-20250101T120100Z"\\} 0 ${(startedAt + 60_000) / 1000}$`, 'm'));
});

test('content negotiation: OpenMetrics when the Accept header prefers it', (t) => {
  t.true(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'));
  t.true(wantsOpenMetrics('application/openmetrics-text'));
  t.false(wantsOpenMetrics('text/plain;version=0.0.4'));
  t.false(wantsOpenMetrics(undefined));
  t.false(wantsOpenMetrics('*/*'));
  t.false(wantsOpenMetrics('application/openmetrics-text;q=0.2,text/plain'));
});

test('settings: off without a URL; credentials in the URL become basic auth; every problem at once', (t) => {
  t.deepEqual(prometheusSettings({}, {}), { ok: true, settings: null });
  const fromUrl = prometheusSettings({ prometheusRemoteWrite: 'https://me:p%40ss@metrics.example/api/v1/push' }, { PROMETHEUS_REMOTE_WRITE_LABELS: 'env=ci, team=load' });
  t.deepEqual(fromUrl, {
    ok: true,
    settings: {
      url: 'https://metrics.example/api/v1/push',
      labels: [
        ['env', 'ci'],
        ['team', 'load'],
      ],
      basicAuth: { username: 'me', password: 'p@ss' },
    },
  });
  const flagWins = prometheusSettings(
    { prometheusRemoteWrite: 'http://a:9090/api/v1/write' },
    { PROMETHEUS_REMOTE_WRITE_URL: 'http://b:9090/api/v1/write', PROMETHEUS_REMOTE_WRITE_BEARER_TOKEN: 'tok' },
  );
  t.deepEqual(flagWins, { ok: true, settings: { url: 'http://a:9090/api/v1/write', bearerToken: 'tok' } });
  const bad = prometheusSettings({}, { PROMETHEUS_REMOTE_WRITE_LABELS: 'generator=x', PROMETHEUS_REMOTE_WRITE_PASSWORD: 'p' });
  t.false(bad.ok);
  if (!bad.ok)
    t.deepEqual(
      bad.problems.map((p) => p.setting),
      ['PROMETHEUS_REMOTE_WRITE_LABELS (or --prometheus-remote-write-labels)', 'PROMETHEUS_REMOTE_WRITE_PASSWORD', 'PROMETHEUS_REMOTE_WRITE_URL (or --prometheus-remote-write)'],
    );
});

/** A receiver that decodes what it gets, answering `status()` for each request after waiting `delayMs`. */
async function receiver(status: (request: number) => number, delayMs = 0) {
  const requests: Array<{ headers: Record<string, string | string[] | undefined>; series: RemoteWriteSeries[] }> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      requests.push({ headers: request.headers, series: decodeWriteRequest(Buffer.concat(chunks)) });
      const answer = status(requests.length - 1);
      setTimeout(() => response.writeHead(answer).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const run = { runId: 'demo-20250101T120000Z', plan: {} as never, startedAt: 1_000_000, dir: '/nowhere' };

test('remote write: snappy protobuf with the headers and credentials; seconds queued behind a slow request go together, each series in time order, a counter from 0', async (t) => {
  const r = await receiver(() => 204, 300);
  t.teardown(() => r.close());
  const writer = new PrometheusRemoteWriter({ url: r.url, bearerToken: 'secret', labels: [['env', 'ci']] });
  await writer.open(run);
  for (let i = 1; i <= 4; i++) writer.writeSecond(sample(run.startedAt + i * 1000));
  await writer.close();
  t.is(r.requests.length, 2, 'the first second alone, then the three that waited behind it');
  const { headers } = r.requests[0]!;
  t.like(headers, { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', authorization: 'Bearer secret' });
  const responses = (i: number) => r.requests[i]!.series.find((s) => s.labels.some(([k, v]) => k === '__name__' && v === 'stressgrid_response_total'))!;
  t.deepEqual(responses(0).labels, [
    ['__name__', 'stressgrid_response_total'],
    ['env', 'ci'],
    ['run', 'he said "hi"\\'],
    ['run_id', run.runId],
  ]);
  t.deepEqual(responses(0).samples, [
    { value: 0, timestampMs: run.startedAt },
    { value: 12_345, timestampMs: run.startedAt + 1000 },
  ]);
  t.deepEqual(
    responses(1).samples.map((s) => s.timestampMs),
    [2000, 3000, 4000].map((ms) => run.startedAt + ms),
  );
  const gauge = r.requests[0]!.series.find((s) => s.labels.some(([, v]) => v === 'stressgrid_active_devices'))!;
  t.is(gauge.samples.length, 1, 'a gauge gets no 0 before it');
  const status = writer.status();
  t.like(status, { writer: 'prometheus', failed: 0, pending: 0, retries: 0 });
  t.is(
    status.sent,
    r.requests.reduce((n, q) => n + q.series.reduce((m, s) => m + s.samples.length, 0), 0),
  );
});

test('remote write: a 400 is given up on at once and counted; the next second is sent', async (t) => {
  const r = await receiver((request) => (request === 0 ? 400 : 200));
  t.teardown(() => r.close());
  const log: string[] = [];
  const writer = new PrometheusRemoteWriter({ url: r.url, log: (l) => log.push(l) });
  await writer.open(run);
  writer.writeSecond(sample(run.startedAt + 1000));
  await until(() => r.requests.length > 0 && writer.status().failed > 0, 15_000, 'the first request');
  writer.writeSecond(sample(run.startedAt + 2000));
  await writer.close();
  const status = writer.status();
  t.is(r.requests.length, 2);
  t.true(status.failed > 0 && status.sent > 0);
  t.is(status.retries, 0);
  t.regex(status.lastError!, /^HTTP 400/);
  t.true(
    log.some((l) => /^Prometheus: gave up on \d+ samples after 1 try: HTTP 400/.test(l)),
    log.join('\n'),
  );
});
