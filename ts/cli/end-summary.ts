/**
 * The end-of-run summary sgcli prints to stderr: what a person needs in ten
 * seconds to know how the run went and whether it met its goals. Everything
 * comes from the run's summary.json, so the embedded and the remote mode print
 * the same, and `--summary-json` writes the very figures printed.
 */
import type { RunSummary } from '../coordinator/run-summary.js';
import { METRIC, isErrorMetric } from '../shared/metrics.js';
import { formatThresholdValue, thresholdLabel } from '../shared/thresholds.js';
import { formatCount, formatDuration, formatPercent, formatSignificant, microsToMillis } from './format-units.js';

/** What `--summary-json` writes: summary.json plus where the archive is. */
export interface SummaryJson extends RunSummary {
  /** The archive's path (a URL with --coordinator); null when none was written. */
  archive: string | null;
  /** True when every threshold was met (or there are none). */
  thresholdsPassed: boolean;
}

/** Columns padded to one width each: the first `left` aligned left, the rest right. */
const pad = (cells: string[][], left = 1): string[] => {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    row
      .map((cell, i) => (i < left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
};

/** The summary as lines of text, ready for stderr. */
export function formatEndSummary(summary: RunSummary): string[] {
  const lines: string[] = [];
  const duration = summary.durationSeconds ?? (Date.parse(summary.endedAt) - Date.parse(summary.startedAt)) / 1000;
  const outcome = summary.aborted ? `aborted${summary.reason ? ` (${summary.reason})` : ''}` : 'done';
  lines.push(`run ${summary.name} (${summary.runId}): ${outcome}`);
  const counters = summary.counters ?? {};
  const iterations = counters[METRIC.iterationCount];
  // A plan of arrival-rate blocks alone has no closed devices: its iterations say what it ran.
  const devices = iterations !== undefined && !summary.effectiveDevices ? '' : `   devices ${summary.effectiveDevices ?? '–'} (desired ${summary.desiredDevices})`;
  lines.push(
    `  duration ${formatDuration(duration)}${devices}   generators ${summary.generatorCount}   busiest generator CPU ${summary.maxCpuPercent === null ? '–' : formatPercent(summary.maxCpuPercent)}`,
  );
  if (iterations !== undefined) {
    const dropped = counters[METRIC.droppedIterationCount] ?? 0;
    const late = counters[METRIC.lateIterationCount] ?? 0;
    lines.push(`  iterations ${formatCount(iterations)} started (${formatSignificant(duration > 0 ? iterations / duration : 0, 1)}/s), ${formatCount(dropped)} dropped, ${formatCount(late)} late`);
  }
  const responses = counters[METRIC.responseCount] ?? 0;
  const rate = duration > 0 ? responses / duration : 0;
  lines.push(`  requests ${formatCount(responses)} (${formatSignificant(rate, 1)}/s)`);
  for (const name of [METRIC.sendCount, METRIC.receiveCount]) {
    if ((counters[name] ?? 0) > 0) lines.push(`  ${name.replace(/_count$/, '')} ${formatCount(counters[name]!)}`);
  }

  const latencies = Object.entries(summary.histograms ?? {}).filter(([name]) => name.endsWith('_us'));
  if (latencies.length > 0) {
    const rows = [['latency (ms)', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max']];
    for (const [name, h] of latencies) {
      rows.push([name, formatCount(h.count), ...[h.p50, h.p90, h.p99, h.p999, h.max].map(microsToMillis)]);
    }
    lines.push(...pad(rows).map((line) => `  ${line}`));
  }

  const errors = Object.entries(summary.errors).filter(([name]) => isErrorMetric(name));
  if (errors.length === 0) lines.push('  errors none');
  else lines.push(`  errors ${formatCount(summary.errorTotal)}: ${errors.map(([name, n]) => `${name} ${formatCount(n)}`).join(', ')}`);

  const thresholds = summary.thresholds ?? [];
  if (thresholds.length > 0) {
    const failed = thresholds.filter((t) => t.ok !== true).length;
    lines.push(`  thresholds: ${failed === 0 ? `all ${thresholds.length} passed` : `${failed} of ${thresholds.length} FAILED`}`);
    const rows = thresholds.map((t) => [
      `${t.ok === true ? 'pass' : 'FAIL'}  ${thresholdLabel(t)}`,
      `measured ${formatThresholdValue(t)}${t.aborted ? `  (stopped the run at ${t.abortedAt ?? 0} s)` : ''}`,
    ]);
    lines.push(...pad(rows, 2).map((line) => `    ${line}`));
  }
  return lines;
}
