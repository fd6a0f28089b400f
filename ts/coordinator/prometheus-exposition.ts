/**
 * Metric families as the scrape endpoint serves them: Prometheus's text format
 * (0.0.4), or OpenMetrics 1.0 when the scraper's Accept header prefers it (as
 * Prometheus's own does). The two differ in how a counter's family is named,
 * the UNIT lines, escaping in HELP and the closing `# EOF`.
 */
import type { PrometheusFamily } from './prometheus-series.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Whether an Accept header prefers OpenMetrics to the text format (ties go to OpenMetrics, the newer). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  let openMetrics = 0;
  let text = 0;
  for (const part of (accept ?? '').split(',')) {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    const weight = Number.isFinite(q) ? q : 0;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, weight);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') text = Math.max(text, weight);
  }
  return openMetrics > 0 && openMetrics >= text;
}

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Renders families in order; a family whose name came earlier is left out (a script counter named like a built-in gauge). */
export function renderExposition(families: readonly PrometheusFamily[], openMetrics: boolean): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (seen.has(family.name)) continue;
    seen.add(family.name);
    const typeName = !openMetrics && family.type === 'counter' ? `${family.name}_total` : family.name;
    if (openMetrics) {
      lines.push(`# TYPE ${typeName} ${family.type}`);
      if (family.unit) lines.push(`# UNIT ${typeName} ${family.unit}`);
      lines.push(`# HELP ${typeName} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}`);
    } else {
      lines.push(`# HELP ${typeName} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${typeName} ${family.type}`);
    }
    for (const sample of family.samples) {
      const labels = sample.labels.length > 0 ? `{${sample.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      // The text format counts in milliseconds, OpenMetrics in seconds.
      const at = sample.timestampMs === undefined ? '' : ` ${openMetrics ? sample.timestampMs / 1000 : sample.timestampMs}`;
      lines.push(`${sample.name}${labels} ${formatValue(sample.value)}${at}`);
    }
  }
  if (openMetrics) lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}
