/**
 * The generators table: every connected generator's last utilisation report
 * (GET /api/generators, polled each second): CPU, bytes in and out, the busier
 * direction as a share of the link and the interfaces counted. A generator above
 * 80 % CPU or 80 % of its link stands out.
 */
import { api } from './api.js';
import { el, formatPercent, formatRate } from './format.js';
import { hotLink } from './generator-network.js';
import { HOT_PERCENT } from './shared/live.js';

const COLUMNS = 7;

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
      this.tbody.replaceChildren(el('tr', {}, el('td', { colSpan: COLUMNS, className: 'empty' }, 'No generator is connected.')));
      return;
    }
    this.tbody.replaceChildren(
      ...generators.map((g) => {
        const u = g.utilisation;
        const hotCpu = (u?.cpuPercent ?? 0) > HOT_PERCENT;
        const link = u?.networkPercent ?? null;
        const hotNetwork = hotLink(link);
        const interfaces = u?.networkInterfaces ?? [];
        const row = el(
          'tr',
          { className: hotCpu || hotNetwork ? 'hot' : '' },
          el('td', {}, g.id),
          el('td', { className: 'num' }, u ? String(u.activeDevices) : '–'),
          el('td', { className: 'num', title: hotCpu ? `above ${HOT_PERCENT} %: this generator may be measuring itself` : '' }, u ? formatPercent(u.cpuPercent) : '–'),
          el('td', { className: 'num' }, u ? formatRate(u.networkRxBytesPerSecond) : '–'),
          el('td', { className: 'num' }, u ? formatRate(u.networkTxBytesPerSecond) : '–'),
          el(
            'td',
            {
              className: 'num',
              title: hotNetwork
                ? `above ${HOT_PERCENT} % of its link: this generator's network may be what limits the load`
                : link === null
                  ? 'the link speed of these interfaces is unknown'
                  : 'the busier direction as a share of the link speed',
            },
            link === null ? '–' : formatPercent(link),
          ),
          el('td', {}, interfaces.length > 0 ? interfaces.join(', ') : '–'),
        );
        row.dataset.generator = g.id;
        return row;
      }),
    );
  }
}
