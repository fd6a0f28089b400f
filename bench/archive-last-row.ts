/**
 * The last row of a run archive's results.csv, as numbers by column: a benchmark
 * reads its request totals from the same report a user gets, not from the live view.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x } from 'tar';
import { RESULTS_CSV } from '../ts/coordinator/csv-writer.js';

export async function archiveLastRow(archivePath: string): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-archive-'));
  try {
    await x({ file: archivePath, cwd: dir }, [RESULTS_CSV]);
    const lines = (await readFile(join(dir, RESULTS_CSV), 'utf8')).trimEnd().split('\n');
    if (lines.length < 2) throw new Error(`${archivePath}: ${RESULTS_CSV} has no data row`);
    // Every column the report writes is a plain number or an ISO time: none is quoted.
    const header = lines[0]!.split(',');
    const values = lines.at(-1)!.split(',');
    return Object.fromEntries(header.map((name, i) => [name, Number(values[i])]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
