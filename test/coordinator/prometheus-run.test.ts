/**
 * Runs against nginx watched by a real Prometheus (Debian's 2.42): scraping
 * /metrics with the coordinator's token, and receiving remote write, also
 * through a receiver that fails for a while.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusRemoteWriter } from '../../ts/coordinator/prometheus-writer.js';
import type { RunResult } from '../../ts/coordinator/run.js';
import type { LiveSnapshot } from '../../ts/shared/live.js';
import { PROMETHEUS_BUCKET_RATIO } from '../../ts/shared/prometheus-names.js';
import { coordinatorFor, nginxPlan } from '../api/coordinator-harness.js';
import { startNginx } from '../support/nginx.js';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.js';
import { readResultsCsv } from '../support/report-archive.js';
import { until } from '../support/until.js';

/** The one value of an instant query, or undefined when it has none. */
async function scalar(prometheus: PrometheusServer, expr: string, time?: number): Promise<number | undefined> {
  const result = await prometheus.query(expr, time);
  return result.length === 1 ? Number(result[0]!.value[1]) : undefined;
}

/** Raw samples of a series over the last hour: [seconds, value][]. */
async function rawSamples(prometheus: PrometheusServer, selector: string): Promise<Array<[number, number]>> {
  const response = await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: `${selector}[1h]` }).toString()}`);
  const body = (await response.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
  if (body.data.result.length !== 1) throw new Error(`expected one series for ${selector}, got ${body.data.result.length}`);
  return body.data.result[0]!.values.map(([time, value]) => [time, Number(value)]);
}

/** `n` requests a device, `gapMs` apart, then idle past the run's end: none is in flight when the devices stop, so nginx's log is the count. */
const requests = (n: number, gapMs: number) => [{ script: `for (let i = 0; i < ${n}; i++) { await get("/"); await delay(${gapMs}); }\nawait delay(600000);` }];

/** Within one bucket of the histogram, plus HDR's 0.1 %. */
function withinOneBucket(fromBuckets: number, exact: number): boolean {
  const ratio = fromBuckets / exact;
  const slack = PROMETHEUS_BUCKET_RATIO * 1.001;
  return ratio <= slack && ratio >= 1 / slack;
}

test.serial("Prometheus scrapes /metrics with the token during a run: the response counter equals nginx's log, the p99 matches summary.json", async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const token = 'scrape-secret';
  const c = await coordinatorFor(t, { token, reportIntervalSeconds: 60 });
  const prometheus = await startPrometheus({ scrape: { target: `127.0.0.1:${c.api.port}`, token } });
  t.teardown(() => prometheus.stop());
  await until(async () => (await scalar(prometheus, 'stressgrid_generators_connected')) === 1, 20_000, 'the first scrape');

  const started = await c.coordinator.start(nginxPlan(nginx.port, { name: 'scraped', sustain: 6, blocks: requests(30, 50) }));
  if (!started.ok) throw new Error(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done');
  const runId = result.runId;
  t.is(result.summary!.counters!.response_count, 300);
  const logged = (await nginx.waitForAccessLog(300)).length;
  t.is(logged, 300);

  // A scrape after the end sees the final totals: the series are the run's own (run_id), from 0.
  const selector = `{run="scraped",run_id="${runId}"}`;
  await until(async () => (await scalar(prometheus, `stressgrid_response_total${selector}`)) === logged, 15_000, 'a scrape after the run');
  t.is(await scalar(prometheus, `max_over_time(stressgrid_response_total${selector}[1h])`), logged);
  // The series starts from 0 at the run's start (what the first scrape that met it served), so increase() over the run is the whole count.
  const scraped = await rawSamples(prometheus, `stressgrid_response_total${selector}`);
  t.deepEqual(scraped[0]![1], 0);
  t.is(await scalar(prometheus, `increase(stressgrid_response_total${selector}[1h])`, scraped.at(-1)![0]), logged);
  t.is(await scalar(prometheus, `increase(stressgrid_headers_seconds_count${selector}[1h])`, scraped.at(-1)![0]), logged);
  t.is(await scalar(prometheus, `stressgrid_headers_seconds_count${selector}`), logged);
  t.true((await prometheus.targets()).every((target) => target.health === 'up'));

  const p99 = (await scalar(prometheus, `histogram_quantile(0.99, stressgrid_headers_seconds_bucket${selector})`))!;
  const exact = result.summary!.histograms!.headers_us!.p99 / 1e6;
  t.true(withinOneBucket(p99, exact), `p99 from the buckets ${p99} s, summary.json ${exact} s`);

  // What ran is there too: devices, generators, their CPU and network, the coordinator's own process.
  t.is(await scalar(prometheus, `max_over_time(stressgrid_active_devices${selector}[1h])`), 10);
  t.is(await scalar(prometheus, `stressgrid_desired_devices${selector}`), 10);
  t.is(await scalar(prometheus, `max_over_time(stressgrid_generators${selector}[1h])`), 1);
  t.true((await scalar(prometheus, `stressgrid_generator_network_transmit_bytes_total{run_id="${runId}",generator="gen-1"}`))! > 0);
  t.truthy(await scalar(prometheus, `max_over_time(stressgrid_generator_cpu_ratio{run_id="${runId}",generator="gen-1"}[1h])`));
  t.true((await scalar(prometheus, 'process_resident_memory_bytes{job="stressgrid"}'))! > 0);

  // Every query of the Grafana dashboard runs on these metrics; those of a run without errors or writers show data.
  const dashboard = JSON.parse(readFileSync(new URL('../../../deploy/grafana/stressgrid-dashboard.json', import.meta.url), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  // Read when half the requests were done, traffic flowing, and never at the series' first scrape: a rate needs two.
  const responses = await rawSamples(prometheus, `stressgrid_response_total${selector}`);
  const during =
    responses[
      Math.max(
        1,
        responses.findIndex(([, value]) => value >= logged / 2),
      )
    ]![0];
  // The quantile series hold the last second's exact quantiles, so they are read while requests flowed: some seconds after the last request they go stale, which may be before the run ends.
  t.is((await prometheus.query(`stressgrid_headers_seconds_quantile${selector}`, during)).length, 4);
  const mayBeEmpty = new Set(['Errors by kind', 'Writers: samples sent and failed', 'Connect and body latency: p99 each second']);
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets) {
      const query = expr.replaceAll('$run_id', runId).replaceAll('$run', 'scraped').replaceAll('$__rate_interval', '5s');
      const answer = await prometheus.query(query, during);
      if (!mayBeEmpty.has(panel.title)) t.true(answer.length > 0, `${panel.title}: ${query}`);
    }
  }
});

test.serial("remote write into Prometheus: a sample every second of the run, the counts equal nginx's", async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const prometheus = await startPrometheus({ remoteWriteReceiver: true });
  t.teardown(() => prometheus.stop());
  const c = await coordinatorFor(t, {
    reportIntervalSeconds: 60,
    extraWriters: () => [new PrometheusRemoteWriter({ url: prometheus.remoteWriteUrl, labels: [['env', 'ci']] })],
  });
  const started = await c.coordinator.start(nginxPlan(nginx.port, { name: 'pushed', sustain: 5, blocks: requests(30, 50) }));
  if (!started.ok) throw new Error(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0);
  const logged = (await nginx.waitForAccessLog(300)).length;
  t.is(logged, 300);
  const status = result.summary!.writers!.find((w) => w.writer === 'prometheus')!;
  t.like(status, { failed: 0, pending: 0, retries: 0 });
  t.true(status.sent > 0);

  const selector = `stressgrid_response_total{run="pushed",run_id="${result.runId}",env="ci"}`;
  const samples = await rawSamples(prometheus, selector);
  t.is(samples.at(-1)![1], logged, 'the last sample is every response');
  t.is(samples[0]![1], 0, "the series starts from 0, so its increase is the run's");
  const started_ = Date.parse(result.summary!.startedAt) / 1000;
  const ended = Date.parse(result.summary!.endedAt) / 1000;
  t.true(samples[0]![0] <= started_ + 1.5, 'from the start of the run');
  t.true(samples.at(-1)![0] >= ended - 1.5, 'to its end');
  const gaps = samples.slice(1).map(([time], i) => time - samples[i]![0]);
  t.log(`${samples.length} samples, the longest gap ${Math.max(...gaps).toFixed(3)} s, the end of the run ${(ended - samples.at(-1)![0]).toFixed(3)} s after the last`);
  gaps.forEach((gap, i) => t.true(gap <= 1.5, `a sample every second (a gap of ${gap.toFixed(3)} s before sample ${i + 1} of ${samples.length})`));
  t.true(samples.length >= 6);
  const count = await rawSamples(prometheus, `stressgrid_headers_seconds_count{run_id="${result.runId}"}`);
  t.is(count.at(-1)![1], logged);
});

/** Forwards to Prometheus, or answers 500, or is not there at all, as the test says. */
async function unreliableReceiver(target: string): Promise<{ url: string; mode(m: 'forward' | 'error' | 'down'): Promise<void>; close(): Promise<void> }> {
  let mode: 'forward' | 'error' = 'forward';
  const handler = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (mode === 'error') {
      response.writeHead(500).end('storage unavailable');
      return;
    }
    const forwarded = await fetch(target, { method: 'POST', headers: request.headers as Record<string, string>, body: Buffer.concat(chunks) });
    response.writeHead(forwarded.status).end(await forwarded.text());
  };
  let server: Server = createServer((q, s) => void handler(q, s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  let down = false;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    async mode(m) {
      if (m === 'down') {
        down = true;
        return close();
      }
      mode = m;
      if (down) {
        down = false;
        server = createServer((q, s) => void handler(q, s));
        await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      }
    },
    close: () => (down ? Promise.resolve() : close()),
  };
}

test.serial('a receiver answering 500, then down: the run and its report are whole, failures counted and shown, later samples accepted', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const prometheus = await startPrometheus({ remoteWriteReceiver: true });
  t.teardown(() => prometheus.stop());
  const receiver = await unreliableReceiver(prometheus.remoteWriteUrl);
  t.teardown(() => receiver.close());
  const c = await coordinatorFor(t, {
    reportIntervalSeconds: 2,
    extraWriters: () => [new PrometheusRemoteWriter({ url: receiver.url, backoff: { initialMs: 200, maxMs: 800 }, maxAttempts: 100 })],
  });
  const snapshots: LiveSnapshot[] = [];
  const notices: string[] = [];
  c.coordinator.observe({ onLive: (s) => snapshots.push(s), onNotice: (m) => notices.push(m) });
  const started = await c.coordinator.start(nginxPlan(nginx.port, { name: 'unreliable', sustain: 9, blocks: requests(30, 100) }));
  if (!started.ok) throw new Error(JSON.stringify(started));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await receiver.mode('error');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await receiver.mode('down');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  await receiver.mode('forward');
  const recoveredAt = Date.now() / 1000;
  const result: RunResult = await started.run.done;

  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0, 'a failing receiver does not make the load test broken');
  const logged = (await nginx.waitForAccessLog(300)).length;
  t.is(logged, 300);
  const rows = await readResultsCsv(result.archivePath!);
  t.true(rows.length >= 5, 'every report interval written');
  t.is(Number(rows.at(-1)!.response_count), logged, 'the CSV counted every response');

  const status = result.summary!.writers!.find((w) => w.writer === 'prometheus')!;
  t.true(status.retries > 0, 'the failures were counted');
  t.is(status.pending, 0);
  t.true(
    snapshots.some((s) => (s.writers?.find((w) => w.writer === 'prometheus')?.retries ?? 0) > 0),
    'and shown live',
  );
  t.true(
    notices.some((n) => n.startsWith('prometheus: ') && / retr(y|ies)/.test(n)),
    notices.join('\n'),
  );

  // Everything queued while it failed went through once it came back, in order, and so did what followed.
  const samples = await rawSamples(prometheus, `stressgrid_response_total{run_id="${result.runId}"}`);
  t.is(samples.at(-1)![1], logged);
  t.true(
    samples.some(([time]) => time > recoveredAt + 1),
    'samples after the recovery',
  );
  for (let i = 1; i < samples.length; i++) t.true(samples[i]![0] - samples[i - 1]![0] <= 1.5, `no second lost (gap at ${samples[i]![0]})`);
  t.is(status.failed, 0, 'nothing given up on');
});

test.serial('with a token, /metrics refuses requests without it, and Prometheus without it sees the target down', async (t) => {
  const c = await coordinatorFor(t, { token: 'the-token' });
  const none = await fetch(`${c.url}/metrics`);
  t.is(none.status, 401);
  t.is((await fetch(`${c.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.is((await fetch(`${c.url}/metrics?token=the-token`)).status, 401, 'no token in the query: it would end up in logs');
  const ok = await fetch(`${c.url}/metrics`, { headers: { authorization: 'Bearer the-token' } });
  t.is(ok.status, 200);
  t.regex(await ok.text(), /^stressgrid_generators_connected 1$/m);

  const prometheus = await startPrometheus({ scrape: { target: `127.0.0.1:${c.api.port}` } });
  t.teardown(() => prometheus.stop());
  await until(async () => (await prometheus.targets()).some((target) => target.health === 'down'), 20_000, 'a scrape');
  t.regex((await prometheus.targets())[0]!.lastError, /401/);
});
