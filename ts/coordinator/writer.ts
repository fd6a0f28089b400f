/**
 * The one contract between a run and where its results go (k6's Output): a
 * writer is opened once per run, gets every report interval, and is closed at
 * the end. CSV, the histogram log and CloudWatch implement it; the runner knows
 * nothing else of them.
 */
import type { Histogram } from '../hdr/index.js';
import type { WriterStatus } from '../shared/live.js';
import type { ResolvedPlan } from '../shared/plan.js';
import type { ReportRow } from './report-row.js';

export interface RunInfo {
  runId: string;
  plan: ResolvedPlan;
  /** Wall-clock ms the run started at. */
  startedAt: number;
  /** The run's own folder (ReportStore.startRun): where file writers put their files. */
  dir: string;
}

export interface Writer {
  open(run: RunInfo): Promise<void>;
  /** One report interval; called in order, never concurrently, never after close. */
  write(row: ReportRow, histograms: ReadonlyMap<string, Histogram>): Promise<void>;
  /** Flushes and releases everything; files are complete when it resolves. */
  close(): Promise<void>;
  /** How sending is going, for a writer that sends over the network (shown live, in the summary and the log). */
  status?(): WriterStatus;
}

/** A writer whose files go into the run's archive (opt-in capability). */
export interface FileWriter extends Writer {
  /** Absolute paths of the files it wrote; complete once close() resolved. */
  files(): string[];
}

export function writesFiles(writer: Writer): writer is FileWriter {
  return typeof (writer as Partial<FileWriter>).files === 'function';
}

/** Every writer of a run as one, with the statuses of those that report one. */
export interface WriterSet extends FileWriter {
  statuses(): WriterStatus[];
}

/**
 * Fans one run out to several writers. A failing writer (CloudWatch unreachable)
 * must not cost the others their data: each call reaches every writer, failures
 * go to `onError` and do not reject.
 */
export function fanOut(writers: readonly Writer[], onError: (writer: Writer, error: unknown) => void): WriterSet {
  const each = async (call: (w: Writer) => Promise<void>) => {
    const results = await Promise.allSettled(writers.map(call));
    results.forEach((r, i) => r.status === 'rejected' && onError(writers[i]!, r.reason));
  };
  return {
    open: (run) => each((w) => w.open(run)),
    write: (row, histograms) => each((w) => w.write(row, histograms)),
    close: () => each((w) => w.close()),
    files: () => writers.flatMap((w) => (writesFiles(w) ? w.files() : [])),
    statuses: () => writers.flatMap((w) => (w.status ? [w.status()] : [])),
  };
}
