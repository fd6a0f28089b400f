/**
 * Packs a finished run's folder into `<runId>.tar.gz`. The archive appears under
 * its final name only once it is complete and on disk (temp name, fsync, rename,
 * fsync of the folder), so a URL announced for it never serves half a file,
 * even after a crash.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative } from 'node:path';
import { create } from 'tar';

/** Suffix of an archive being written; never listed or served. */
export const PARTIAL_SUFFIX = '.partial';

/**
 * Writes `target` (a .tar.gz) holding `files`, each stored under its path
 * relative to `dir` (they must lie inside it). Replaces an existing target.
 */
export async function writeArchive(target: string, dir: string, files: readonly string[]): Promise<void> {
  const entries = files.map((file) => {
    const entry = isAbsolute(file) ? relative(dir, file) : file;
    if (entry === '' || entry.startsWith('..') || isAbsolute(entry)) throw new Error(`${file} is not inside ${dir}`);
    return entry;
  });
  const partial = `${target}${PARTIAL_SUFFIX}`;
  try {
    await create({ gzip: true, file: partial, cwd: dir, portable: true }, [...new Set(entries)]);
    await syncFile(partial);
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  await syncDirectory(dirname(target));
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename durable; some file systems refuse fsync on a directory, which then is all they can do. */
async function syncDirectory(path: string): Promise<void> {
  try {
    await syncFile(path);
  } catch (error) {
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  }
}

/** The archive's file name for a run. */
export const archiveName = (runId: string): string => `${runId}.tar.gz`;

/** The run id an archive file name stands for, or null when it is no archive name. */
export function runIdOfArchive(fileName: string): string | null {
  const name = basename(fileName);
  return name.endsWith('.tar.gz') ? name.slice(0, -'.tar.gz'.length) : null;
}
