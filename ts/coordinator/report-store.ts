/**
 * The data directory: one folder per running run, one `<runId>.tar.gz` per
 * finished one. Reports are read from disk every time, so they survive a
 * restart and the folder is the only truth.
 */
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ResolvedPlan } from '../shared/plan.js';
import { archiveName, runIdOfArchive, writeArchive } from './archive.js';
import { isValidRunId, runIdTime } from './run-id.js';
import { PLAN_JSON, SUMMARY_JSON, type RunSummary } from './run-summary.js';
import { SETTINGS } from '../shared/settings.js';

export const DEFAULT_DATA_DIR = SETTINGS.dataDir.fallback;

/** Stable codes of the store's errors, for the HTTP layer to map (400, 409, ...). */
export const REPORT_ERROR = Object.freeze({
  /** A run id that is malformed (and might reach outside the data directory). */
  invalidRunId: 'ERR_INVALID_RUN_ID',
  /** A run folder that already exists. */
  runExists: 'ERR_RUN_EXISTS',
});

export class ReportError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ReportError';
    this.code = code;
  }
}

export interface ReportInfo {
  runId: string;
  /** Absolute path of the archive. */
  path: string;
  /** The archive's file name, as served under /results/. */
  fileName: string;
  bytes: number;
  /** When the run started (from its id), ISO 8601. */
  startedAt: string;
}

export interface FinishRun {
  /** Files the writers produced (FileWriter.files()), all inside the run's folder. */
  files: readonly string[];
  summary: RunSummary;
}

export class ReportStore {
  /** Absolute path of the data directory. */
  readonly dataDir: string;

  constructor(dataDir: string = DEFAULT_DATA_DIR) {
    this.dataDir = resolve(dataDir);
  }

  /** The folder a run writes into while it runs. */
  runDir(runId: string): string {
    return join(this.dataDir, checked(runId));
  }

  /** Creates the run's folder with plan.json in it; returns the folder. */
  async startRun(runId: string, plan: ResolvedPlan): Promise<string> {
    const dir = this.runDir(runId);
    await mkdir(this.dataDir, { recursive: true });
    try {
      await mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ReportError(REPORT_ERROR.runExists, `run ${runId} already has a folder`);
      throw error;
    }
    await writeFile(join(dir, PLAN_JSON), `${JSON.stringify(plan, null, 2)}\n`);
    return dir;
  }

  /**
   * Writes summary.json, packs plan.json, summary.json and `files` into
   * `<runId>.tar.gz`, then removes the run's folder. Resolves with the archive's
   * path once it is complete on disk.
   */
  async finishRun(runId: string, { files, summary }: FinishRun): Promise<string> {
    const dir = this.runDir(runId);
    await writeFile(join(dir, SUMMARY_JSON), `${JSON.stringify(summary, null, 2)}\n`);
    const target = join(this.dataDir, archiveName(runId));
    await writeArchive(target, dir, [PLAN_JSON, ...files, SUMMARY_JSON]);
    await rm(dir, { recursive: true, force: true });
    return target;
  }

  /** Run ids that have a folder: running now, or left behind by a coordinator that died. */
  async runFolders(): Promise<string[]> {
    const entries = await readdir(this.dataDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    return entries
      .filter((e) => e.isDirectory() && isValidRunId(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Removes a run's folder without archiving it (a run that never got going). */
  async discardRun(runId: string): Promise<void> {
    await rm(this.runDir(runId), { recursive: true, force: true });
  }

  /** Every finished report on disk, newest first. */
  async list(): Promise<ReportInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.dataDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const reports: ReportInfo[] = [];
    for (const fileName of names) {
      const runId = runIdOfArchive(fileName);
      if (runId === null || !isValidRunId(runId)) continue;
      const path = join(this.dataDir, fileName);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) continue;
      reports.push({ runId, path, fileName, bytes: info.size, startedAt: runIdTime(runId)!.toISOString() });
    }
    return reports.sort((a, b) => (a.startedAt !== b.startedAt ? (a.startedAt < b.startedAt ? 1 : -1) : a.runId < b.runId ? 1 : -1));
  }

  /** The archive's path, or null when there is no finished report of that run. Throws ReportError on a malformed id. */
  async path(runId: string): Promise<string | null> {
    const path = join(this.dataDir, archiveName(checked(runId)));
    const info = await stat(path).catch(() => null);
    return info?.isFile() ? path : null;
  }

  /** Deletes a report's archive; false when there was none. Throws ReportError on a malformed id. */
  async delete(runId: string): Promise<boolean> {
    const path = await this.path(runId);
    if (path === null) return false;
    try {
      await rm(path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }
}

function checked(runId: string): string {
  if (!isValidRunId(runId)) {
    throw new ReportError(REPORT_ERROR.invalidRunId, `${JSON.stringify(String(runId).slice(0, 80))} is not a run id (like checkout-20260101T120000Z-1a2b)`);
  }
  return runId;
}
