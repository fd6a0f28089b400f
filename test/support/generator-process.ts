/**
 * The compiled stressgrid-generator as a child process, the way a machine runs
 * it: configured by environment, logging to stderr, stopped by signals. Every
 * process started here is killed by killAll(), and by a timer of its own, so a
 * failing test leaves none behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const GENERATOR_MAIN = join(root, 'dist/ts/generator/main.js');
/** No test needs a generator for longer; past it the process is killed. */
const LIFETIME_MS = 90_000;

export interface GeneratorProcess {
  readonly child: ChildProcess;
  readonly id: string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves once stderr matches, counting only what came after `from` characters. */
  waitFor(pattern: RegExp, options?: { timeoutMs?: number; from?: number }): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): void;
}

export interface GeneratorProcessOptions {
  url: string;
  id: string;
  workers?: number;
  token?: string;
  env?: Record<string, string>;
  /** Runs the program through this command and arguments (e.g. `ip netns exec <ns>`). */
  wrapper?: string[];
}

const running = new Set<GeneratorProcess>();

export function startGeneratorProcess(options: GeneratorProcessOptions): GeneratorProcess {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    COORDINATOR_URL: options.url,
    GENERATOR_ID: options.id,
    STRESSGRID_WORKERS: String(options.workers ?? 1),
    ...options.env,
  };
  if (options.token !== undefined) env.STRESSGRID_TOKEN = options.token;
  else delete env.STRESSGRID_TOKEN;
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, GENERATOR_MAIN];
  const child = spawn(command!, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  // 'close', not 'exit': only then has everything the process wrote been read.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), LIFETIME_MS);
  const handle: GeneratorProcess = {
    child,
    id: options.id,
    stderr: () => text,
    exited,
    async waitFor(pattern, { timeoutMs = 20_000, from = 0 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(text.slice(from));
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`generator ${options.id} exited (${child.exitCode ?? child.signalCode}) before ${pattern}; stderr:\n${text}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} from generator ${options.id} in ${timeoutMs} ms; stderr:\n${text}`);
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

/** SIGKILLs every generator process still running and waits for them to go. */
export async function killAllGeneratorProcesses(): Promise<void> {
  const all = [...running];
  for (const p of all) p.kill('SIGKILL');
  await Promise.all(all.map((p) => p.exited));
}
