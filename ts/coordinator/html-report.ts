/**
 * The run report as one self-contained HTML file: facts, thresholds, a chart
 * over time of every results.csv column, and a percentile spectrum per
 * histogram of histograms.hlog. Everything it draws with is inlined (uPlot, the
 * website's chart modules, the data), so it opens from a disk, a CI artifact
 * store or an email with no request to anywhere.
 *
 * The same builder makes report.html in each archive, `sgcli report`, and the
 * coordinator's `/results/<runId>.html`.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../hdr/index.js';
import { HISTOGRAM_BOUNDS } from '../shared/metrics.js';
import type { ResolvedPlan } from '../shared/plan.js';
import { RESULTS_CSV } from './csv-writer.js';
import { HISTOGRAM_LOG } from './hlog-writer.js';
import { readArchiveFiles, seriesOfCsv, type ReportSeries } from './report-reader.js';
import { PLAN_JSON, SUMMARY_JSON, type RunSummary } from './run-summary.js';

export const REPORT_HTML = 'report.html';

/** One histogram's percentile spectrum over the whole run: [percentile, value] pairs, value in the recorded unit. */
export interface Spectrum {
  count: number;
  points: Array<[percentile: number, value: number]>;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** What the page draws, carried inline as JSON. */
export interface ReportData {
  summary: RunSummary;
  plan: ResolvedPlan | null;
  series: ReportSeries;
  spectra: Record<string, Spectrum>;
}

/** The files of a run a report is made of, as text. */
export interface ReportSources {
  summary: RunSummary;
  plan: ResolvedPlan | null;
  csv: string | null;
  hlog: string | null;
}

/** Percentiles 0, 90, 99, ... ten steps a decade (the HdrHistogram spectrum), plus the usual ones exactly. */
function spectrumPercentiles(count: number): number[] {
  const percentiles = new Set<number>([0, 50, 90, 99, 99.9, 99.99, 99.999]);
  // No further than the samples reach: beyond 1 - 1/count every percentile is the max.
  for (let step = 1; step <= 80; step++) {
    const inverse = 10 ** (step / 10);
    if (inverse > count * 10) break;
    percentiles.add(Number((100 * (1 - 1 / inverse)).toPrecision(12)));
  }
  for (let p = 5; p < 90; p += 5) percentiles.add(p);
  return [...percentiles].filter((p) => p < 100 && 1 / (1 - p / 100) <= Math.max(10, count * 10)).sort((a, b) => a - b);
}

/** Merges every interval of every histogram in an hlog (histogram-log format 1.3, as hlog-writer.ts writes it). */
export function mergeHlog(text: string): Map<string, Histogram> {
  const merged = new Map<string, Histogram>();
  for (const line of text.split('\n')) {
    const match = /^Tag=([^,]+),[^,]*,[^,]*,[^,]*,(\S+)$/.exec(line.trim());
    if (!match) continue;
    const [, tag, encoded] = match;
    let h = merged.get(tag!);
    if (!h) merged.set(tag!, (h = new Histogram(HISTOGRAM_BOUNDS)));
    h.addEncoded(Buffer.from(encoded!, 'base64'));
  }
  return merged;
}

export function spectrumOf(h: Histogram): Spectrum {
  const percentiles = spectrumPercentiles(h.totalCount);
  const values = h.valuesAtPercentiles(Float64Array.from([...percentiles, 50, 90, 99, 99.9]));
  const at = (i: number) => values[percentiles.length + i]!;
  return {
    count: h.totalCount,
    points: percentiles.map((p, i) => [p, values[i]!]),
    p50: at(0),
    p90: at(1),
    p99: at(2),
    p999: at(3),
    max: h.max,
  };
}

export function reportData(sources: ReportSources): ReportData {
  const spectra: Record<string, Spectrum> = {};
  if (sources.hlog) {
    for (const [name, h] of [...mergeHlog(sources.hlog)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (h.totalCount > 0) spectra[name] = spectrumOf(h);
    }
  }
  return {
    summary: sources.summary,
    plan: sources.plan,
    series: sources.csv ? seriesOfCsv(sources.csv) : { elapsed: [], time: [], columns: {} },
    spectra,
  };
}

const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));
const SHARED_DIR = fileURLToPath(new URL('../shared/', import.meta.url));

/** The page's modules in dependency order: name → file. The entry comes last. */
const MODULES: ReadonlyArray<[name: string, path: string]> = [
  ['shared/metrics.js', join(SHARED_DIR, 'metrics.js')],
  ['shared/json-shape.js', join(SHARED_DIR, 'json-shape.js')],
  ['shared/thresholds.js', join(SHARED_DIR, 'thresholds.js')],
  ['shared/live.js', join(SHARED_DIR, 'live.js')],
  ['format.js', join(WEB_DIR, 'format.js')],
  ['generator-network.js', join(WEB_DIR, 'generator-network.js')],
  ['charts.js', join(WEB_DIR, 'charts.js')],
  ['metric-charts.js', join(WEB_DIR, 'metric-charts.js')],
  ['thresholds-table.js', join(WEB_DIR, 'thresholds-table.js')],
  ['report-document.js', join(WEB_DIR, 'report-document.js')],
];

