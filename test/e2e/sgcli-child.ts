/**
 * The compiled sgcli as a user runs it: a child process with its own data
 * directory and two generator workers, its streams collected, its plain live
 * lines (stderr is not a TTY) parsed into fields.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SGCLI = join(ROOT, 'dist/ts/cli/sgcli.js');

/** A killed-by-watchdog child must not outlive a failing test. */
const WATCHDOG_MS = 60_000;

/** One `t=1 run=... active=10 response_count=5 ...` line of the plain live view. */
export type LiveLine = Record<string, string>;

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout: where sgcli says the archive is. */
  archive: string | undefined;
  live: LiveLine[];
  /** Milliseconds from spawn to exit. */
  wallMs: number;
}

export interface Running {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the first match of `pattern` on stderr. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  finished: Promise<Finished>;
}

export function parseLiveLines(stderr: string): LiveLine[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('t='))
    .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2) as [string, string])));
}

/** `launcher`: a command sgcli runs under, like `['prlimit', '--nofile=256:256', '--']`. */
export function startSgcli(args: readonly string[], env: Record<string, string> = {}, launcher: readonly string[] = []): Running {
  const startedAt = performance.now();
  const [command, ...prefix] = [...launcher, process.execPath];
  const child = spawn(command, [...prefix, SGCLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, STRESSGRID_WORKERS: '2', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const text = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text.stderr += chunk));
  const watchdog = setTimeout(() => child.kill('SIGKILL'), WATCHDOG_MS);
  const finished = new Promise<Finished>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(watchdog);
      const lines = text.stdout.trimEnd().split('\n');
      resolve({
        code,
        stdout: text.stdout,
        stderr: text.stderr,
        archive: text.stdout === '' ? undefined : lines.at(-1),
        live: parseLiveLines(text.stderr),
        wallMs: performance.now() - startedAt,
      });
    });
  });
  return {
    child,
    stderr: () => text.stderr,
    finished,
    async waitForStderr(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(text.stderr);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} on stderr in ${timeoutMs} ms; stderr:\n${text.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

export const runSgcli = (args: readonly string[], env?: Record<string, string>, launcher?: readonly string[]): Promise<Finished> => startSgcli(args, env, launcher).finished;

/** A temporary folder for one test's scripts, plans and data directory, removed after it. */
export interface Workspace {
  dir: string;
  dataDir: string;
  /** Writes `content` (an object becomes JSON) to `name` in the folder; returns its path. */
  file(name: string, content: string | object): Promise<string>;
}

export async function workspace(t: ExecutionContext): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return {
    dir,
    dataDir: join(dir, 'data'),
    async file(name, content) {
      const path = join(dir, name);
      await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    },
  };
}

/** Fields of a live line as numbers. */
export const num = (line: LiveLine, field: string): number => Number(line[field] ?? NaN);
