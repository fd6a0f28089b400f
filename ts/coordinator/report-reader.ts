/**
 * Reads a finished run back out of its archive: summary.json for the reports
 * list, and results.csv as series for the website's report page. Archives never
 * change once written, so what was read is kept, keyed by the file's size and
 * modification time (a report deleted and written again under the same id is
 * read afresh).
 */
import { stat } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { list as tarList } from 'tar';
import type { ResolvedPlan } from '../shared/plan.js';
import { RESULTS_CSV } from './csv-writer.js';
import { ELAPSED_COLUMN, TIME_COLUMN } from './report-row.js';
import { PLAN_JSON, SUMMARY_JSON, type RunSummary } from './run-summary.js';

/** A run's results.csv as columns: one value per report interval, null where a row had no value. */
export interface ReportSeries {
  /** Seconds since the run started, at the end of each interval. */
  elapsed: number[];
  /** ISO 8601 end of each interval. */
  time: string[];
  /** Metric column → values, in the CSV's column order. */
  columns: Record<string, Array<number | null>>;
}

/** GET /api/reports/<runId>: what the report page draws. */
export interface ReportContents {
  runId: string;
  summary: RunSummary | null;
  plan: ResolvedPlan | null;
  series: ReportSeries;
}

/** Summaries kept at most; one per report is a few hundred bytes. */
const MAX_CACHED_SUMMARIES = 10_000;

export class ReportReader {
  private readonly summaries = new Map<string, { stamp: string; summary: RunSummary | null }>();

  /** The archive's summary.json, or null when it has none (or is unreadable). */
  async summary(path: string): Promise<RunSummary | null> {
    const info = await stat(path).catch(() => null);
    if (!info) return null;
    const stamp = `${info.size}:${info.mtimeMs}`;
    const cached = this.summaries.get(path);
    if (cached?.stamp === stamp) return cached.summary;
    const files = await readArchiveFiles(path, [SUMMARY_JSON]).catch(() => new Map<string, Buffer>());
    const summary = parseJson<RunSummary>(files.get(SUMMARY_JSON));
    if (this.summaries.size >= MAX_CACHED_SUMMARIES) this.summaries.delete(this.summaries.keys().next().value!);
    this.summaries.set(path, { stamp, summary });
    return summary;
  }

  /** Summary, plan and series of one archive. Rejects when the file is not a readable archive. */
  async contents(runId: string, path: string): Promise<ReportContents> {
    const files = await readArchiveFiles(path, [SUMMARY_JSON, PLAN_JSON, RESULTS_CSV]);
    // tar reads a file that is no archive as an empty one.
    if (files.size === 0) throw new Error(`the archive of run ${runId} holds none of ${SUMMARY_JSON}, ${PLAN_JSON}, ${RESULTS_CSV}: it is damaged`);
    const csv = files.get(RESULTS_CSV);
    return {
      runId,
      summary: parseJson<RunSummary>(files.get(SUMMARY_JSON)),
      plan: parseJson<ResolvedPlan>(files.get(PLAN_JSON)),
      series: csv ? seriesOfCsv(csv.toString('utf8')) : { elapsed: [], time: [], columns: {} },
    };
  }
}

/** results.csv turned into columns; a cell that is empty or not a number is null. */
export function seriesOfCsv(text: string): ReportSeries {
  const records = parse(text, { columns: false, skip_empty_lines: true, relax_column_count: true });
  const [header, ...rows] = records;
  const series: ReportSeries = { elapsed: [], time: [], columns: {} };
  if (!header) return series;
  const elapsedAt = header.indexOf(ELAPSED_COLUMN);
  const timeAt = header.indexOf(TIME_COLUMN);
  const metrics = header.map((name, i) => [name, i] as const).filter(([, i]) => i !== elapsedAt && i !== timeAt);
  for (const [name] of metrics) series.columns[name] = [];
  for (const row of rows) {
    series.elapsed.push(Number(row[elapsedAt] ?? NaN));
    series.time.push(row[timeAt] ?? '');
    for (const [name, i] of metrics) {
      const cell = row[i] ?? '';
      const value = cell === '' ? NaN : Number(cell);
      series.columns[name]!.push(Number.isFinite(value) ? value : null);
    }
  }
  return series;
}

/** The named top-level files of a .tar.gz, read into memory; names it lacks are absent from the map. */
export async function readArchiveFiles(path: string, names: readonly string[]): Promise<Map<string, Buffer>> {
  const wanted = new Set(names);
  const found = new Map<string, Buffer>();
  await tarList({
    file: path,
    onReadEntry: (entry) => {
      const name = entry.path.replace(/^\.\//, '');
      if (!wanted.has(name) || entry.type !== 'File') return;
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => found.set(name, Buffer.concat(chunks)));
    },
  });
  return found;
}

function parseJson<T>(bytes: Buffer | undefined): T | null {
  if (!bytes) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    return null;
  }
}
