/**
 * What the open-model tests share: the whole run's histogram of a metric (every
 * interval of the .hlog merged) and the archive of an sgcli run, local or
 * downloaded from a coordinator.
 */
import { Histogram } from '../../ts/hdr/index.js';
import { HISTOGRAM_BOUNDS } from '../../ts/shared/metrics.js';
import { downloadArchive, readArchive, type RunArchive } from '../e2e/run-archive.js';
import type { Finished } from '../e2e/sgcli-child.js';

/** One iteration, one request. */
export const ONE_GET = "await get('/');";

/** Every interval's histograms of `name` in the .hlog, merged: the whole run's. */
export function runHistogram(archive: RunArchive, name: string): Histogram {
  const merged = new Histogram(HISTOGRAM_BOUNDS);
  for (const entry of archive.hlog) if (entry.tag === name) merged.add(entry.histogram);
  return merged;
}

export async function archiveOf(run: Finished): Promise<RunArchive> {
  const where = run.archive ?? '';
  return /^https?:/.test(where) ? downloadArchive(where) : readArchive(where);
}
