/**
 * The script of the standalone HTML report (`sgcli report`, report.html in each
 * archive, `/results/<runId>.html`): draws a run's facts, thresholds, a chart
 * over time of every metric and a percentile spectrum per histogram from the
 * data the report carries inline. It is inlined into the page with the chart
 * modules it imports, so the page needs nothing from any network.
 */
import uPlot from './vendor/uplot/uPlot.esm.js';
import { ChartSet } from './charts.js';
import { el, formatDuration, formatPercent, formatTime } from './format.js';
import { busiestLink, hotLink, reportNetworkFact } from './generator-network.js';
import { chartSpecs } from './metric-charts.js';
import { thresholdsTable } from './thresholds-table.js';

const SPECTRUM_HEIGHT = 260;
/** The x axis of a spectrum: 1 / (1 - p), so 90 %, 99 %, 99.9 % ... sit one decade apart. */
const inverse = (percentile) => 1 / (1 - percentile / 100);
const percentileOfInverse = (x) => 100 * (1 - 1 / x);
const decades = (max) => {
  const ticks = [];
  for (let d = 1; d <= max * 1.0001; d *= 10) ticks.push(d);
  return ticks;
};

const part = (name) => document.querySelector(`[data-report="${name}"]`);

function showFacts(report) {
  const s = report.summary;
  const counters = s.counters ?? {};
  const duration = s.durationSeconds ?? (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
  const requests = counters.response_count ?? 0;
  const facts = [
    ['Run id', s.runId],
    ['Outcome', s.aborted ? `aborted${s.reason ? ` (${s.reason})` : ''}` : 'done'],
    ['Started', formatTime(s.startedAt)],
    ['Duration', formatDuration(duration)],
    ['Devices', `${s.effectiveDevices ?? '–'} effective of ${s.desiredDevices} desired`],
    ['Generators', String(s.generatorCount)],
    ['Requests', `${requests} (${duration > 0 ? (requests / duration).toFixed(1) : '0'}/s)`],
    ['Busiest generator CPU', s.maxCpuPercent == null ? '–' : formatPercent(s.maxCpuPercent)],
    ['Generator network', reportNetworkFact(s.networks)],
    [
      'Errors',
      s.errorTotal > 0
        ? Object.entries(s.errors)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : 'none',
    ],
  ];
  part('facts').replaceChildren(
    ...facts.flatMap(([k, v]) => [
      el('dt', {}, k),
      el('dd', { className: (k === 'Errors' && s.errorTotal > 0) || (k === 'Generator network' && hotLink(busiestLink(s.networks)?.percent)) ? 'error' : '' }, v),
    ]),
  );
}

function showThresholds(report) {
  const results = report.summary.thresholds ?? [];
  const section = part('thresholds');
  if (results.length === 0) {
    section.replaceChildren(el('p', {}, 'The plan set no thresholds.'));
    return;
  }
  section.replaceChildren(...thresholdsTable(results));
}

function showSpectra(report) {
  const container = part('spectra');
  const width = Math.max(320, Math.min(900, container.clientWidth || 900) - 24);
  for (const [name, spectrum] of Object.entries(report.spectra)) {
    const card = el('figure', { className: 'chart spectrum' });
    card.dataset.histogram = name;
    card.dataset.p99 = String(spectrum.p99);
    card.dataset.count = String(spectrum.count);
    const micros = name.endsWith('_us');
    card.append(el('figcaption', {}, `${name}: percentile spectrum (${micros ? 'ms' : name.endsWith('_percent') ? '%' : 'value'}), ${spectrum.count} samples`));
    const area = el('div');
    card.append(area);
    container.append(card);
    const scale = micros ? 1000 : 1;
    const x = spectrum.points.map(([p]) => inverse(p));
    const y = spectrum.points.map(([, v]) => v / scale);
    const plot = new uPlot(
      {
        width,
        height: SPECTRUM_HEIGHT,
        scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
        axes: [
          // One tick a decade of 1 / (1 - p): 0 %, 90 %, 99 %, 99.9 %, ...
          { label: 'percentile', splits: (u) => decades(u.scales.x.max), values: (_u, ticks) => ticks.map((t) => `${Number(percentileOfInverse(t).toPrecision(6))}%`) },
          { label: micros ? 'ms' : '', size: 60 },
        ],
        series: [
          { label: 'percentile', value: (_u, v) => (v == null ? '–' : `${Number(percentileOfInverse(v).toPrecision(6))}%`) },
          { label: name, stroke: '#2563eb', width: 1.5, points: { show: false } },
        ],
      },
      [x, y],
      area,
    );
    card.dataset.points = String(x.length);
    card.plot = plot;
  }
}

function main() {
  const report = JSON.parse(document.getElementById('report-data').textContent);
  document.title = `${report.summary.name}: Stressgrid report`;
  part('title').textContent = report.summary.name;
  showFacts(report);
  showThresholds(report);
  const charts = new ChartSet(part('charts'));
  charts.update(chartSpecs(Object.keys(report.series.columns)), report.series.elapsed, report.series.columns);
  showSpectra(report);
  document.body.dataset.ready = 'true';
}

main();
