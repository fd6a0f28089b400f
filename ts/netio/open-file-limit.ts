/**
 * The process's open-file limit, read and raised through the netio addon (Node
 * has no setrlimit). Every device holds at least one descriptor, so a generator
 * left at a shell's soft limit (often 1024) fails every connection past it; the
 * generator and sgcli raise the soft limit to the hard one at start and say what
 * they got.
 */
import { constants } from 'node:os';
import { loadNetio, type NetioAddon } from './native.js';

export interface OpenFileLimit {
  /** Descriptors the process may hold now (Infinity: unlimited). */
  soft: number;
  /** The most the soft limit may be raised to without privilege (Infinity: unlimited). */
  hard: number;
  /** The soft limit before the raise. */
  previous: number;
}

export type OpenFileLimitResult = { ok: true; limit: OpenFileLimit } | { ok: false; reason: string };

/** Raises the soft limit to the hard limit. */
export function raiseOpenFileLimit(): OpenFileLimitResult {
  return call((addon) => addon.raiseOpenFileLimit());
}

/** The limit as it stands, unchanged. */
export function openFileLimit(): OpenFileLimitResult {
  return call((addon) => addon.openFileLimit());
}

/** One line for a program's start-up log: the limit it runs with and where it came from. */
export function openFileLimitLine(result: OpenFileLimitResult): string {
  if (!result.ok) return `open files: the limit is unknown (${result.reason}); raise it with \`ulimit -n\` before starting if devices fail with too_many_open_files`;
  const { soft, hard, previous } = result.limit;
  if (soft > previous) return `open files: up to ${shown(soft)} (raised from ${shown(previous)} to the hard limit)`;
  if (soft >= hard) return `open files: up to ${shown(soft)} (the hard limit)`;
  return `open files: up to ${shown(soft)} (could not raise it to the hard limit ${shown(hard)})`;
}

function shown(n: number): string {
  return n === Infinity ? 'unlimited' : String(n);
}

function call(read: (addon: NetioAddon) => [number, number, number] | number): OpenFileLimitResult {
  const loaded = loadNetio();
  if ('error' in loaded) return { ok: false, reason: `the netio addon is not loaded: ${loaded.error}` };
  if (typeof loaded.addon.raiseOpenFileLimit !== 'function') return { ok: false, reason: 'the netio addon is older than this package: rebuild it (npm run build:native)' };
  const answer = read(loaded.addon);
  if (typeof answer === 'number') {
    const name = Object.entries(constants.errno).find(([, n]) => n === -answer)?.[0] ?? `errno ${-answer}`;
    return { ok: false, reason: `getrlimit/setrlimit failed: ${name}` };
  }
  const [soft, hard, previous] = answer.map((n) => (n < 0 ? Infinity : n)) as [number, number, number];
  return { ok: true, limit: { soft, hard, previous } };
}
