/**
 * One of the package's programs as a child process, the way a machine runs it:
 * configured by flags and environment, logging to stderr, stopped by signals.
 * Every process started here is killed by killAllPrograms(), and by a timer of
 * its own, so a failing test leaves none behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** No test needs a program for longer (unless it says so: lifetimeMs); past it the process is killed. */
const LIFETIME_MS = 90_000;

export interface ProgramProcess {
  readonly child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves once stderr matches, counting only what came after `from` characters. */
  waitFor(pattern: RegExp, options?: { timeoutMs?: number; from?: number }): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ProgramOptions {
  /** Relative to the package root, e.g. `dist/ts/generator/main.js`. */
  main: string;
  args?: string[];
  /** Replaces the test's environment; undefined values are left out. */
  env: Record<string, string | undefined>;
  /** Runs the program through this command and arguments (e.g. `ip netns exec <ns>`). */
  wrapper?: string[];
  /** Names the process in error messages. */
  name: string;
  /** Kills the process after this long (default LIFETIME_MS), for a test file that shares one process. */
  lifetimeMs?: number;
}

const running = new Set<ProgramProcess>();

export function startProgram(options: ProgramOptions): ProgramProcess {
  const env = Object.fromEntries(Object.entries(options.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, join(PACKAGE_ROOT, options.main), ...(options.args ?? [])];
  const child = spawn(command!, args, { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  // 'close', not 'exit': only then has everything the process wrote been read.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.lifetimeMs ?? LIFETIME_MS);
  const handle: ProgramProcess = {
    child,
    stderr: () => text,
    exited,
    async waitFor(pattern, { timeoutMs = 20_000, from = 0 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(text.slice(from));
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before ${pattern}; stderr:\n${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} from ${options.name} in ${timeoutMs} ms; stderr:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  running.add(handle);
  void exited.then(() => {
    clearTimeout(killer);
    running.delete(handle);
  });
  return handle;
}

/** SIGKILLs every program still running and waits for them to go. */
export async function killAllPrograms(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}
