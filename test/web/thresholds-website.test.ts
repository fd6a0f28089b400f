/**
 * Thresholds on the website, in headless Chromium against a real coordinator, a
 * stressgrid-generator process and nginx: the live view shows each threshold
 * pass or fail as the run goes, the reports list and the report page keep the
 * verdict, and the HTML report the site links opens with every chart.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import type { ReportEntry, RunStarted } from '../../ts/coordinator/api-messages.js';
import { nginxPlan, startTestCoordinator } from '../api/coordinator-harness.js';
import { json, postJson } from '../support/api-client.js';
import { launchBrowser } from '../support/browser.js';
import { startGeneratorProcess } from '../support/generator-process.js';
import { startNginx } from '../support/nginx.js';
import { until } from '../support/until.js';

/** The text colour Chromium draws an element in (run in the page, where getComputedStyle is). */
const colourOf = (node: unknown): string => (globalThis as unknown as { getComputedStyle(element: unknown): { color: string } }).getComputedStyle(node).color;

const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

test('the website shows thresholds passing and failing, live and in the report, and links the HTML report', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const c = await startTestCoordinator({ webDir: WEB_DIR, reportIntervalSeconds: 1, generators: 0, generatorPort: true });
  t.teardown(() => c.stop());
  const generator = startGeneratorProcess({ url: c.generatorUrl!, id: 'gen-1' });
  t.teardown(async () => {
    generator.kill('SIGKILL');
    await generator.exited;
  });
  await c.waitForGenerator('gen-1');
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const { page } = browser;
  await page.goto(c.url);

  const plan = nginxPlan(nginx.port, {
    name: 'verdicts',
    sustain: 4,
    thresholds: { headers_us: ['p99 < 10s'], response_count: ['rate > 1000000'] },
  });
  const started = await json<RunStarted>(await postJson(`${c.url}/api/runs`, plan));
  const live = page.locator('#live [data-live="thresholds"]');
  const row = (label: string) => live.locator(`tr[data-threshold="${label}"]`);
  await row('headers_us: p99 < 10s').and(page.locator('[data-ok="true"]')).waitFor({ timeout: 15_000 });
  await row('response_count: rate > 1000000').and(page.locator('[data-ok="false"]')).waitFor({ timeout: 15_000 });
  t.is(await row('headers_us: p99 < 10s').locator('td').first().textContent(), 'pass');
  t.is(await row('response_count: rate > 1000000').locator('td').first().textContent(), 'FAIL');
  t.regex((await live.locator('.verdict').textContent()) ?? '', /1 of 2 thresholds failed/);
  t.is(await row('response_count: rate > 1000000').locator('td').first().evaluate(colourOf), 'rgb(220, 38, 38)', 'a failing threshold is red');

  // The end: the verdict stays, with a link to the HTML report.
  const ended = page.locator('#live [data-live="ended"]');
  await ended.getByRole('link', { name: 'HTML report' }).waitFor({ timeout: 20_000 });
  t.regex((await live.locator('.verdict').textContent()) ?? '', /1 of 2 thresholds failed/);

  await until(async () => (await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`))).some((r) => r.runId === started.runId), 15_000, 'the report is listed');
  await page.goto(`${c.url}/#/reports`);
  const listed = page.locator(`tr[data-run-id="${started.runId}"]`);
  await listed.waitFor();
  t.true(((await listed.textContent()) ?? '').includes('1 of 2 failed'));

  await page.goto(`${c.url}/#/reports/${started.runId}`);
  const verdict = page.locator('#view-report [data-report="thresholds"] .verdict');
  await verdict.waitFor();
  t.regex((await verdict.textContent()) ?? '', /1 of 2 thresholds failed/);
  t.is(await page.locator('#view-report tr[data-threshold="headers_us: p99 < 10s"]').getAttribute('data-ok'), 'true');
  t.is(await page.locator('#view-report tr[data-threshold="response_count: rate > 1000000"]').getAttribute('data-ok'), 'false');

  const href = await page.locator('#view-report [data-report="html"]').getAttribute('href');
  t.is(href, `/results/${started.runId}.html`);
  const popup = page.context().waitForEvent('page');
  await page.locator('#view-report [data-report="html"]').click();
  const report = await popup;
  await report.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 15_000 });
  t.true((await report.locator('[data-report="charts"] figure canvas').count()) > 3);
  t.is(await report.locator('[data-report="thresholds"] tr[data-threshold="response_count: rate > 1000000"]').getAttribute('data-ok'), 'false');
  await report.close();

  t.deepEqual(browser.offLoopback, []);
  t.deepEqual(browser.pageErrors, []);
});