/**
 * Turns ES modules into one classic script: each module a function scope whose
 * exports go into a table, each import a read from that table. Enough for the
 * website's own modules (named imports and exports, uPlot as a default import);
 * an import of anything else is an error here, not a broken page.
 */
export function inlineModules(modules: ReadonlyArray<[name: string, source: string]>): string {
  const out: string[] = ['const __modules = {};'];
  for (const [name, source] of modules) {
    const exported: string[] = [];
    const body = source
      .replace(/^\/\/# sourceMappingURL=.*$/gm, '')
      .replace(/^import\s+uPlot\s+from\s+['"][^'"]*uPlot\.esm\.js['"];?$/gm, 'const uPlot = window.uPlot;')
      .replace(/^import\s+\{([^}]*)\}\s+from\s+['"]\.\/([^'"]+)['"];?$/gm, (_all, names: string, from: string) => {
        const key = modules.find(([n]) => n === from || n.endsWith(`/${from}`))?.[0];
        if (!key) throw new Error(`${name} imports ${from}, which the report does not inline`);
        const bindings = names
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean)
          .map((n) => n.replace(/\s+as\s+/, ': '));
        return `const { ${bindings.join(', ')} } = __modules[${JSON.stringify(key)}];`;
      })
      .replace(/^export\s+(const|let|function|class|async function)\s+([A-Za-z_$][\w$]*)/gm, (_all, kind: string, id: string) => {
        exported.push(id);
        return `${kind} ${id}`;
      });
    if (/^\s*(import|export)\s/m.test(body)) throw new Error(`${name} has an import or export the report cannot inline`);
    out.push(`__modules[${JSON.stringify(name)}] = (() => {\n${body}\nreturn { ${exported.join(', ')} };\n})();`);
  }
  return out.join('\n');
}

function uplotDist(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

/** `</script` inside inlined text would end the element early. */
const scriptSafe = (text: string): string => text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export async function buildHtmlReport(sources: ReportSources): Promise<string> {
  const data = reportData(sources);
  const [uplot, uplotCss, siteCss, ...moduleSources] = await Promise.all([
    readFile(join(uplotDist(), 'uPlot.iife.min.js'), 'utf8'),
    readFile(join(uplotDist(), 'uPlot.min.css'), 'utf8'),
    readFile(join(WEB_DIR, 'style.css'), 'utf8'),
    ...MODULES.map(([, path]) => readFile(path, 'utf8')),
  ]);
  const script = inlineModules(MODULES.map(([name], i) => [name, moduleSources[i]!]));
  const title = `${data.summary.name}: Stressgrid report`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${uplotCss}</style>
<style>${siteCss}
body { padding: 1rem 2rem; }
.spectra { display: flex; flex-direction: column; gap: 0.8rem; }
</style>
</head>
<body>
<main>
<h1>Run <span data-report="title">${escapeHtml(data.summary.name)}</span></h1>
<dl class="facts" data-report="facts"></dl>
<h2>Thresholds</h2>
<section data-report="thresholds"></section>
<h2>Over time</h2>
<div class="charts" data-report="charts"></div>
<h2>Latency distribution (percentile spectrum, whole run)</h2>
<div class="spectra" data-report="spectra"></div>
</main>
<script type="application/json" id="report-data">${scriptSafe(JSON.stringify(data))}</script>
<script>${scriptSafe(uplot)}</script>
<script>${scriptSafe(script)}</script>
</body>
</html>
`;
}

/** The report's sources read from a run's archive. */
export async function reportSourcesOfArchive(path: string): Promise<ReportSources> {
  const files = await readArchiveFiles(path, [SUMMARY_JSON, PLAN_JSON, RESULTS_CSV, HISTOGRAM_LOG]);
  const summaryText = files.get(SUMMARY_JSON);
  if (!summaryText) throw new Error(`${path} holds no ${SUMMARY_JSON}: is it a Stressgrid run archive?`);
  const plan = files.get(PLAN_JSON);
  return {
    summary: JSON.parse(summaryText.toString('utf8')) as RunSummary,
    plan: plan ? (JSON.parse(plan.toString('utf8')) as ResolvedPlan) : null,
    csv: files.get(RESULTS_CSV)?.toString('utf8') ?? null,
    hlog: files.get(HISTOGRAM_LOG)?.toString('utf8') ?? null,
  };
}

/** The report an archive carries (report.html), or one built from its files when it has none (archives older than the report). */
export async function htmlReportOfArchive(path: string): Promise<string> {
  const stored = (await readArchiveFiles(path, [REPORT_HTML])).get(REPORT_HTML);
  return stored ? stored.toString('utf8') : buildHtmlReport(await reportSourcesOfArchive(path));
}
