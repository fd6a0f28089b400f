/**
 * A grid of uPlot charts, one per metric (metric-charts.js decides which). Fed
 * whole columns each time; a chart is made the first time its metric appears
 * and redrawn in place after that.
 */
import uPlot from './vendor/uplot/uPlot.esm.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#db2777', '#0891b2'];
const ERROR_COLOR = '#dc2626';
const HEIGHT = 180;

const formatValue = (value) => {
  if (value === null || value === undefined) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
};

export class ChartSet {
  constructor(container) {
    this.container = container;
    this.charts = new Map();
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
  }

  /** Draws `specs` over `x` (seconds) with `columns` (name → values, one per x). */
  update(specs, x, columns) {
    for (const spec of specs) {
      const data = [x, ...spec.series.map((s) => columns[s.column] ?? x.map(() => null))];
      let entry = this.charts.get(spec.id);
      if (!entry || entry.seriesCount !== spec.series.length) {
        entry?.card.remove();
        entry = this.create(spec, data);
        this.charts.set(spec.id, entry);
      } else {
        entry.plot.setData(data);
      }
      entry.card.classList.toggle('alert', spec.alert === true);
      // How many points the chart holds now: what a reader (or a test) sees grow each second.
      entry.card.dataset.points = String(x.length);
    }
  }

  clear() {
    for (const { card, plot } of this.charts.values()) {
      plot.destroy();
      card.remove();
    }
    this.charts.clear();
  }

  create(spec, data) {
    const card = document.createElement('figure');
    card.className = `chart${spec.error ? ' error' : ''}`;
    card.dataset.metric = spec.id;
    const caption = document.createElement('figcaption');
    caption.textContent = spec.unit ? `${spec.title} (${spec.unit})` : spec.title;
    const plotArea = document.createElement('div');
    card.append(caption, plotArea);
    this.container.append(card);
    const options = {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: false } },
      legend: { live: true },
      axes: [
        { label: 'seconds', size: 36 },
        { size: 56, values: (_u, ticks) => ticks.map(formatValue) },
      ],
      series: [
        { label: 's', value: (_u, v) => (v === null ? '–' : `${v}`) },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: spec.error ? ERROR_COLOR : COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: false,
          value: (_u, v) => formatValue(v),
        })),
      ],
    };
    const plot = new uPlot(options, data, plotArea);
    return { card, plot, seriesCount: spec.series.length };
  }

  width() {
    const style = getComputedStyle(this.container);
    const min = parseInt(style.getPropertyValue('--chart-min')) || 360;
    const total = this.container.clientWidth || 720;
    const perRow = Math.max(1, Math.floor(total / min));
    return Math.floor(total / perRow) - 24;
  }

  resize() {
    const width = this.width();
    for (const { plot } of this.charts.values()) if (plot.width !== width) plot.setSize({ width, height: HEIGHT });
  }
}
