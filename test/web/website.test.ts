/**
 * The management website end to end: headless Chromium (Debian's) against a
 * real coordinator serving web/, a real stressgrid-generator process connected
 * to its generator port over WebSocket, and a real nginx. The form is filled by
 * its labels, as a user (or a screen reader) finds the fields. Every request the
 * page makes must stay on loopback. A few tests need what a real generator
 * cannot be made to do on demand (report 95 % CPU) or a second coordinator (a
 * token, CloudWatch); they bring their own.
 *
 * With STRESSGRID_SCREENSHOTS=<folder> the tests also save the main views there
 * (docs/screenshots is where the README takes them from).
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import type { ReportContents, ReportEntry } from '../../ts/coordinator/api-messages.js';
import { consoleUrl } from '../../ts/coordinator/cloudwatch-metrics.js';
import { startTestCoordinator, type TestCoordinator } from '../api/coordinator-harness.js';
import { json } from '../support/api-client.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { startCloudWatchEndpoint } from '../support/cloudwatch-endpoint.js';
import { LOCAL_CLOUDWATCH_REGION, localCloudWatchWriter } from '../support/cloudwatch-test-writer.js';
import { startGeneratorProcess, type GeneratorProcess } from '../support/generator-process.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { readResultsCsv } from '../support/report-archive.js';
import { attachScriptedGenerator, type ScriptedGenerator, type ScriptedUtilisation } from '../support/scripted-generator.js';
import { until } from '../support/until.js';

const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));
const SCREENSHOTS = process.env.STRESSGRID_SCREENSHOTS ? resolve(process.env.STRESSGRID_SCREENSHOTS) : undefined;
const LOOP_SCRIPT = 'for (;;) {\n  await get("/");\n  await delay(100);\n}\n';

/** The whole file shares one generator process; its own timer kills it past this. */
const GENERATOR_LIFETIME_MS = 10 * 60_000;

let nginx: NginxServer;
let c: TestCoordinator;
let generator: GeneratorProcess;
let browser: TestBrowser;
let downloads: string;

test.before(async () => {
  nginx = await startNginx();
  c = await startTestCoordinator({ webDir: WEB_DIR, reportIntervalSeconds: 1, generators: 0, generatorPort: true });
  generator = startGeneratorProcess({ url: c.generatorUrl!, id: 'gen-1', lifetimeMs: GENERATOR_LIFETIME_MS });
  await c.waitForGenerator('gen-1').catch((error: Error) => {
    throw new Error(`${error.message}; the generator logged:\n${generator.stderr()}`);
  });
  browser = await launchBrowser();
  downloads = await mkdtemp(join(tmpdir(), 'sg-downloads-'));
  if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
});

test.after.always(async () => {
  await browser?.close();
  await c?.stop();
  generator?.kill('SIGKILL');
  await generator?.exited;
  await nginx?.stop();
  if (downloads) await rm(downloads, { recursive: true, force: true });
});

/** Every test ends here: nothing left the machine, nothing failed in the page. */
function assertCleanPage(t: ExecutionContext): void {
  t.deepEqual(browser.offLoopback, [], 'requests beyond loopback');
  t.deepEqual(browser.pageErrors, [], 'errors in the page');
}

async function screenshot(page: Page, name: string, target?: Locator): Promise<void> {
  if (!SCREENSHOTS) return;
  const path = join(SCREENSHOTS, `${name}.png`);
  if (target) await target.screenshot({ path });
  else await page.screenshot({ path });
}

/** Waits until `read()` matches; the last value read is in the error. */
async function waitForValue(what: string, read: () => Promise<string | null>, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  let last: string | null = null;
  try {
    await until(async () => pattern.test((last = await read()) ?? ''), timeoutMs, what);
  } catch {
    throw new Error(`timed out waiting for ${what} to match ${pattern}; last ${JSON.stringify(last)}`);
  }
  return last!;
}

const textOf = (locator: Locator) => () => locator.textContent();
/** Points a chart of the live view or the report page (`#live`, `#view-report`) holds now. */
const points = (page: Page, view: string, metric: string) => async () =>
  (await page
    .locator(`${view} figure[data-metric="${metric}"]`)
    .getAttribute('data-points', { timeout: 1000 })
    .catch(() => null)) ?? '0';

interface FormPlan {
  name: string;
  devices: string;
  script: string;
  sustain: string;
  rampup?: string;
  rampdown?: string;
  params?: string;
  hosts?: string;
  port?: string;
}

async function fillPlan(page: Page, plan: FormPlan): Promise<void> {
  await page.getByLabel('Plan name').fill(plan.name);
  await page.getByLabel('Desired number of devices').fill(plan.devices);
  await page.getByLabel('Script', { exact: true }).fill(plan.script);
  await page.getByLabel('Script parameters').fill(plan.params ?? '{"path": "/"}');
  await page.getByLabel('Protocol').selectOption('http');
  await page.getByLabel('Target host(s)').fill(plan.hosts ?? '127.0.0.1');
  await page.getByLabel('Target port').fill(plan.port ?? String(nginx.port));
  await page.getByLabel('Rampup').fill(plan.rampup ?? '0');
  await page.getByLabel('Sustain').fill(plan.sustain);
  await page.getByLabel('Rampdown').fill(plan.rampdown ?? '0');
}

