/**
 * Reads a run's `<runId>.tar.gz` the way a user would, from disk or downloaded:
 * unpacked, results.csv parsed into numeric rows, histograms.hlog into decoded
 * histograms.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { Histogram } from '../../ts/hdr/index.js';
import type { RunSummary } from '../../ts/coordinator/run-summary.js';
import type { ResolvedPlan } from '../../ts/shared/plan.js';
import { csvRows } from '../support/results-csv.js';

/** A CSV row: `time` as text, every other column as a number, empty cells absent. */
export interface ResultRow {
  time: string;
  elapsed: number;
  [column: string]: number | string;
}

export interface HlogEntry {
  tag: string;
  start: number;
  length: number;
  max: number;
  histogram: Histogram;
}

export interface RunArchive {
  files: string[];
  columns: string[];
  rows: ResultRow[];
  hlog: HlogEntry[];
  summary: RunSummary;
  plan: ResolvedPlan;
}

/** The numeric value of `column` in `row`; undefined when the cell is empty. */
export const cell = (row: ResultRow, column: string): number | undefined => {
  const value = row[column];
  return typeof value === 'number' ? value : undefined;
};

/** results.csv with its numbers as numbers (`time` stays the ISO text); an empty cell is left out. */
export function parseResultsCsv(text: string): { columns: string[]; rows: ResultRow[] } {
  const { columns, rows } = csvRows(text);
  return {
    columns,
    rows: rows.map((cells) => {
      const row: Record<string, number | string> = {};
      for (const column of columns) {
        const value = cells[column]!;
        if (column === 'time') row[column] = value;
        else if (value !== '') row[column] = Number(value);
      }
      return row as ResultRow;
    }),
  };
}

export function parseHlog(text: string): HlogEntry[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('Tag='))
    .map((line) => {
      const [tag, start, length, max, encoded] = line.split(',');
      return {
        tag: tag!.slice('Tag='.length),
        start: Number(start),
        length: Number(length),
        max: Number(max),
        histogram: Histogram.decode(Buffer.from(encoded!, 'base64')),
      };
    });
}

export async function readArchive(path: string): Promise<RunArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-archive-'));
  try {
    await extract({ file: path, cwd: dir });
    const read = (name: string) => readFile(join(dir, name), 'utf8');
    const { columns, rows } = parseResultsCsv(await read('results.csv'));
    return {
      files: (await readdir(dir)).sort(),
      columns,
      rows,
      hlog: parseHlog(await read('histograms.hlog')),
      summary: JSON.parse(await read('summary.json')) as RunSummary,
      plan: JSON.parse(await read('plan.json')) as ResolvedPlan,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Downloads an archive over HTTP (`/results/<runId>.tar.gz`) and reads it; a
 * status other than 200 or a body that is no gzip'd tar fails with what came.
 */
export async function downloadArchive(url: string): Promise<RunArchive> {
  const response = await fetch(url);
  if (response.status !== 200 || response.headers.get('content-type') !== 'application/gzip') {
    throw new Error(`GET ${url}: ${response.status} ${response.headers.get('content-type')}: ${(await response.text()).slice(0, 200)}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sg-download-'));
  try {
    const path = join(dir, 'archive.tar.gz');
    await writeFile(path, Buffer.from(await response.arrayBuffer()));
    return await readArchive(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The last row's value of an accumulating `<key>_count` column (0 when the counter never appeared). */
export const total = (archive: RunArchive, column: string): number => cell(archive.rows.at(-1)!, column) ?? 0;
