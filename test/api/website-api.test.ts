/**
 * The API the website needs beyond runs: checking a plan without starting it,
 * reports listed with their summaries, a report's series read from its CSV, and
 * the modules the site loads from outside web/ (uPlot, shared definitions).
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiErrorBody, PlanChecked, ReportContents, ReportEntry, RunEnded, RunStarted } from '../../ts/coordinator/api-messages.js';
import { json, postJson } from '../support/api-client.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { readResultsCsv } from '../support/report-archive.js';
import { coordinatorFor, nginxPlan } from './coordinator-harness.js';

let nginx: NginxServer;
test.before(async () => {
  nginx = await startNginx();
});
test.after.always(async () => {
  await nginx?.stop();
});

test('a plan check lists every problem, a compile error with its line and column, and the effective devices; nothing starts', async (t) => {
  const c = await coordinatorFor(t, { generators: 2 });
  const response = await postJson(`${c.url}/api/plans/check`, {
    ...nginxPlan(nginx.port, { name: '', size: 45 }),
    blocks: [{ script: 'await get("/");\n\nconst x = ;\n' }],
    addresses: [{ host: 'http://x', port: 0 }],
  });
  t.is(response.status, 200);
  const checked = await json<PlanChecked>(response);
  t.false(checked.ok);
  t.deepEqual(checked.problems.map((p) => p.path).sort(), ['addresses[0].host', 'addresses[0].port', 'blocks[0].script', 'name']);
  const script = checked.problems.find((p) => p.path === 'blocks[0].script')!;
  t.is(script.line, 3);
  t.true(script.column! >= 1, `column ${script.column}`);
  t.regex(script.message, /^line 3, column \d+: /);
  t.like(checked, { generators: 2, stepSize: 20, effectiveDevices: 40 });
  t.regex(checked.effectiveMessage!, /45 desired devices rounded down to 40/);
  t.is(c.coordinator.run, undefined);
  t.deepEqual(await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`)), []);
});

test('a good plan checks clean; a size that is no number has no effective devices; a body that is no plan is a problem', async (t) => {
  const c = await coordinatorFor(t);
  const good = await json<PlanChecked>(await postJson(`${c.url}/api/plans/check`, nginxPlan(nginx.port, { size: 10 })));
  t.deepEqual(good, { ok: true, problems: [], generators: 1, stepSize: 10, effectiveDevices: 10, effectiveMessage: null });
  const badSize = await json<PlanChecked>(await postJson(`${c.url}/api/plans/check`, nginxPlan(nginx.port, { size: 'many' })));
  t.like(badSize, { ok: false, effectiveDevices: null });
  t.deepEqual(
    badSize.problems.map((p) => p.path),
    ['size'],
  );
  const notAPlan = await json<PlanChecked>(await postJson(`${c.url}/api/plans/check`, [1, 2]));
  t.like(notAPlan, { ok: false, effectiveDevices: 10 });
  t.is(notAPlan.problems.length, 1);
  const invalid = await postJson(`${c.url}/api/plans/check`, '{"name":');
  t.is(invalid.status, 400);
  t.is((await json<ApiErrorBody>(invalid)).error.code, 'invalid_json');
  t.is(c.coordinator.run, undefined);
});

test("reports carry their summary, and a report's series are its results.csv, column by column", async (t) => {
  const c = await coordinatorFor(t, { reportIntervalSeconds: 1 });
  const { runId } = await json<RunStarted>(await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port, { name: 'series', size: 10, sustain: 3 })));
  const ended = await c.coordinator.run!.done;
  t.is(ended.outcome, 'done');

  const [entry] = await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`));
  t.like(entry, { runId, summary: { name: 'series', runId, effectiveDevices: 10, desiredDevices: 10, errorTotal: 0, aborted: false } });
  t.true(entry!.summary!.maxCpuPercent! >= 0);

  const contents = await json<ReportContents>(await fetch(`${c.url}/api/reports/${runId}`));
  t.like(contents, { runId, summary: { name: 'series' }, plan: { name: 'series', size: 10 } });
  const rows = await readResultsCsv(join(c.dataDir, `${runId}.tar.gz`));
  t.true(rows.length >= 3, `${rows.length} rows`);
  t.deepEqual(
    contents.series.elapsed,
    rows.map((r) => Number(r.elapsed)),
  );
  t.deepEqual(
    contents.series.time,
    rows.map((r) => r.time),
  );
  t.deepEqual(
    Object.keys(contents.series.columns),
    Object.keys(rows[0]!).filter((k) => k !== 'elapsed' && k !== 'time'),
  );
  for (const column of ['response_per_second', 'active_device_number', 'headers_us_p99']) {
    t.deepEqual(
      contents.series.columns[column],
      rows.map((r) => (r[column] === '' ? null : Number(r[column]))),
      column,
    );
  }
  t.true(contents.series.columns.response_per_second!.some((v) => v !== null && v > 0));

  t.is((await fetch(`${c.url}/api/reports/${runId.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'))}`)).status, 404);
  const bad = await fetch(`${c.url}/api/reports/..%2Fx`);
  t.is(bad.status, 400);
  t.is((await json<ApiErrorBody>(bad)).error.code, 'invalid_run_id');
});

test('a report whose archive is damaged is listed without a summary and its series answer 500, not a crash', async (t) => {
  const c = await coordinatorFor(t);
  const runId = 'broken-20260101T120000Z-1a2b';
  await writeFile(join(c.dataDir, `${runId}.tar.gz`), 'not an archive');
  const [entry] = await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`));
  t.like(entry, { runId, summary: null });
  const response = await fetch(`${c.url}/api/reports/${runId}`);
  t.is(response.status, 500);
  t.is((await json<ApiErrorBody>(response)).error.code, 'internal');
  t.is((await fetch(`${c.url}/api/reports`)).status, 200);
});

test('the website loads uPlot from the installed package and the browser-safe shared modules; nothing else outside web/', async (t) => {
  const webDir = await mkdtemp(join(tmpdir(), 'sg-web-'));
  t.teardown(() => rm(webDir, { recursive: true, force: true }));
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Stressgrid</title>');
  const c = await coordinatorFor(t, { webDir, generators: 0 });
  const uplot = await fetch(`${c.url}/vendor/uplot/uPlot.esm.js`);
  t.is(uplot.status, 200);
  t.is(uplot.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.regex(await uplot.text(), /export \{ uPlot as default \}|export default/);
  t.is((await fetch(`${c.url}/vendor/uplot/uPlot.min.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
  const plan = await fetch(`${c.url}/shared/plan.js`);
  t.is(plan.status, 200);
  t.regex(await plan.text(), /export const PROTOCOLS/);
  for (const path of ['/shared/plan-validation.js', '/shared/token.js', '/vendor/uplot/package.json', '/vendor/uplot/../../tar/package.json']) {
    t.is((await fetch(`${c.url}${path}`)).status, 404, path);
  }
});

test('a run aborted from the API ends with its summary in the reports list', async (t) => {
  const c = await coordinatorFor(t);
  const { runId } = await json<RunStarted>(await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port, { name: 'aborted' })));
  const ended = await json<RunEnded>(await postJson(`${c.url}/api/runs/${runId}/abort`, { reason: 'enough' }));
  t.is(ended.outcome, 'aborted');
  const [entry] = await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`));
  t.like(entry, { runId, summary: { name: 'aborted', aborted: true, reason: 'enough' } });
});
