/**
 * The reports table (GET /api/reports) and a report's own page
 * (GET /api/reports/<runId>: summary, plan and results.csv as series).
 */
import { api } from './api.js';
import { ChartSet } from './charts.js';
import { el, formatBytes, formatPercent, formatTime } from './format.js';
import { busiestLink, hotLink, reportNetworkFact } from './generator-network.js';
import { chartSpecs } from './metric-charts.js';
import { HOT_PERCENT } from './shared/live.js';
import { thresholdsTable } from './thresholds-table.js';
import { writerStatusParts } from './writer-status.js';

export class ReportsTable {
  constructor(tbody, status) {
    this.tbody = tbody;
    this.status = status;
  }

  async load() {
    let reports;
    try {
      reports = await api('GET', '/api/reports');
    } catch (error) {
      this.status.textContent = `Could not list the reports: ${error.message}`;
      return;
    }
    this.status.textContent = '';
    if (reports.length === 0) {
      this.tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 9, className: 'empty' }, 'No report yet: runs leave one here when they end.')));
      return;
    }
    this.tbody.replaceChildren(...reports.map((r) => this.row(r)));
  }

  row(report) {
    const s = report.summary;
    const errors = s?.errorTotal ?? 0;
    const hot = (s?.maxCpuPercent ?? 0) > HOT_PERCENT;
    const link = busiestLink(s?.networks);
    const remove = el('button', { type: 'button', className: 'danger' }, 'Delete');
    remove.setAttribute('aria-label', `Delete report ${report.runId}`);
    remove.addEventListener('click', () => void this.remove(report));
    const download = el('a', { href: report.url, download: report.fileName }, 'Download');
    download.setAttribute('aria-label', `Download report ${report.runId}`);
    const page = el('a', { href: report.reportUrl, target: '_blank' }, 'HTML report');
    page.setAttribute('aria-label', `HTML report of ${report.runId}`);
    const thresholds = s?.thresholds ?? [];
    const failedThresholds = thresholds.filter((r) => r.ok !== true).length;
    const row = el(
      'tr',
      {},
      el('td', {}, el('a', { href: `#/reports/${report.runId}` }, s?.name ?? report.runId), el('div', { className: 'sub' }, report.runId)),
      el('td', {}, formatTime(report.startedAt)),
      el('td', { className: 'num' }, s ? String(s.effectiveDevices ?? s.desiredDevices) : '–'),
      el('td', { className: `num${hot ? ' hot' : ''}` }, s?.maxCpuPercent == null ? '–' : formatPercent(s.maxCpuPercent)),
      el(
        'td',
        {
          className: `num${link !== null && hotLink(link.percent) ? ' hot' : ''}`,
          title: link === null ? 'no generator knew its link speed' : `${link.id}${link.interfaces.length > 0 ? ` on ${link.interfaces.join(', ')}` : ''}`,
        },
        link === null ? '–' : formatPercent(link.percent),
      ),
      el('td', { className: errors > 0 || s?.aborted ? 'error' : '' }, errors > 0 ? `${errors} errors` : s?.aborted ? 'aborted' : 'none'),
      el(
        'td',
        { className: failedThresholds > 0 ? 'error' : '' },
        thresholds.length === 0 ? '–' : failedThresholds > 0 ? `${failedThresholds} of ${thresholds.length} failed` : `${thresholds.length} passed`,
      ),
      el('td', {}, download, ' · ', page, el('div', { className: 'sub' }, formatBytes(report.bytes))),
      el('td', {}, remove),
    );
    row.dataset.runId = report.runId;
    return row;
  }

  async remove(report) {
    if (!window.confirm(`Delete the report of ${report.summary?.name ?? report.runId} (${report.runId})? This cannot be undone.`)) return;
    try {
      await api('DELETE', `/api/reports/${encodeURIComponent(report.runId)}`);
    } catch (error) {
      if (error.status !== 404) this.status.textContent = `Could not delete: ${error.message}`;
    }
    await this.load();
  }
}

export class ReportPage {
  constructor(root) {
    this.root = root;
    this.part = (name) => root.querySelector(`[data-report="${name}"]`);
    this.charts = new ChartSet(this.part('charts'));
  }

  async show(runId) {
    this.charts.clear();
    this.part('title').textContent = runId;
    this.part('facts').replaceChildren();
    this.part('status').textContent = 'Loading…';
    let report;
    try {
      report = await api('GET', `/api/reports/${encodeURIComponent(runId)}`);
    } catch (error) {
      this.part('status').textContent = error.status === 404 ? `There is no report of run ${runId}.` : `Could not load the report: ${error.message}`;
      return;
    }
    const s = report.summary;
    this.part('status').textContent = report.series.elapsed.length === 0 ? 'This report has no rows.' : '';
    this.part('title').textContent = s?.name ?? runId;
    this.part('download').href = report.url;
    this.part('html').href = report.reportUrl;
    const thresholds = s?.thresholds ?? [];
    this.part('thresholds').hidden = thresholds.length === 0;
    this.part('thresholds').replaceChildren(...(thresholds.length === 0 ? [] : thresholdsTable(thresholds)));
    const facts = [
      ['Run id', runId],
      ['Started', s ? formatTime(s.startedAt) : '–'],
      ['Ended', s ? formatTime(s.endedAt) : '–'],
      ['Devices', s ? `${s.effectiveDevices ?? '–'} effective of ${s.desiredDevices} desired` : '–'],
      ['Generators', s ? String(s.generatorCount) : '–'],
      ['Max CPU', s?.maxCpuPercent == null ? '–' : formatPercent(s.maxCpuPercent)],
      ['Network', reportNetworkFact(s?.networks)],
      [
        'Errors',
        s
          ? s.errorTotal > 0
            ? Object.entries(s.errors)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
            : 'none'
          : '–',
      ],
      ['Outcome', s ? (s.aborted ? `aborted${s.reason ? ` (${s.reason})` : ''}` : 'done') : '–'],
      ...((s?.busyGenerators ?? []).length > 0
        ? [['Busy generators', `${s.busyGenerators.map((g) => `${g.id} ${Math.round(g.percentOfRun)} % of the run above 90 % CPU`).join(', ')}: latencies suspect`]]
        : []),
      ...((s?.telemetryMissing ?? []).length > 0
        ? [['Missing telemetry', s.telemetryMissing.map((m) => `${m.generator}: ${m.devices} devices after ${m.lastTelemetryAt ?? 'the start'}`).join(', ')]]
        : []),
    ];
    this.part('facts').replaceChildren(
      ...facts.flatMap(([k, v]) => [
        el('dt', {}, k),
        el(
          'dd',
          {
            className:
              (k === 'Errors' && s?.errorTotal > 0) ||
              (k === 'Max CPU' && s?.maxCpuPercent > HOT_PERCENT) ||
              (k === 'Network' && hotLink(busiestLink(s?.networks)?.percent)) ||
              k === 'Busy generators' ||
              k === 'Missing telemetry'
                ? 'error'
                : '',
          },
          v,
        ),
      ]),
      ...(s?.writers ?? []).flatMap((w) => {
        const value = el('dd', { className: w.failed > 0 ? 'error' : '' }, ...writerStatusParts(w));
        value.dataset.writer = w.writer;
        return [el('dt', {}, w.writer), value];
      }),
    );
    const columns = report.series.columns;
    this.charts.update(chartSpecs(Object.keys(columns)), report.series.elapsed, columns);
  }
}
