/**
 * The writers a coordinator adds to every run beyond the archive's own (CSV and
 * histogram log), as its environment configures them. Each kind of writer reads
 * its own settings (WriterKind); a new kind is one more entry in the list and
 * its own file, and the run knows only the Writer interface.
 */
import { cloudWatchWriterKind } from './cloudwatch-writer-kind.js';
import { prometheusWriterKind, type PrometheusFlags } from './prometheus-writer-kind.js';
import type { Writer, WriterKind } from './writer.js';

export interface ConfiguredWriters {
  /** Called once per run: fresh writers for it. */
  create: () => Writer[];
  /** One line per writer kind, on or off and why, for the start-up log. */
  described: string[];
}

/** The kinds a coordinator program knows, with the flags some of them take. */
export function writerKinds(flags: PrometheusFlags = {}): WriterKind[] {
  return [cloudWatchWriterKind(), prometheusWriterKind(flags)];
}

/** The kinds as the environment alone configures them. */
export const WRITER_KINDS: readonly WriterKind[] = writerKinds();

/** Asks every kind; every problem of every kind is reported at once. */
export async function configuredWriters(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  kinds: readonly WriterKind[] = WRITER_KINDS,
): Promise<{ ok: true; writers: ConfiguredWriters } | { ok: false; problems: string[] }> {
  const choices = await Promise.all(kinds.map((kind) => kind.configure(env, log)));
  const problems = choices.flatMap((c) => (c.ok ? [] : [c.problem]));
  if (problems.length > 0) return { ok: false, problems };
  const on = choices.flatMap((c) => (c.ok && c.create ? [c.create] : []));
  return {
    ok: true,
    writers: {
      create: () => on.map((create) => create()),
      described: choices.flatMap((c) => (c.ok ? [c.described] : [])),
    },
  };
}
