/**
 * How the website writes a generator's network: the bytes it counts, the busier
 * direction as a share of its link (where the link speed is known) and the
 * interfaces counted, live (the live snapshot's generators) and in a report
 * (summary.json's `networks`). Above 80 % of its link a generator stands out,
 * as above 80 % CPU: its network may be what limits the load.
 */
import { formatPercent, formatRate } from './format.js';
import { HOT_PERCENT } from './shared/live.js';

/** ` (eth0, lo)`: the interfaces a generator's bytes count, or nothing when it names none. */
export const interfacesOf = (interfaces) => ((interfaces ?? []).length > 0 ? ` (${interfaces.join(', ')})` : '');

/** Whether a share of a link (null: speed unknown) stands out. */
export const hotLink = (percent) => percent !== undefined && percent !== null && percent > HOT_PERCENT;

/** The live view's fact: bytes in and out over every generator, the busiest link's share and the interfaces counted. */
export function liveNetworkFact(generators) {
  const rx = generators.reduce((sum, g) => sum + g.networkRxBytesPerSecond, 0);
  const tx = generators.reduce((sum, g) => sum + g.networkTxBytesPerSecond, 0);
  const shares = generators.map((g) => g.networkPercent).filter((p) => p !== undefined && p !== null);
  const interfaces = [...new Set(generators.flatMap((g) => g.networkInterfaces ?? []))].sort();
  return [
    `in ${formatRate(rx)}, out ${formatRate(tx)}`,
    shares.length > 0 ? `busiest link ${formatPercent(Math.max(...shares))}` : 'link speed unknown',
    ...(interfaces.length > 0 ? [`on ${interfaces.join(', ')}`] : []),
  ].join(' · ');
}

/** A report's busiest link: `{ id, percent, interfaces }`, or null when no generator knew its link speed (or the summary predates it). */
export function busiestLink(networks) {
  let busiest = null;
  for (const [id, n] of Object.entries(networks ?? {})) {
    if (n.maxLinkPercent === null || n.maxLinkPercent === undefined) continue;
    if (busiest === null || n.maxLinkPercent > busiest.percent) busiest = { id, percent: n.maxLinkPercent, interfaces: n.interfaces ?? [] };
  }
  return busiest;
}

/** A report's fact, one generator after another: `gen-a peak 85.0 % of its link (eth0)`, or `gen-b link speed unknown (eth0)`. */
export function reportNetworkFact(networks) {
  const entries = Object.entries(networks ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '–';
  return entries
    .map(
      ([id, n]) => `${id} ${n.maxLinkPercent === null || n.maxLinkPercent === undefined ? 'link speed unknown' : `peak ${formatPercent(n.maxLinkPercent)} of its link`}${interfacesOf(n.interfaces)}`,
    )
    .join(', ');
}
