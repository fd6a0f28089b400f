/**
 * The one contract between a run and where its results go (k6's Output): a
 * writer is opened once per run, gets every report interval, and is closed at
 * the end. CSV, the histogram log and CloudWatch implement it; the runner knows
 * nothing else of them. A writer that streams (Prometheus remote write) opts in
 * to every second's values as well (StreamingWriter).
 */
import type { Histogram } from '../hdr/index.js';
import type { LiveSnapshot, WriterStatus } from '../shared/live.js';
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

/** One second of a run, as the live view shows it. */
export interface SecondSample {
  /** Wall-clock ms the second was taken at. */
  time: number;
  snapshot: LiveSnapshot;
  /**
   * The run's latency histograms merged from its start to this second (`headers_us`).
   * Read them during the call: they go on growing after it returns.
   */
  runHistograms: ReadonlyMap<string, Histogram>;
  /** Network bytes each generator reported since the run started, by generator id. */
  generatorBytes: ReadonlyMap<string, { rx: number; tx: number }>;
}

/** A writer that also gets every second's values, not only the report intervals (opt-in capability, k6 style). */
export interface StreamingWriter extends Writer {
  /**
   * Every second between open() and close(), in order. Synchronous and cheap: it
   * may only convert and queue, never wait on the network, so it cannot slow the run.
   */
  writeSecond(sample: SecondSample): void;
}

export function streamsSeconds(writer: Writer): writer is StreamingWriter {
  return typeof (writer as Partial<StreamingWriter>).writeSecond === 'function';
}

/** Every writer of a run as one, with the statuses of those that report one. */
export interface WriterSet extends FileWriter, StreamingWriter {
  statuses(): WriterStatus[];
}

/** A writer that throws instead of returning a rejected promise has failed all the same. */
function attempt(call: () => Promise<void>): Promise<void> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Fans one run out to several writers. A failing writer (CloudWatch unreachable)
 * must not cost the others their data: each call reaches every writer, failures
 * go to `onError` and do not reject.
 */
export function fanOut(writers: readonly Writer[], onError: (writer: Writer, error: unknown) => void): WriterSet {
  const each = async (call: (w: Writer) => Promise<void>) => {
    const results = await Promise.allSettled(writers.map((w) => attempt(() => call(w))));
    results.forEach((r, i) => r.status === 'rejected' && onError(writers[i]!, r.reason));
  };
  return {
    open: (run) => each((w) => w.open(run)),
    write: (row, histograms) => each((w) => w.write(row, histograms)),
    writeSecond: (sample) => {
      for (const w of writers) {
        if (!streamsSeconds(w)) continue;
        try {
          w.writeSecond(sample);
        } catch (error) {
          onError(w, error);
        }
      }
    },
    close: () => each((w) => w.close()),
    files: () => writers.flatMap((w) => (writesFiles(w) ? w.files() : [])),
    statuses: () => writers.flatMap((w) => (w.status ? [w.status()] : [])),
  };
}

/** One kind of writer, as the environment turns it on or leaves it off (configured-writers.ts asks each). */
export interface WriterKind {
  configure(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<WriterChoice>;
}

export type WriterChoice =
  /** `create` makes a fresh writer for each run; null when the kind is off. `described` says which, and why. */
  | { ok: true; create: (() => Writer) | null; described: string }
  /** A setting it cannot use, for the user to fix. */
  | { ok: false; problem: string };
