/**
 * results.csv read as CSV (csv-parse), never split on commas: a quoted cell
 * with a comma in it stays one cell, and a row with a cell too many or too few
 * is an error rather than a shifted column.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';

/** Every record of a CSV text, the header first, as the strings it holds. */
export function csvRecords(text: string): string[][] {
  return parse(text, { relax_column_count: false });
}

export type CsvRow = Record<string, string>;

/** A CSV text's rows keyed by the header's columns. */
export function csvRows(text: string): { columns: string[]; rows: CsvRow[] } {
  const [columns = [], ...records] = csvRecords(text);
  return { columns, rows: records.map((cells) => Object.fromEntries(columns.map((column, i) => [column, cells[i]!]))) };
}

export async function readCsvFile(path: string): Promise<{ columns: string[]; rows: CsvRow[] }> {
  return csvRows(await readFile(path, 'utf8'));
}
