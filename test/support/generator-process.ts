/**
 * The compiled stressgrid-generator as a child process (program-process.ts),
 * configured by environment as its systemd unit does. killAllPrograms() ends
 * the ones a test left running.
 */
import { startProgram, type ProgramProcess } from './program-process.js';

export interface GeneratorProcess extends ProgramProcess {
  readonly id: string;
}

export interface GeneratorProcessOptions {
  url: string;
  id: string;
  workers?: number;
  token?: string;
  env?: Record<string, string>;
  /** Runs the program through this command and arguments (e.g. `ip netns exec <ns>`). */
  wrapper?: string[];
  /** Kills the process after this long (default: program-process.ts's), for a test file that shares one generator. */
  lifetimeMs?: number;
}

export function startGeneratorProcess(options: GeneratorProcessOptions): GeneratorProcess {
  const program = startProgram({
    main: 'dist/ts/generator/main.js',
    name: `generator ${options.id}`,
    wrapper: options.wrapper,
    lifetimeMs: options.lifetimeMs,
    env: {
      ...process.env,
      COORDINATOR_URL: options.url,
      GENERATOR_ID: options.id,
      STRESSGRID_WORKERS: String(options.workers ?? 1),
      STRESSGRID_TOKEN: options.token,
      ...options.env,
    },
  });
  return Object.assign(program, { id: options.id });
}
