#!/usr/bin/env node
/**
 * The sgcli executable: wires the real process (streams, files, signals, the
 * embedded runner) into runCommand and exits with the code it returns.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { runCommand, type RunEmbedded } from './command.js';
import { startDemoTarget } from './demo-target.js';

// Loaded on a run only: the generator's QuickJS and native modules are not needed for --help.
const loadRunner = async (): Promise<RunEmbedded> => (await import('../coordinator/embedded.js')).runEmbedded;

function packageVersion(): string | undefined {
  try {
    // dist/ts/cli/sgcli.js → the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version;
  } catch {
    return undefined;
  }
}

const INTERRUPTS = ['SIGINT', 'SIGTERM'] as const;

const code = await runCommand(process.argv.slice(2), {
  loadRunner,
  loadRemoteRunner: async () => (await import('./remote-runner.js')).runRemote,
  // Loaded on first use: QuickJS is not needed for --help or a usage error.
  checkScript: async (source) => (await import('../shared/script/check.js')).checkScript(source),
  startDemoTarget,
  // Loaded on a run only, like the runner: the addon is not needed for --help.
  raiseOpenFileLimit: async () => {
    const { openFileLimitLine, raiseOpenFileLimit } = await import('../netio/open-file-limit.js');
    return openFileLimitLine(raiseOpenFileLimit());
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readFile: (path) => readFile(path, 'utf8'),
  makeDirectory: async (path) => {
    await mkdir(path, { recursive: true });
  },
  onInterrupt: (handler) => {
    for (const signal of INTERRUPTS) process.on(signal, handler);
    return () => {
      for (const signal of INTERRUPTS) process.off(signal, handler);
    };
  },
  version: packageVersion(),
});
// Worker threads of an aborted or forced run may still be winding down; the
// outcome is decided, so they must not hold the process.
process.exit(code);