const reports = async (): Promise<ReportEntry[]> => json<ReportEntry[]>(await fetch(`${c.url}/api/reports`));

/** The seconds a duration of the live view says (`4 s`, `1 min 5 s`). */
function seconds(text: string | null): number {
  const match = /^(?:(\d+) min )?(\d+) s$/.exec(text ?? '');
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2]);
}

/** The text colour Chromium draws an element in (run in the page, where getComputedStyle is). */
const colourOf = (node: unknown): string => (globalThis as unknown as { getComputedStyle(element: unknown): { color: string } }).getComputedStyle(node).color;

/** The cells of a generator's row in the generators table. */
/** The value of a fact on the report page (`Network`, `Max CPU`). */
const reportFact = (page: Page, term: string) => page.locator('[data-report="facts"] dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]');
const generatorRow = (page: Page, id: string) => page.locator(`#generators-body tr[data-generator="${id}"]`);
const RATE = /^\d+(\.\d)? (B|KiB|MiB|GiB)\/s$/;

test.serial('a plan filled by label runs, its charts grow each second, and its report is listed, shown, downloaded and deleted', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/`);
  await fillPlan(page, { name: 'e2e-first', devices: '15', script: LOOP_SCRIPT, rampup: '1', sustain: '6' });
  await waitForValue('the rounding explained', textOf(page.locator('#effective-note')), /15 desired devices rounded down to 10/);
  const effective = page.getByLabel('Effective number of devices');
  t.is(await effective.inputValue(), '10');
  t.false(await effective.isEditable(), 'the effective number is read-only');
  await screenshot(page, 'plan', page.locator('#plan-form'));

  // The editor's highlighted copy lies under the transparent textarea, token by token, with a line number per line.
  const highlighted = page.locator('#simple-fields .code-editor pre.highlight');
  t.is(await highlighted.textContent(), `${LOOP_SCRIPT}\n`);
  t.deepEqual(await highlighted.locator('.tok-keyword').allTextContents(), ['for', 'await', 'await']);
  t.deepEqual(await highlighted.locator('.tok-host').allTextContents(), ['get', 'delay']);
  t.deepEqual(await highlighted.locator('.tok-string').allTextContents(), ['"/"']);
  t.deepEqual(await highlighted.locator('.tok-number').allTextContents(), ['100']);
  const colour = (selector: string) => highlighted.locator(selector).first().evaluate(colourOf);
  t.not(await colour('.tok-keyword'), await colour('.line'), 'keywords are drawn in their own colour');
  t.is(await page.getByLabel('Script', { exact: true }).evaluate(colourOf), 'rgba(0, 0, 0, 0)', 'the text shown is the highlighted copy');
  t.deepEqual(await page.locator('#simple-fields .code-editor .gutter > div').allTextContents(), ['1', '2', '3', '4', '5']);

  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-first-/);
  t.is(c.coordinator.run?.runId, runId);
  t.is(await page.locator('[data-live="name"]').textContent(), 'e2e-first');
  await waitForValue('the generators connected', textOf(page.locator('[data-live="generators"]')), /^1$/);

  // The generator process, as the generators table shows it while it runs the devices.
  const row = generatorRow(page, 'gen-1');
  await waitForValue("the generator's devices", textOf(row.locator('td').nth(1)), /^10$/);
  const [id, devices, cpu, networkIn, networkOut, linkUse, interfaces] = await row.locator('td').allTextContents();
  t.deepEqual([id, devices], ['gen-1', '10']);
  t.regex(cpu!, /^\d+\.\d %$/);
  t.regex(networkIn!, RATE);
  t.regex(networkOut!, RATE);
  t.regex(linkUse!, /^(–|\d+\.\d %)$/, 'a share of the link, or – where its speed is unknown (loopback has none)');
  t.regex(interfaces!, /(^|, )lo(,|$)/, 'the target is on loopback: lo is counted');
  t.regex((await page.locator('[data-live="network"]').textContent())!, /^in [\d.]+ (B|KiB|MiB)\/s, out [\d.]+ (B|KiB|MiB)\/s · (busiest link \d+\.\d %|link speed unknown) · on .*\blo\b/);

  const remaining = page.locator('[data-live="remaining"]');
  const firstRemaining = seconds(await waitForValue('the remaining time', textOf(remaining), /^\d+ s$/));
  t.true(firstRemaining <= 7, `${firstRemaining} s remaining of a 7 s plan`);
  await until(async () => seconds(await remaining.textContent()) < firstRemaining, 15_000, 'the remaining time to count down');
  const responses = points(page, '#live', 'response_per_second');
  await until(async () => Number(await responses()) >= 1, 15_000, 'a response chart');
  const first = Number(await responses());
  await until(async () => Number(await responses()) > first, 15_000, 'the chart to take the next second');
  await until(async () => Number(await responses()) > first + 1, 15_000, 'and the one after');
  for (const metric of ['devices', 'cpu', 'network', 'headers_us', 'conn_per_second']) t.true(Number(await points(page, '#live', metric)()) > 0, metric);
  t.regex((await page.locator('[data-live="state"]').textContent())!, /rampup|sustain/);

  await screenshot(page, 'run', page.locator('#view-run'));
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run done/, 20_000);
  t.true(await page.getByRole('button', { name: 'Run' }).isEnabled());

  await page.reload();
  t.is(await page.getByLabel('Plan name').inputValue(), 'e2e-first', 'the last plan is remembered');
  t.is(await page.getByLabel('Script', { exact: true }).inputValue(), LOOP_SCRIPT);
  t.is(await page.getByLabel('Target port').inputValue(), String(nginx.port));

  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  const report = page.locator(`tr[data-run-id="${runId}"]`);
  await report.waitFor();
  const [name, time, reportDevices, maxCpu, maxLink, errors, thresholds, archive] = await report.locator('td').allTextContents();
  t.is(name, `e2e-first${runId}`, 'the name, then the run id under it');
  t.false(Number.isNaN(Date.parse(time!)), time);
  t.is(reportDevices, '10');
  t.regex(maxCpu!, /^\d+\.\d %$/);
  t.regex(maxLink!, /^(–|\d+\.\d %)$/);
  t.is(errors, 'none');
  t.is(thresholds, '–', 'the plan set no thresholds');
  t.regex(archive!, /^Download · HTML report[\d.]+ KiB$/);
  await screenshot(page, 'reports', page.locator('#view-reports'));

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: `Download report ${runId}` }).click()]);
  t.is(download.suggestedFilename(), `${runId}.tar.gz`);
  const saved = join(downloads, `${runId}.tar.gz`);
  await download.saveAs(saved);
  const rows = await readResultsCsv(saved);
  t.true(rows.length >= 4, `${rows.length} rows`);
  t.true(Number(rows.at(-1)!.response_count) > 0);
  // The interval's mean: a device that was being recycled counts for part of it.
  t.is(Math.round(Math.max(...rows.map((r) => Number(r.active_device_number)))), 10);

  await report.getByRole('link', { name: 'e2e-first', exact: true }).click();
  await waitForValue('the report charts', points(page, '#view-report', 'response_per_second'), new RegExp(`^${rows.length}$`));
  t.is(await page.locator('#report-title').textContent(), 'e2e-first');
  t.regex((await page.locator('[data-report="facts"]').textContent())!, /10 effective of 15 desired/);
  t.regex((await reportFact(page, 'Network').textContent())!, /^gen-1 (link speed unknown|peak \d+\.\d % of its link) \(.*\blo\b.*\)$/);
  await screenshot(page, 'report', page.locator('#view-report'));
  const [fromReportPage] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the archive' }).click()]);
  t.is(fromReportPage.suggestedFilename(), `${runId}.tar.gz`);
  const savedFromPage = join(downloads, `page-${runId}.tar.gz`);
  await fromReportPage.saveAs(savedFromPage);
  t.deepEqual(await readResultsCsv(savedFromPage), rows, 'the report page downloads the same archive');

  await page.getByRole('link', { name: '← Reports' }).click();
  page.once('dialog', (dialog) => void dialog.dismiss());
  await page.getByRole('button', { name: `Delete report ${runId}` }).click();
  t.true(await report.isVisible(), 'a dismissed confirmation deletes nothing');
  t.is((await reports()).length, 1);
  let asked = '';
  page.once('dialog', (dialog) => {
    asked = dialog.message();
    void dialog.accept();
  });
  await page.getByRole('button', { name: `Delete report ${runId}` }).click();
  await report.waitFor({ state: 'detached' });
  t.regex(asked, new RegExp(`Delete the report of e2e-first \\(${runId}\\)`));
  t.deepEqual(await reports(), []);
  t.is(await c.coordinator.store.path(runId), null);
  assertCleanPage(t);
});
test.serial('a second run, whose script errors stand out, is aborted from the live view', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  const failing = 'for (let i = 0; ; i++) {\n  await get("/");\n  await delay(50);\n  if (i === 3) throw new Error("boom");\n}\n';
  await fillPlan(page, { name: 'e2e-abort', devices: '10', script: failing, sustain: '60' });
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-abort-/);
  await waitForValue('active devices', textOf(page.locator('[data-live="active"]')), /^10 of 10/);
  await waitForValue('the error banner', textOf(page.getByRole('alert').filter({ hasText: 'Errors' })), /^Errors: script_error_count \d+/);
  const errorChart = page.locator('#live figure[data-metric="script_error_per_second"]');
  await errorChart.waitFor();
  t.regex((await errorChart.getAttribute('class'))!, /\berror\b/);
  t.regex((await page.locator('#live figure[data-metric="response_per_second"]').getAttribute('class'))!, /^chart$/, 'only error charts are marked');
  t.true(await page.getByRole('button', { name: 'Run' }).isDisabled(), 'one run at a time');
  await page.getByRole('button', { name: 'Abort' }).click();
  await waitForValue('the aborted state', textOf(page.locator('[data-live="state"]')), /^aborted$/);
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run aborted \(aborted from the website\)/);
  t.is(c.coordinator.run, undefined);
  const [entry] = await reports();
  t.like(entry, { runId, summary: { aborted: true, reason: 'aborted from the website' } });
  t.true(entry!.summary!.errorTotal > 0);
  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  const flag = page.locator(`tr[data-run-id="${runId}"] td`).nth(5);
  await waitForValue('the error flag', textOf(flag), new RegExp(`^${entry!.summary!.errorTotal} errors$`));
  t.is(await flag.getAttribute('class'), 'error');
  assertCleanPage(t);
});

test.serial('a script with a syntax error shows the error at its line and never starts', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  const before = (await reports()).length;
  const starts: string[] = [];
  const onRequest = (request: { method(): string; url(): string }) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/runs') starts.push(request.url());
  };
  page.on('request', onRequest);
  t.teardown(() => page.off('request', onRequest));
  await fillPlan(page, { name: 'e2e-broken', devices: '10', script: 'await get("/");\n\nconst x = ;\nawait delay(10);\n', sustain: '5' });
  const marker = page.locator('.code-editor .gutter .error-line');
  await marker.waitFor();
  t.is(await marker.getAttribute('data-line'), '3');
  t.is(await marker.count(), 1);
  t.regex((await page.locator('#script-problem').textContent())!, /^line 3, column \d+: SyntaxError/);
  t.is(await page.getByLabel('Script', { exact: true }).getAttribute('aria-invalid'), 'true');
  t.is(await page.getByLabel('Plan name').getAttribute('aria-invalid'), null, 'only the script is marked');

  await page.getByRole('button', { name: 'Run' }).click();
  await waitForValue('the refusal', textOf(page.locator('#form-status')), /1 problem, marked beside the fields\. Nothing was started/);
  await screenshot(page, 'script-error', page.locator('#plan-form'));
  t.deepEqual(starts, [], 'the run was never asked for');
  t.is(c.coordinator.run, undefined);
  t.is((await reports()).length, before);

  // Fixing the line clears its marker.
  await page.getByLabel('Script', { exact: true }).fill(LOOP_SCRIPT);
  await marker.waitFor({ state: 'detached' });
  t.true(await page.locator('#script-problem').isHidden());
  assertCleanPage(t);
});

test.serial('every field with a bad value shows its own problem beside it, all at once, and nothing starts', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  await fillPlan(page, { name: '   ', devices: '0', script: LOOP_SCRIPT, params: '{"path": ', hosts: 'http://127.0.0.1/', port: '70000', rampup: '-1', sustain: '5' });
  const expected: Array<[label: string, problem: RegExp]> = [
    ['Plan name', /^must not be empty$/],
    ['Desired number of devices', /^must be at least 1, got 0$/],
    ['Script parameters', /^not valid JSON: /],
    ['Target host(s)', /^must be a host name without a scheme or path \(put the protocol in "protocol"\), got "http:\/\/127\.0\.0\.1\/"$/],
    ['Target port', /^must be between 1 and 65535, got 70000$/],
    ['Rampup', /^must be at least 0, got -1$/],
  ];
  for (const [label, problem] of expected) {
    const field = page.locator('.field').filter({ has: page.getByLabel(label, { exact: true }) });
    await waitForValue(`the problem beside ${label}`, textOf(field.locator('.problem')), problem);
    t.is(await page.getByLabel(label, { exact: true }).getAttribute('aria-invalid'), 'true', label);
  }
  for (const label of ['Script', 'Protocol', 'Sustain', 'Rampdown']) {
    t.is(await page.getByLabel(label, { exact: true }).getAttribute('aria-invalid'), null, `${label} is fine`);
  }
  t.true(await page.locator('#plan-problems').isHidden(), 'every problem found its field');
  await screenshot(page, 'field-problems', page.locator('#plan-form'));
  await page.getByRole('button', { name: 'Run' }).click();
  await waitForValue('the refusal', textOf(page.locator('#form-status')), /6 problems, marked beside the fields\. Nothing was started/);
  t.is(c.coordinator.run, undefined);
  assertCleanPage(t);
});

test.serial('advanced mode edits the whole plan as JSON, with its problems beside it, goes back when the form can hold the plan, and runs two blocks over two targets', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  await fillPlan(page, { name: 'e2e-advanced', devices: '20', script: LOOP_SCRIPT, sustain: '5' });
  await page.getByLabel('Advanced mode (edit the whole plan as JSON)').check();
  const planJson = page.getByLabel('Plan JSON');
  const plan = JSON.parse(await planJson.inputValue()) as Record<string, unknown>;
  t.like(plan, { name: 'e2e-advanced', size: 20, sustain: 5, blocks: [{ script: LOOP_SCRIPT, params: { path: '/' } }], addresses: [{ host: '127.0.0.1', port: nginx.port, protocol: 'http' }] });

  await planJson.fill('{\n  "name": "broken",\n  oops\n}');
  const jsonMarker = page.locator('#advanced-fields .gutter .error-line');
  await jsonMarker.waitFor();
  t.is(await jsonMarker.getAttribute('data-line'), '3', 'the JSON syntax error is marked at its line');
  t.regex((await page.locator('#plan-json-problem').textContent())!, /the plan is not valid JSON/);

  const twoTargets = {
    ...plan,
    addresses: [
      { host: '127.0.0.1', port: nginx.port },
      { host: '127.0.0.1', port: 1, protocol: 'tcp' },
    ],
    sustian: 5,
  };
  await planJson.fill(JSON.stringify(twoTargets, null, 2));
  await waitForValue('the problem beside the JSON', textOf(page.locator('#plan-json-problem')), /sustian: unknown field \(did you mean "sustain"\?\)/);
  await screenshot(page, 'advanced', page.locator('#plan-form'));
  // A click, not uncheck(): the site refuses the switch, and uncheck() would insist.
  await page.getByLabel('Advanced mode (edit the whole plan as JSON)').click();
  t.true(await page.getByLabel('Advanced mode (edit the whole plan as JSON)').isChecked(), 'two addresses with different ports need advanced mode');
  t.regex((await page.locator('#advanced-problem').textContent())!, /needs advanced mode/);

  await page.reload();
  t.true(await page.getByLabel('Advanced mode (edit the whole plan as JSON)').isChecked(), 'the mode is remembered');
  t.deepEqual(JSON.parse(await page.getByLabel('Plan JSON').inputValue()), twoTargets);

  await page.getByLabel('Plan JSON').fill(
    JSON.stringify({
      ...plan,
      name: 'e2e-simple-again',
      addresses: [
        { host: '127.0.0.1', port: nginx.port, protocol: 'http' },
        { host: 'localhost', port: nginx.port, protocol: 'http' },
      ],
    }),
  );
  await page.getByLabel('Advanced mode (edit the whole plan as JSON)').uncheck();
  t.is(await page.getByLabel('Plan name').inputValue(), 'e2e-simple-again');
  t.is(await page.getByLabel('Target host(s)').inputValue(), '127.0.0.1, localhost');
  t.is(await page.getByLabel('Script parameters').inputValue(), '{\n  "path": "/"\n}');

  // A plan only advanced mode holds, two blocks over two targets, runs to its end.
  const second = await startNginx();
  t.teardown(() => second.stop());
  const counting = (counter: string) => `for (;;) {\n  incCounter("${counter}");\n  await get("/");\n  await delay(100);\n}\n`;
  const twoBlocks = {
    name: 'e2e-two-blocks',
    blocks: [{ script: counting('block_a') }, { script: counting('block_b') }],
    addresses: [
      { host: '127.0.0.1', port: nginx.port, protocol: 'http' },
      { host: '127.0.0.1', port: second.port, protocol: 'http' },
    ],
    size: 10,
    rampup: 0,
    sustain: 2,
    rampdown: 0,
  };
  await page.getByLabel('Advanced mode (edit the whole plan as JSON)').check();
  await page.getByLabel('Plan JSON').fill(JSON.stringify(twoBlocks, null, 2));
  const before = await nginx.accessLogCount();
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-two-blocks-/);
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run done/, 20_000);
  const contents = await json<ReportContents>(await fetch(`${c.url}/api/reports/${runId}`));
  t.like(contents.plan, { blocks: [{ script: counting('block_a') }, { script: counting('block_b') }], addresses: [{ port: nginx.port }, { port: second.port }] });
  for (const counter of ['block_a_per_second', 'block_b_per_second'])
    t.true(
      contents.series.columns[counter]!.some((v) => v !== null && v > 0),
      counter,
    );
  t.true((await nginx.accessLogCount()) > before, 'the first target was reached');
  t.true((await second.accessLogCount()) > 0, 'and the second');
  assertCleanPage(t);
});

test.serial('an arrival-rate plan shows what the open model runs each second: iterations due and started, dropped, and its devices out of the pool', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  await page.getByLabel('Advanced mode (edit the whole plan as JSON)').check();
  const open = {
    name: 'e2e-open',
    blocks: [{ script: "await get('/');", arrivalRate: 20, maxDevices: 4 }],
    addresses: [{ host: '127.0.0.1', port: nginx.port, protocol: 'http' }],
    rampup: 0,
    sustain: 6,
    rampdown: 0,
  };
  await page.getByLabel('Plan JSON').fill(JSON.stringify(open, null, 2));
  await page.getByRole('button', { name: 'Run' }).click();
  await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-open-/);
  const iterations = page.locator('[data-live="iterations"]');
  await waitForValue('iterations started', textOf(iterations), /^due 20\/s · started (1[6-9]|2[0-4])\/s · dropped 0$/);
  t.true(await page.locator('[data-live="iterations-term"]').isVisible());
  t.is(await page.locator('[data-live="iterations-term"]').textContent(), 'Iterations per second');
  t.regex((await page.locator('[data-live="active"]').textContent())!, /^[0-4] of 4 \(the pool\)$/, 'no device target, no effective devices');
  t.is(await iterations.getAttribute('class'), '', 'nothing dropped, nothing in red');
  await screenshot(page, 'open-model', page.locator('#live'));
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run done/, 20_000);

  // A closed plan has no such line.
  await page.getByLabel('Plan JSON').fill(JSON.stringify({ ...open, name: 'e2e-closed', blocks: [{ script: LOOP_SCRIPT }], size: 10, sustain: 2 }, null, 2));
  await page.getByRole('button', { name: 'Run' }).click();
  await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-closed-/);
  await waitForValue('the closed devices', textOf(page.locator('[data-live="active"]')), /^\d+ of 10 \(effective 10\)$/);
  t.true(await iterations.isHidden());
  t.true(await page.locator('[data-live="iterations-term"]').isHidden());
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run done/, 20_000);
  assertCleanPage(t);
});

test.serial('with a token the site asks for it (again only when told to), then runs, streams and downloads with it from the live view and the reports table', async (t) => {
  const token = 'web-s3cret';
  const guarded = await startTestCoordinator({ webDir: WEB_DIR, reportIntervalSeconds: 1, token });
  t.teardown(() => guarded.stop());
  const page = await browser.context.newPage();
  t.teardown(() => page.close());
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('websocket', (socket) => requested.push(socket.url()));
  const prompts: string[] = [];
  page.on('dialog', (dialog) => {
    prompts.push(dialog.type());
    // The first prompt is cancelled, the next answered.
    void (prompts.length === 1 ? dialog.dismiss() : dialog.accept(token));
  });
  await page.goto(`${guarded.url}/`);
  const askAgain = page.getByRole('button', { name: "Enter the coordinator's token" });
  await askAgain.waitFor();
  await page.waitForTimeout(2500);
  t.deepEqual(prompts, ['prompt'], 'a cancelled prompt is not asked again by every poll');
  t.is(await page.locator('#generators-body tr[data-generator]').count(), 0);
  await askAgain.click();
  await page.locator('#generators-body tr[data-generator="gen-1"]').waitFor();
  t.true(await askAgain.isHidden());
  t.deepEqual(prompts, ['prompt', 'prompt']);
  // Long enough for several live snapshots to show all ten devices: on a busy machine the
  // generator's first report can arrive after a snapshot or two.
  await fillPlan(page, { name: 'e2e-token', devices: '10', script: LOOP_SCRIPT, sustain: '5' });
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-token-/);
  await waitForValue('the live state over the guarded stream', textOf(page.locator('[data-live="active"]')), /^10 of 10/);
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run done/, 20_000);
  const link = page.getByRole('link', { name: 'Download the report' });
  const signed = new RegExp(`^/results/${runId}\\.tar\\.gz\\?expires=\\d+&signature=[\\w-]+$`);
  t.regex((await link.getAttribute('href'))!, signed, 'a link the coordinator signed');
  t.is((await fetch(`${guarded.url}/results/${runId}.tar.gz`)).status, 401, 'the archive needs the token');
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const saved = join(downloads, 'token.tar.gz');
  await download.saveAs(saved);
  const rows = await readResultsCsv(saved);
  t.true(rows.length >= 2);

  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  const fromTable = page.getByRole('link', { name: `Download report ${runId}` });
  t.regex((await fromTable.getAttribute('href'))!, signed);
  const [tableDownload] = await Promise.all([page.waitForEvent('download'), fromTable.click()]);
  const savedFromTable = join(downloads, 'token-table.tar.gz');
  await tableDownload.saveAs(savedFromTable);
  t.deepEqual(await readResultsCsv(savedFromTable), rows, 'the reports table downloads the same archive with the token');
  t.deepEqual(prompts, ['prompt', 'prompt'], 'never asked again');
  t.true(
    requested.some((url) => url.includes('/api/live')),
    'the live stream was opened',
  );
  t.deepEqual(
    requested.filter((url) => url.includes(token)),
    [],
    'the token is in no URL the site asked for',
  );
  assertCleanPage(t);
});

/**
 * A coordinator of its own whose generators report what the test sets (scripted-generator.ts),
 * and a page on its website; all closed when the test ends.
 */
async function scriptedSite(t: ExecutionContext, utilisations: Record<string, ScriptedUtilisation>): Promise<{ page: Page; generators: Record<string, ScriptedGenerator> }> {
  const scripted = await startTestCoordinator({ webDir: WEB_DIR, reportIntervalSeconds: 1, generators: 0 });
  t.teardown(() => scripted.stop());
  const generators: Record<string, ScriptedGenerator> = {};
  for (const [id, utilisation] of Object.entries(utilisations)) generators[id] = attachScriptedGenerator(scripted.coordinator, id, utilisation);
  t.teardown(() => Object.values(generators).forEach((g) => g.close()));
  const page = await browser.context.newPage();
  t.teardown(() => page.close());
  await page.goto(`${scripted.url}/`);
  return { page, generators };
}

test.serial('a generator above 80 % CPU stands out: its row, a banner naming it, the CPU chart, and its run in the reports', async (t) => {
  const { page, generators } = await scriptedSite(t, {
    'hot-gen': { cpuPercent: 95, networkRxBytesPerSecond: 2048, networkTxBytesPerSecond: 512 },
    'cool-gen': { cpuPercent: 50, networkRxBytesPerSecond: 1024, networkTxBytesPerSecond: 256 },
  });
  const hot = generators['hot-gen']!;
  const hotRow = generatorRow(page, 'hot-gen');
  const coolRow = generatorRow(page, 'cool-gen');
  await waitForValue('the hot generator', textOf(hotRow.locator('td').nth(2)), /^95\.0 %$/);
  await waitForValue('the cool generator', textOf(coolRow.locator('td').nth(2)), /^50\.0 %$/);
  t.deepEqual(await hotRow.locator('td').allTextContents(), ['hot-gen', '0', '95.0 %', '2.0 KiB/s', '512 B/s', '–', '–']);
  t.deepEqual(await coolRow.locator('td').allTextContents(), ['cool-gen', '0', '50.0 %', '1.0 KiB/s', '256 B/s', '–', '–']);
  t.is(await hotRow.getAttribute('class'), 'hot');
  t.is(await coolRow.getAttribute('class'), '');
  t.regex((await hotRow.locator('td').nth(2).getAttribute('title'))!, /above 80 %/);

  await fillPlan(page, { name: 'e2e-hot', devices: '20', script: LOOP_SCRIPT, sustain: '30' });
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-hot-/);
  const banner = page.getByRole('alert').filter({ hasText: 'Generator CPU' });
  t.is(
    await waitForValue('the CPU banner', textOf(banner), /^Generator CPU above 80 %/),
    'Generator CPU above 80 %: hot-gen 95.0 %. Results may measure the generator, not the target.',
    'the banner names the hot generator only',
  );
  const cpuChart = page.locator('#live figure[data-metric="cpu"]');
  await waitForValue('the CPU chart marked', () => cpuChart.getAttribute('class'), /\balert\b/);
  await waitForValue('devices on the hot generator', textOf(hotRow.locator('td').nth(1)), /^10$/);
  await waitForValue('devices on the cool generator', textOf(coolRow.locator('td').nth(1)), /^10$/);
  await until(async () => Number(await points(page, '#live', 'cpu')()) >= 3, 15_000, 'a few seconds on the charts');
  // Above 90 % for more than a tenth of the run so far: flagged busy, its latencies suspect.
  const busyBanner = page.getByRole('alert').filter({ hasText: 'Busy generators' });
  t.regex(
    await waitForValue('the busy banner', textOf(busyBanner), /^Busy generators/),
    /^Busy generators, CPU above 90 % for more than 10 % of the run: hot-gen \(\d+ % of the run\)\. The run is valid, but the latencies they measured are suspect\.$/,
    'the busy banner names the hot generator only',
  );
  await screenshot(page, 'hot-generator', page.locator('#view-run'));

  // The same generator below the line: nothing stands out any more.
  hot.utilisation = { ...hot.utilisation, cpuPercent: 40 };
  await banner.waitFor({ state: 'hidden' });
  await waitForValue('the CPU chart unmarked', () => cpuChart.getAttribute('class'), /^chart$/);
  await waitForValue('the hot row unmarked', () => hotRow.getAttribute('class'), /^$/);
  t.false(await busyBanner.isHidden(), 'the busy flag is about the run so far, not the last second: it stays');

  await page.getByRole('button', { name: 'Abort' }).click();
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run aborted/);
  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  const maxCpu = page.locator(`tr[data-run-id="${runId}"] td`).nth(3);
  t.is(await waitForValue('the max CPU', textOf(maxCpu), /%$/), '95.0 %', 'the run reached 95 % before the generator cooled');
  t.is(await maxCpu.getAttribute('class'), 'num hot');
  assertCleanPage(t);
});

test.serial('a generator above 80 % of its network link stands out: its row with the link share and interfaces, a banner naming it, the network chart, and its run in the reports', async (t) => {
  // A 1 Mbit/s link: 112,500 bytes a second out is 90 % of it, 25,000 in is 20 %.
  const link = { networkLinkBitsPerSecond: 1_000_000 };
  const { page, generators } = await scriptedSite(t, {
    'net-gen': { cpuPercent: 30, networkRxBytesPerSecond: 12_500, networkTxBytesPerSecond: 112_500, networkInterfaces: ['eth0'], ...link },
    'calm-gen': { cpuPercent: 30, networkRxBytesPerSecond: 25_000, networkTxBytesPerSecond: 5_000, networkInterfaces: ['eth0', 'lo'], ...link },
  });
  const busy = generators['net-gen']!;
  const busyRow = generatorRow(page, 'net-gen');
  const calmRow = generatorRow(page, 'calm-gen');
  await waitForValue('the busy link', textOf(busyRow.locator('td').nth(5)), /^90\.0 %$/);
  await waitForValue('the calm link', textOf(calmRow.locator('td').nth(5)), /^20\.0 %$/);
  t.deepEqual(await busyRow.locator('td').allTextContents(), ['net-gen', '0', '30.0 %', '12.2 KiB/s', '109.9 KiB/s', '90.0 %', 'eth0']);
  t.deepEqual(await calmRow.locator('td').allTextContents(), ['calm-gen', '0', '30.0 %', '24.4 KiB/s', '4.9 KiB/s', '20.0 %', 'eth0, lo']);
  t.is(await busyRow.getAttribute('class'), 'hot');
  t.is(await calmRow.getAttribute('class'), '');
  t.regex((await busyRow.locator('td').nth(5).getAttribute('title'))!, /above 80 % of its link/);
  t.is(await busyRow.locator('td').nth(2).getAttribute('title'), '', 'its CPU is fine');

  await fillPlan(page, { name: 'e2e-net', devices: '20', script: LOOP_SCRIPT, sustain: '30' });
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-net-/);
  const banner = page.getByRole('alert').filter({ hasText: 'Generator network' });
  t.is(
    await waitForValue('the network banner', textOf(banner), /^Generator network above 80 %/),
    'Generator network above 80 % of its link: net-gen 90.0 % (eth0). Results may measure the generator, not the target.',
    'the banner names the busy generator only, with its interfaces, and no CPU',
  );
  t.is(await page.locator('[data-live="network"]').textContent(), 'in 36.6 KiB/s, out 114.7 KiB/s · busiest link 90.0 % · on eth0, lo');
  const networkChart = page.locator('#live figure[data-metric="network"]');
  await waitForValue('the network chart marked', () => networkChart.getAttribute('class'), /\balert\b/);
  t.is(await page.locator('#live figure[data-metric="cpu"]').getAttribute('class'), 'chart', 'the CPU chart is not');
  await screenshot(page, 'hot-network', page.locator('#view-run'));

  // The same generator below the line: nothing stands out any more.
  busy.utilisation = { ...busy.utilisation, networkTxBytesPerSecond: 10_000 };
  await banner.waitFor({ state: 'hidden' });
  await waitForValue('the network chart unmarked', () => networkChart.getAttribute('class'), /^chart$/);
  await waitForValue('the busy row unmarked', () => busyRow.getAttribute('class'), /^$/);
  await waitForValue('the live fact', textOf(page.locator('[data-live="network"]')), /busiest link 20\.0 %/);

  await page.getByRole('button', { name: 'Abort' }).click();
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run aborted/);
  await page.getByRole('link', { name: 'Reports', exact: true }).click();
  const maxLink = page.locator(`tr[data-run-id="${runId}"] td`).nth(4);
  t.is(await waitForValue('the max link use', textOf(maxLink), /%$/), '90.0 %', 'the run reached 90 % of the link before the generator calmed');
  t.is(await maxLink.getAttribute('class'), 'num hot');
  t.is(await maxLink.getAttribute('title'), 'net-gen on eth0');
  t.is(await page.locator(`tr[data-run-id="${runId}"] td`).nth(3).getAttribute('class'), 'num', 'its CPU does not stand out');

  await page.getByRole('link', { name: 'e2e-net', exact: true }).click();
  const fact = reportFact(page, 'Network');
  t.is(await waitForValue('the network fact', textOf(fact), /net-gen/), 'calm-gen peak 20.0 % of its link (eth0, lo), net-gen peak 90.0 % of its link (eth0)');
  t.is(await fact.getAttribute('class'), 'error');
  t.is(await reportFact(page, 'Max CPU').getAttribute('class'), '');
  assertCleanPage(t);
});

test.serial('results sent to CloudWatch: the live view shows what arrived and its failures stand out; the report links to it', async (t) => {
  const cw = await startCloudWatchEndpoint();
  t.teardown(() => cw.close());
  const withCloudWatch = await startTestCoordinator({
    webDir: WEB_DIR,
    reportIntervalSeconds: 1,
    extraWriters: () => [localCloudWatchWriter(cw.url, { maxAttempts: 2 })],
  });
  t.teardown(() => withCloudWatch.stop());
  const page = await browser.context.newPage();
  t.teardown(() => page.close());
  await page.goto(`${withCloudWatch.url}/`);
  await fillPlan(page, { name: 'e2e-cloudwatch', devices: '10', script: LOOP_SCRIPT, sustain: '30' });
  await page.getByRole('button', { name: 'Run' }).click();
  const runId = await waitForValue('the run id', textOf(page.locator('[data-live="run-id"]')), /^e2e-cloudwatch-/);
  const writer = page.locator('[data-live="writers"] li[data-writer="cloudwatch"]');
  await waitForValue('metric data sent', textOf(writer), /^cloudwatch: [1-9]\d* metric data sent, 0 failed, \d+ waiting · View the run's cloudwatch metrics$/);
  t.is(await writer.getAttribute('class'), '', 'nothing stands out while all arrives');
  t.is(await writer.getByRole('link').getAttribute('href'), consoleUrl(LOCAL_CLOUDWATCH_REGION, runId));

  cw.answer = () => 'server-error';
  await waitForValue('the failures', textOf(writer), /^cloudwatch: [1-9]\d* metric data sent, [1-9]\d* failed, \d+ waiting \(last error: .*HTTP 500.*\) · /);
  t.is(await writer.getAttribute('class'), 'error');
  await screenshot(page, 'cloudwatch-live', page.locator('[data-live="writers"]'));
  await page.getByRole('button', { name: 'Abort' }).click();
  await waitForValue('the ending', textOf(page.locator('[data-live="ended"]')), /Run aborted/);

  const { summary } = await json<ReportContents>(await fetch(`${withCloudWatch.url}/api/reports/${runId}`));
  const status = summary!.writers![0]!;
  t.is(status.sent, cw.accepted().length);
  t.true(status.failed > 0);
  await page.getByRole('link', { name: 'View the report' }).click();
  const fact = page.locator('[data-report="facts"] dd[data-writer="cloudwatch"]');
  t.is(
    await waitForValue('the CloudWatch fact', textOf(fact), /metric data sent/),
    `${status.sent} metric data sent, ${status.failed} failed (last error: ${status.lastError}) · View the run's cloudwatch metrics`,
  );
  t.is(await fact.getAttribute('class'), 'error');
  t.is(await fact.getByRole('link').getAttribute('href'), status.link!);
  t.true(status.link!.includes(runId));
  t.is(await page.locator('[data-report="facts"] dt', { hasText: 'cloudwatch' }).count(), 1);
  await screenshot(page, 'cloudwatch-report', page.locator('[data-report="facts"]'));
  assertCleanPage(t);
});

test.serial('the loopback guard itself: a request beyond loopback is refused and recorded', async (t) => {
  const { page } = browser;
  await page.goto(`${c.url}/#/`);
  const outcome = await page.evaluate(() =>
    fetch('http://192.0.2.1/probe').then(
      () => 'fetched',
      (error: Error) => `refused: ${error.message}`,
    ),
  );
  t.regex(outcome, /^refused/);
  t.deepEqual(browser.offLoopback.splice(0), ['http://192.0.2.1/probe']);
  assertCleanPage(t);
});
