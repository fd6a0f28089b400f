/**
 * The standalone HTML report as a person opens it: real Chromium, the file from
 * disk, every request refused. Each chart must be drawn from what the page
 * carries, nothing may leave it, and its percentile spectrum must read the same
 * p99 as summary.json.
 */
import test from 'ava';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { launchBrowser } from '../support/browser.js';
import { readArchive } from '../e2e/run-archive.js';
import { runSgcli, workspace } from '../e2e/sgcli-child.js';

/** What these checks read of the page's elements (the compiler has no DOM types here). */
interface PageElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  readonly textContent: string | null;
  readonly nextElementSibling: PageElement | null;
}

test('sgcli report writes one self-contained HTML file: every chart drawn with the network blocked, no request leaves, the spectrum’s p99 is summary.json’s', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('script.js', 'await get("/"); await delay(5);');
  const run = await runSgcli([
    'run',
    'report',
    script,
    '--demo',
    '--sustain',
    '3',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
    '--threshold',
    'headers_us: p99 < 10s',
    '--threshold',
    'response_count: rate > 1000000',
  ]);
  t.is(run.code, EXIT.thresholdsFailed, run.stderr);
  const archive = await readArchive(run.archive!);
  t.true(archive.files.includes('report.html'), 'every new archive carries its report');

  const out = join(ws.dir, 'out.html');
  const junit = join(ws.dir, 'junit.xml');
  const made = await runSgcli(['report', run.archive!, '-o', out, '--junit', junit]);
  t.is(made.code, EXIT.ok, made.stderr);
  t.is(made.stdout.trim(), out);
  // By run id too, from the data directory.
  const byId = await runSgcli(['report', archive.summary.runId, '--data-dir', ws.dataDir, '-o', join(ws.dir, 'by-id.html')]);
  t.is(byId.code, EXIT.ok, byId.stderr);
  t.true((await stat(join(ws.dir, 'by-id.html'))).size > 10_000);

  const xml = await readFile(junit, 'utf8');
  t.regex(xml, /<testsuite name="report" tests="2" failures="1"/);
  t.regex(xml, /<testcase classname="thresholds" name="headers_us: p99 &lt; 10s"[^>]*\/>/);
  t.regex(xml, /<testcase classname="thresholds" name="response_count: rate &gt; 1000000"[^>]*>\s*<failure message="measured [\d.]+/);

  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const { page } = browser;
  const fileUrl = pathToFileURL(out).href;
  const requests: string[] = [];
  page.on('request', (request) => {
    if (request.url() !== fileUrl) requests.push(request.url());
  });
  await page.route('**/*', (route) => (route.request().url() === fileUrl ? route.continue() : route.abort('blockedbyclient')));
  await page.goto(fileUrl);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000, state: 'attached' }).catch(() => t.fail(browser.pageErrors.join('\n')));
  t.deepEqual(browser.pageErrors, []);
  t.deepEqual(requests, [], 'the report asks for nothing: charts library and data are inline');

  // A chart over time per metric group, each with a canvas that was drawn on.
  const charts = await page.$$eval('[data-report="charts"] figure.chart', (figures: PageElement[]) =>
    figures.map((f) => ({ metric: f.getAttribute('data-metric'), points: Number(f.getAttribute('data-points')), canvas: Number(f.querySelector('canvas')?.getAttribute('width') ?? 0) > 0 })),
  );
  const metrics = charts.map((c) => c.metric);
  for (const expected of ['devices', 'cpu', 'network', 'response_per_second', 'headers_us', 'conn_us']) t.true(metrics.includes(expected), `a ${expected} chart among ${metrics.join(', ')}`);
  t.true(
    charts.every((c) => c.canvas && c.points === archive.rows.length),
    JSON.stringify(charts),
  );
  const drawn = await page.$$eval('canvas', (canvases) =>
    canvases.map((element) => {
      const c = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }),
  );
  t.true(drawn.length >= charts.length + 3 && drawn.every(Boolean), 'every canvas has pixels on it');

  const spectra = await page.$$eval('[data-report="spectra"] figure', (figures: PageElement[]) =>
    figures.map((f) => ({ name: f.getAttribute('data-histogram')!, p99: Number(f.getAttribute('data-p99')), points: Number(f.getAttribute('data-points')) })),
  );
  t.deepEqual(spectra.map((s) => s.name).sort(), Object.keys(archive.summary.histograms!).sort());
  for (const s of spectra) {
    t.is(s.p99, archive.summary.histograms![s.name]!.p99, `${s.name}: the spectrum's p99 is summary.json's`);
    t.true(s.points > 10);
  }
  // The plotted point at 99 % is the same value.
  const plotted = await page.$eval('[data-histogram="headers_us"]', (f) => {
    const plot = (f as unknown as { plot: { data: number[][] } }).plot;
    const i = plot.data[0]!.findIndex((x) => Math.abs(x - 100) < 1e-6);
    return plot.data[1]![i]! * 1000;
  });
  t.true(Math.abs(plotted - archive.summary.histograms!.headers_us!.p99) < 1e-6);

  const thresholds = await page.$$eval('[data-report="thresholds"] tr[data-threshold]', (rows: PageElement[]) => rows.map((r) => [r.getAttribute('data-threshold'), r.getAttribute('data-ok')]));
  t.deepEqual(thresholds, [
    ['headers_us: p99 < 10s', 'true'],
    ['response_count: rate > 1000000', 'false'],
  ]);

  // Each generator's network as summary.json has it: the interfaces counted and the peak share of their link.
  const networks = Object.entries(archive.summary.networks ?? {});
  t.true(networks.length > 0 && networks.every(([, n]) => n.interfaces.length > 0), JSON.stringify(archive.summary.networks));
  const networkFact = await page.$eval('[data-report="facts"]', (facts: PageElement) => {
    const terms = [...facts.querySelectorAll('dt')];
    const term = terms.find((dt) => dt.textContent === 'Generator network');
    return term?.nextElementSibling?.textContent ?? null;
  });
  t.is(
    networkFact,
    networks.map(([id, n]) => `${id} ${n.maxLinkPercent === null ? 'link speed unknown' : `peak ${n.maxLinkPercent.toFixed(1)} % of its link`} (${n.interfaces.join(', ')})`).join(', '),
  );
});
