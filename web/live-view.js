/**
 * The live view: the active run's state from the live stream (GET /api/live,
 * one snapshot a second) and a chart per metric over the run so far. Errors,
 * generator CPU or network above 80 % (of the generator's link), generators busy
 * (above 90 % CPU) for more than a tenth of the run and results a writer failed
 * to send stand out.
 * When the run ends, its outcome and report link stay until the next run starts.
 */
import { api, liveProtocols, liveUrl } from './api.js';
import { ChartSet } from './charts.js';
import { el, formatDuration, formatPercent } from './format.js';
import { hotLink, interfacesOf, liveNetworkFact } from './generator-network.js';
import { chartSpecs, errorTotals, liveColumns } from './metric-charts.js';
import { HOT_PERCENT, openModelFigures, openModelOnly } from './shared/live.js';
import { thresholdsTable } from './thresholds-table.js';
import { writerStatusParts } from './writer-status.js';

const RECONNECT_MS = 2000;
const CPU_MAX_COLUMN = 'cpu_percent_max';

/** `500/s`, `2.5/s`: a rate as the live view writes it. */
const perSecond = (n) => `${n < 10 && !Number.isInteger(n) ? n.toFixed(1) : Math.round(n)}/s`;

export class LiveView {
  constructor(root, { onActive } = {}) {
    this.root = root;
    this.onActive = onActive ?? (() => {});
    this.part = (name) => root.querySelector(`[data-live="${name}"]`);
    this.charts = new ChartSet(this.part('charts'));
    this.runId = null;
    this.active = false;
    this.reset(null);
    this.part('abort').addEventListener('click', () => void this.abort());
  }

