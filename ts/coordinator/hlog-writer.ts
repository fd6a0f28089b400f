/**
 * histograms.hlog: every interval's merged histograms, whole, in the HdrHistogram
 * log format (version 1.3), so HdrHistogram's own tools (HistogramLogProcessor,
 * HistogramLogReader in Java, JS, Rust, ...) can rebuild any percentile over any
 * time range, which the CSV's fixed percentiles cannot.
 *
 * Each line is one histogram of one interval, tagged with its metric name;
 * timestamps are seconds since the run started (BaseTime).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Histogram } from '../hdr/index.js';
import type { ReportRow } from './report-row.js';
import type { FileWriter, RunInfo } from './writer.js';

export const HISTOGRAM_LOG = 'histograms.hlog';

export const HLOG_LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"';

export class HlogWriter implements FileWriter {
  #path: string | null = null;
  #file: FileHandle | null = null;

  async open(run: RunInfo): Promise<void> {
    this.#path = join(run.dir, HISTOGRAM_LOG);
    this.#file = await open(this.#path, 'w');
    await this.#file.appendFile(hlogHeader(run.startedAt, run.runId));
  }

  async write(row: ReportRow, histograms: ReadonlyMap<string, Histogram>): Promise<void> {
    if (!this.#file) throw new Error('HlogWriter.write before open or after close');
    const start = row.elapsed - row.intervalSeconds;
    let lines = '';
    for (const name of [...histograms.keys()].sort()) {
      lines += hlogLine(name, start, row.intervalSeconds, histograms.get(name)!);
    }
    if (lines) await this.#file.appendFile(lines);
  }

  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = null;
  }

  files(): string[] {
    return this.#path ? [this.#path] : [];
  }
}

const seconds = (s: number) => s.toFixed(3);

/** The comment lines and legend that start a log; StartTime and BaseTime are the run's start. */
export function hlogHeader(startedAtMs: number, runId: string): string {
  const start = seconds(startedAtMs / 1000);
  return [
    `#[Stressgrid run ${runId}; Interval_Max in recorded units: microseconds for *_us, percent for cpu_percent]`,
    '#[Histogram log format version 1.3]',
    `#[StartTime: ${start} (seconds since epoch), ${new Date(startedAtMs).toISOString()}]`,
    `#[BaseTime: ${start} (seconds since epoch)]`,
    HLOG_LEGEND,
    '',
  ].join('\n');
}

/** One interval line; the tag may hold neither separators nor white space, so those become `_`. */
export function hlogLine(tag: string, startSeconds: number, lengthSeconds: number, histogram: Histogram): string {
  const safeTag = tag.replace(/[,\s]/g, '_');
  const encoded = Buffer.from(histogram.encode()).toString('base64');
  return `Tag=${safeTag},${seconds(startSeconds)},${seconds(lengthSeconds)},${seconds(histogram.max)},${encoded}\n`;
}
