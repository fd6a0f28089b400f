/**
 * Reads a run's report archive the way a user would: unpacks the tar.gz and
 * parses results.csv into rows keyed by column.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x as extract } from 'tar';
import { readCsvFile, type CsvRow } from './results-csv.js';

export type { CsvRow } from './results-csv.js';

export async function readResultsCsv(archivePath: string): Promise<CsvRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-report-'));
  try {
    await extract({ file: archivePath, cwd: dir });
    return (await readCsvFile(join(dir, 'results.csv'))).rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