  connect() {
    const socket = new WebSocket(liveUrl(), liveProtocols());
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'live') this.showSnapshot(message.snapshot);
      else if (message.type === 'ended') this.showEnded(message.result);
      else if (message.type === 'notice') this.showNotice(message.message);
    });
    socket.addEventListener('close', () => setTimeout(() => this.connect(), RECONNECT_MS));
    this.socket = socket;
  }

  /** Starts a new history for `runId` (null: nothing shown). */
  reset(runId) {
    this.runId = runId;
    this.x = [];
    this.columns = {};
    this.charts.clear();
    this.part('notices').replaceChildren();
    this.part('ended').hidden = true;
    this.part('errors').hidden = true;
    this.part('hot').hidden = true;
    this.part('busy').hidden = true;
    this.part('writers').hidden = true;
    this.part('thresholds').hidden = true;
    this.root.hidden = runId === null;
  }

  /** Called by the form right after it started a run, so the view is ready before the first snapshot. */
  started(runId, name) {
    if (this.runId !== runId) this.reset(runId);
    this.part('run-id').textContent = runId;
    this.part('name').textContent = name;
    this.setActive(true);
  }

  setActive(active) {
    this.active = active;
    this.part('abort').disabled = !active;
    this.onActive(active);
  }

  showSnapshot(snapshot) {
    if (snapshot.runId !== this.runId) this.reset(snapshot.runId);
    this.setActive(true);
    this.part('run-id').textContent = snapshot.runId;
    this.part('name').textContent = snapshot.name;
    this.part('state').textContent = snapshot.state;
    this.part('remaining').textContent = formatDuration(snapshot.remaining);
    this.part('elapsed').textContent = formatDuration(snapshot.elapsed);
    this.part('generators').textContent = String(snapshot.generators.length);
    this.showDevices(snapshot);

    // One row of columns per snapshot; a metric first seen now is empty before.
    const values = liveColumns(snapshot);
    const n = this.x.length;
    for (const name of Object.keys(values)) this.columns[name] ??= new Array(n).fill(null);
    for (const [name, column] of Object.entries(this.columns)) column.push(values[name] ?? null);
    this.x.push(snapshot.elapsed);

    this.part('network').textContent = liveNetworkFact(snapshot.generators);
    const hotCpu = snapshot.generators.filter((g) => g.cpuPercent > HOT_PERCENT);
    const hotNetwork = snapshot.generators.filter((g) => hotLink(g.networkPercent));
    const hotNote = this.part('hot');
    hotNote.hidden = hotCpu.length === 0 && hotNetwork.length === 0;
    hotNote.textContent = hotNote.hidden
      ? ''
      : [
          hotCpu.length > 0 ? `Generator CPU above ${HOT_PERCENT} %: ${hotCpu.map((g) => `${g.id} ${formatPercent(g.cpuPercent)}`).join(', ')}.` : '',
          hotNetwork.length > 0
            ? `Generator network above ${HOT_PERCENT} % of its link: ${hotNetwork.map((g) => `${g.id} ${formatPercent(g.networkPercent)}${interfacesOf(g.networkInterfaces)}`).join(', ')}.`
            : '',
          'Results may measure the generator, not the target.',
        ]
          .filter(Boolean)
          .join(' ');
    // Not one hot second but a saturated generator: CPU above 90 % for more than 10 % of the run (the coordinator decides).
    const busy = snapshot.busyGenerators ?? [];
    const busyNote = this.part('busy');
    busyNote.hidden = busy.length === 0;
    busyNote.textContent =
      busy.length === 0
        ? ''
        : `Busy generators, CPU above 90 % for more than 10 % of the run: ${busy.map((g) => `${g.id} (${Math.round(g.percentOfRun)} % of the run)`).join(', ')}. The run is valid, but the latencies they measured are suspect.`;
    const errors = errorTotals(snapshot.counters);
    const errorNote = this.part('errors');
    errorNote.hidden = errors.length === 0 && snapshot.lostGenerators.length === 0;
    errorNote.textContent = [
      errors.length > 0 ? `Errors: ${errors.map(([name, total]) => `${name} ${total}`).join(', ')}` : '',
      snapshot.lostGenerators.length > 0 ? `Generators lost: ${snapshot.lostGenerators.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('. ');
    this.showWriters(snapshot.writers ?? []);
    this.showThresholds(snapshot.thresholds ?? []);

    const specs = chartSpecs(Object.keys(this.columns)).map((spec) =>
      spec.id === 'cpu' ? { ...spec, alert: (this.columns[CPU_MAX_COLUMN]?.at(-1) ?? 0) > HOT_PERCENT } : spec.id === 'network' ? { ...spec, alert: hotNetwork.length > 0 } : spec,
    );
    this.charts.update(specs, this.x, this.columns);
  }

  /**
   * Active devices against the ramp's target; for arrival-rate blocks (the open
   * model) the iterations due and started each second, the pool in use and the
   * iterations dropped. A plan of arrival-rate blocks alone has no target.
   */
  showDevices(snapshot) {
    const open = openModelFigures(snapshot);
    this.part('active').textContent = openModelOnly(snapshot)
      ? `${open.activeDevices} of ${open.maxDevices} (the pool)`
      : `${snapshot.activeDevices} of ${snapshot.targetDevices} (effective ${snapshot.effectiveDevices})`;
    const iterations = this.part('iterations');
    iterations.hidden = open === null;
    this.part('iterations-term').hidden = open === null;
    if (open === null) return;
    const dropped = `dropped ${open.dropped}${open.droppedPerSecond > 0 ? ` (${perSecond(open.droppedPerSecond)})` : ''}`;
    iterations.textContent = `due ${perSecond(open.intendedPerSecond)} · started ${perSecond(open.startedPerSecond)} · ${dropped}`;
    iterations.className = open.droppedPerSecond > 0 ? 'error' : '';
  }

  /** The plan's thresholds so far (merged over every generator), or at the end. */
  showThresholds(results) {
    const box = this.part('thresholds');
    box.hidden = results.length === 0;
    box.replaceChildren(...(results.length === 0 ? [] : thresholdsTable(results)));
  }

  /** Writers that send results elsewhere (CloudWatch): what arrived, what waits, and failures in red. */
  showWriters(writers) {
    const list = this.part('writers');
    list.hidden = writers.length === 0;
    list.replaceChildren(
      ...writers.map((w) => {
        const item = el('li', { className: w.failed > 0 ? 'error' : '' }, `${w.writer}: `, ...writerStatusParts(w, { live: true }));
        item.dataset.writer = w.writer;
        return item;
      }),
    );
  }

  showEnded(result) {
    if (result.runId !== this.runId) return;
    this.setActive(false);
    this.part('state').textContent = result.outcome;
    this.part('remaining').textContent = '–';
    const ended = this.part('ended');
    const parts = [`Run ${result.outcome}${result.reason ? ` (${result.reason})` : ''}.`];
    if (result.criticalErrors > 0) parts.push(`${result.criticalErrors} critical errors.`);
    ended.replaceChildren(parts.join(' '), ' ');
    if (result.archiveUrl) {
      ended.append(el('a', { href: result.archiveUrl, download: '' }, 'Download the report'), ' · ', el('a', { href: `#/reports/${result.runId}` }, 'View the report'));
      if (result.reportUrl) ended.append(' · ', el('a', { href: result.reportUrl, target: '_blank' }, 'HTML report'));
    }
    if (result.summary?.thresholds) this.showThresholds(result.summary.thresholds);
    const thresholdsFailed = (result.summary?.thresholds ?? []).some((r) => r.ok !== true);
    ended.hidden = false;
    ended.classList.toggle('error', result.outcome !== 'done' || (result.summary?.errorTotal ?? 0) > 0 || thresholdsFailed);
  }

  showNotice(message) {
    const list = this.part('notices');
    list.append(el('li', {}, message));
    while (list.children.length > 20) list.firstElementChild.remove();
  }

  async abort() {
    if (!this.runId || !this.active) return;
    this.part('abort').disabled = true;
    try {
      this.showEnded(await api('POST', `/api/runs/${encodeURIComponent(this.runId)}/abort`, { reason: 'aborted from the website' }));
    } catch (error) {
      this.showNotice(`Abort failed: ${error.message}`);
      this.part('abort').disabled = false;
    }
  }
}
