/**
 * The generators table: every connected generator's last utilisation report
 * (GET /api/generators, polled each second). A generator above 80 % CPU stands out.
 */
import { api } from './api.js';
import { el, formatPercent, formatRate } from './format.js';
import { HOT_CPU_PERCENT } from './metric-charts.js';

const POLL_MS = 1000;

export class GeneratorsTable {
  constructor(tbody, { onCount } = {}) {
    this.tbody = tbody;
    this.onCount = onCount ?? (() => {});
    this.timer = undefined;
  }

  start() {
    if (this.timer !== undefined) return;
    const tick = async () => {
      try {
        this.render(await api('GET', '/api/generators'));
      } catch {
        // The coordinator restarting: the next poll tries again.
      }
      if (this.timer !== undefined) this.timer = setTimeout(tick, POLL_MS);
    };
    this.timer = setTimeout(tick, 0);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  render(generators) {
    this.onCount(generators.length);
    if (generators.length === 0) {
      this.tbody.replaceChildren(el('tr', {}, el('td', { colSpan: 5, className: 'empty' }, 'No generator is connected.')));
      return;
    }
    this.tbody.replaceChildren(
      ...generators.map((g) => {
        const u = g.utilisation;
        const hot = (u?.cpuPercent ?? 0) > HOT_CPU_PERCENT;
        const row = el(
          'tr',
          { className: hot ? 'hot' : '' },
          el('td', {}, g.id),
          el('td', { className: 'num' }, u ? String(u.activeDevices) : '–'),
          el('td', { className: 'num', title: hot ? `above ${HOT_CPU_PERCENT} %: this generator may be measuring itself` : '' }, u ? formatPercent(u.cpuPercent) : '–'),
          el('td', { className: 'num' }, u ? formatRate(u.networkRxBytesPerSecond) : '–'),
          el('td', { className: 'num' }, u ? formatRate(u.networkTxBytesPerSecond) : '–'),
        );
        row.dataset.generator = g.id;
        return row;
      }),
    );
  }
}
