/**
 * Which charts a set of metric columns makes, for the live view and the report
 * page alike. Column names are the CSV's (report-row.ts): `<key>_per_second`
 * for counters, `<histogram>_<stat>` for histograms, and the generator columns.
 * The live view turns each snapshot into the same columns (liveColumns), so a
 * run looks the same live and in its report.
 */
import { METRIC, intendedName, isErrorMetric, isIntendedMetric } from './shared/metrics.js';

/** Live-only column: the devices the ramp wants running now. */
export const TARGET_DEVICES = 'target_devices';

const HISTOGRAM_LINES = ['median', 'p90', 'p99', 'max'];
/** Lines of a latency's `_intended` twin drawn in the latency's own chart. */
const CORRECTED_LINES = ['median', 'p99'];
const CPU = METRIC.cpuPercent;
const RX = `${METRIC.networkRxBytes}_per_second`;
const TX = `${METRIC.networkTxBytes}_per_second`;

/**
 * Chart specs for the columns present: `{ id, title, unit, error, series: [{ label, column }] }`,
 * generator charts first, then counters, then histograms, each group by name.
 */
export function chartSpecs(columns) {
  const has = new Set(columns);
  const specs = [];
  const add = (id, title, unit, series, error = false) => {
    const present = series.filter((s) => has.has(s.column));
    if (present.length > 0) specs.push({ id, title, unit, error, series: present });
  };
  add('devices', 'Active devices', 'devices', [
    { label: 'active', column: METRIC.activeDeviceNumber },
    { label: 'target', column: TARGET_DEVICES },
  ]);
  add('cpu', 'Generator CPU', '%', [
    { label: 'max', column: `${CPU}_max` },
    { label: 'mean', column: `${CPU}_mean` },
  ]);
  add('network', 'Generator network', 'bytes/s', [
    { label: 'in', column: RX },
    { label: 'out', column: TX },
  ]);
  add('generators', 'Generators', 'generators', [{ label: 'connected', column: METRIC.generatorCount }]);
  const rates = columns.filter((c) => c.endsWith('_per_second') && c !== RX && c !== TX).sort();
  for (const column of rates.filter((c) => !isErrorMetric(c))) add(column, column, 'per second', [{ label: 'rate', column }]);
  for (const column of rates.filter((c) => isErrorMetric(c))) add(column, column, 'per second', [{ label: 'errors', column }], true);
  const histograms = columns
    .filter((c) => c.endsWith('_median') && c !== `${CPU}_median`)
    .map((c) => c.slice(0, -'_median'.length))
    .sort();
  for (const name of histograms) {
    const series = HISTOGRAM_LINES.map((stat) => ({ label: stat, column: `${name}_${stat}` }));
    // An arrival-rate block's latency beside its twin measured from the intended start (coordinated omission corrected).
    if (name.endsWith('_us') && !isIntendedMetric(name)) {
      for (const stat of CORRECTED_LINES) series.push({ label: `corrected ${stat}`, column: `${intendedName(name)}_${stat}` });
    }
    add(name, name, name.endsWith('_us') ? 'µs' : '', series);
  }
  return specs;
}

/** One live snapshot (shared/live.ts) as column → value, named like the CSV's columns. */
export function liveColumns(snapshot) {
  const values = {
    [METRIC.activeDeviceNumber]: snapshot.activeDevices,
    [TARGET_DEVICES]: snapshot.targetDevices,
    [METRIC.generatorCount]: snapshot.generators.length,
    [RX]: snapshot.generators.reduce((sum, g) => sum + g.networkRxBytesPerSecond, 0),
    [TX]: snapshot.generators.reduce((sum, g) => sum + g.networkTxBytesPerSecond, 0),
  };
  if (snapshot.generators.length > 0) {
    const cpus = snapshot.generators.map((g) => g.cpuPercent);
    values[`${CPU}_max`] = Math.max(...cpus);
    values[`${CPU}_mean`] = cpus.reduce((a, b) => a + b, 0) / cpus.length;
  }
  for (const [name, view] of Object.entries(snapshot.counters)) {
    if (name.endsWith('_count')) values[`${name.slice(0, -'_count'.length)}_per_second`] = view.perSecond;
  }
  for (const [name, view] of Object.entries(snapshot.histograms)) {
    if (name === CPU || view.count === 0) continue;
    for (const stat of ['mean', 'min', ...HISTOGRAM_LINES, 'p999']) if (typeof view[stat] === 'number') values[`${name}_${stat}`] = view[stat];
  }
  return values;
}

/** Error counters with their totals, from a snapshot's counters: [[name, total]], largest first. */
export function errorTotals(counters) {
  return Object.entries(counters)
    .filter(([name, view]) => isErrorMetric(name) && view.total > 0)
    .map(([name, view]) => [name, view.total])
    .sort((a, b) => b[1] - a[1]);
}
