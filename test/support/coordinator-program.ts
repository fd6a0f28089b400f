/**
 * The compiled stressgrid-coordinator as a child process (program-process.ts),
 * configured by flags, with the ports it reports once it listens.
 */
import { startProgram, type ProgramProcess } from './program-process.js';

export interface CoordinatorProgram extends ProgramProcess {
  /** Resolves once both ports listen, with loopback URLs for them (whatever address they are bound to). */
  listening(): Promise<{ api: string; generators: string; apiPort: number; generatorPort: number }>;
}

export interface CoordinatorProgramOptions {
  dataDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port), for both. */
  port?: number;
  generatorPort?: number;
  args?: string[];
  token?: string;
  env?: Record<string, string>;
  /** Kills the process after this long (default: program-process.ts's), for runs longer than a test's. */
  lifetimeMs?: number;
}

/** The start line: the API's port, then the generator port's. */
export const LISTENING_LINE = /website and API on http:\/\/\S+:(\d+), generators on ws:\/\/\S+:(\d+), reports in /;

export function startCoordinatorProgram(options: CoordinatorProgramOptions): CoordinatorProgram {
  const program = startProgram({
    main: 'dist/ts/coordinator/main.js',
    name: 'the coordinator',
    lifetimeMs: options.lifetimeMs,
    args: ['--host', options.host ?? '127.0.0.1', '--port', String(options.port ?? 0), '--generator-port', String(options.generatorPort ?? 0), '--data-dir', options.dataDir, ...(options.args ?? [])],
    // CloudWatch off: a test never reaches beyond loopback.
    env: { ...process.env, CW_REGION: 'off', STRESSGRID_TOKEN: options.token, ...options.env },
  });
  return Object.assign(program, {
    async listening() {
      const [, apiPort, generatorPort] = (await program.waitFor(LISTENING_LINE)).map(Number);
      return { api: `http://127.0.0.1:${apiPort}`, generators: `ws://127.0.0.1:${generatorPort}`, apiPort: apiPort!, generatorPort: generatorPort! };
    },
  });
}
