/**
 * results.csv: one row per report interval, one column per metric seen at any
 * time in the run. Metrics can appear mid-run (a script's first error), so the
 * CSV is written at close; every row is also appended to a JSON-lines journal
 * as it arrives, so a coordinator that dies mid-run loses nothing.
 */
import { open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { ELAPSED_COLUMN, TIME_COLUMN, compareColumns, type ReportRow } from './report-row.js';
import type { FileWriter, RunInfo } from './writer.js';

export const RESULTS_CSV = 'results.csv';
export const RESULTS_JOURNAL = 'results.jsonl';

export class CsvWriter implements FileWriter {
  #dir: string | null = null;
  #journal: FileHandle | null = null;
  readonly #rows: ReportRow[] = [];
  #closed = false;

  async open(run: RunInfo): Promise<void> {
    this.#dir = run.dir;
    this.#journal = await open(join(run.dir, RESULTS_JOURNAL), 'a');
  }

  async write(row: ReportRow): Promise<void> {
    if (!this.#journal) throw new Error('CsvWriter.write before open or after close');
    this.#rows.push(row);
    await this.#journal.appendFile(`${JSON.stringify(row)}\n`);
    await this.#journal.datasync();
  }

  async close(): Promise<void> {
    if (this.#closed || !this.#dir) return;
    this.#closed = true;
    await this.#journal?.close();
    this.#journal = null;
    await writeResultsCsv(join(this.#dir, RESULTS_CSV), this.#rows);
  }

  files(): string[] {
    return this.#dir ? [join(this.#dir, RESULTS_CSV)] : [];
  }
}

/** The CSV text of rows: `elapsed,time,<metrics in compareColumns order>`; a metric a row lacks is an empty cell. */
export function resultsCsv(rows: readonly ReportRow[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort(compareColumns);
  const records = rows.map((r) => [r.elapsed, r.time, ...columns.map((c) => r.metrics[c] ?? '')]);
  return stringify(records, { header: true, columns: [ELAPSED_COLUMN, TIME_COLUMN, ...columns] });
}

/** Writes the CSV under a temporary name first, so a reader never sees half of it. */
export async function writeResultsCsv(path: string, rows: readonly ReportRow[]): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, resultsCsv(rows));
  await rename(partial, path);
}

/** Rows of a journal; a torn last line (the process died mid-write) is dropped. */
export async function readJournal(path: string): Promise<ReportRow[]> {
  const text = await readFile(path, 'utf8');
  const rows: ReportRow[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as ReportRow);
    } catch {
      break;
    }
  }
  return rows;
}
