/**
 * Reads a run's report archive the way a user would: unpacks the tar.gz and
 * parses results.csv into rows keyed by column.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x as extract } from 'tar';

export type CsvRow = Record<string, string>;

export async function readResultsCsv(archivePath: string): Promise<CsvRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-report-'));
  try {
    await extract({ file: archivePath, cwd: dir });
    const [header, ...lines] = (await readFile(join(dir, 'results.csv'), 'utf8')).trimEnd().split('\n').map((line) => line.split(','));
    return lines.map((cells) => Object.fromEntries(header!.map((column, i) => [column, cells[i] ?? ''])));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
