/**
 * Start-up recovery: a run whose coordinator died leaves its folder behind
 * (plan, results journal, histogram log). Turning each into an archive marked
 * aborted means a crash costs at most the interval in progress, never the run.
 */
import { readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedPlan } from '../shared/plan.js';
import { RESULTS_CSV, RESULTS_JOURNAL, readJournal, writeResultsCsv } from './csv-writer.js';
import { HISTOGRAM_LOG } from './hlog-writer.js';
import type { ReportStore } from './report-store.js';
import { runIdTime } from './run-id.js';
import { PLAN_JSON, recoveredSummary } from './run-summary.js';

export interface RecoveredRun {
  runId: string;
  /** The archive written, or null when the folder held no plan and was removed. */
  archive: string | null;
}

/**
 * Archives every run folder in the store. Call once at start-up, before any run
 * starts, since a running run's folder looks the same.
 */
export async function recoverInterruptedRuns(store: ReportStore): Promise<RecoveredRun[]> {
  const recovered: RecoveredRun[] = [];
  for (const runId of await store.runFolders()) {
    const dir = store.runDir(runId);
    if ((await store.path(runId)) !== null) {
      // Died between writing the archive and removing the folder: the archive is whole.
      await store.discardRun(runId);
      recovered.push({ runId, archive: await store.path(runId) });
      continue;
    }
    const plan = await readPlan(join(dir, PLAN_JSON));
    if (plan === null) {
      await store.discardRun(runId);
      recovered.push({ runId, archive: null });
      continue;
    }
    const rows = (await exists(join(dir, RESULTS_JOURNAL))) ? await readJournal(join(dir, RESULTS_JOURNAL)) : [];
    await writeResultsCsv(join(dir, RESULTS_CSV), rows);
    const files = [RESULTS_CSV];
    if (await cutTornLine(join(dir, HISTOGRAM_LOG))) files.push(HISTOGRAM_LOG);
    const summary = recoveredSummary(runId, plan, rows, runIdTime(runId)!.getTime());
    recovered.push({ runId, archive: await store.finishRun(runId, { files, summary }) });
  }
  return recovered;
}

async function readPlan(path: string): Promise<ResolvedPlan | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ResolvedPlan;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/** Cuts a line the process died in the middle of; false when there is no file. */
async function cutTornLine(path: string): Promise<boolean> {
  if (!(await exists(path))) return false;
  const text = await readFile(path);
  const end = text.lastIndexOf(0x0a) + 1;
  if (end < text.length) await truncate(path, end);
  return true;
}
