#!/usr/bin/env node
/**
 * The stressgrid-generator program: starts a generator's worker threads, keeps it
 * connected to its coordinator (reconnecting for as long as it runs) and, on
 * SIGTERM or SIGINT, stops its devices, sends their last telemetry and exits 0.
 */
import { Command } from 'commander';
import { Generator } from './generator.js';
import { CoordinatorConnection } from './coordinator-connection.js';
import { resolveGeneratorOptions, type GeneratorFlags } from './program-options.js';
import { EXIT_USAGE, settingsProblemLines } from '../shared/program-settings.js';
import { environmentOnlyHelp, settingFlags } from '../shared/settings.js';
import { openFileLimitLine, raiseOpenFileLimit } from '../netio/open-file-limit.js';

/** How long shutdown waits for the last telemetry to leave before exiting anyway. */
const FLUSH_TIMEOUT_MS = 5000;

const log = (line: string) => console.error(line);

const program = new Command('stressgrid-generator').description('Simulates devices for a Stressgrid coordinator.');
for (const { flags, help } of settingFlags('stressgrid-generator')) program.option(flags, help);
program.addHelpText('after', environmentOnlyHelp('stressgrid-generator')).parse();

const resolved = resolveGeneratorOptions(program.opts<GeneratorFlags>());
if (!resolved.ok) {
  for (const line of settingsProblemLines('stressgrid-generator', resolved.problems)) log(line);
  process.exit(EXIT_USAGE);
}
const options = resolved.options;

// Before any socket opens: a shell's soft limit (often 1024) would cap the devices.
const fileLimit = raiseOpenFileLimit();
log(`stressgrid generator: ${openFileLimitLine(fileLimit)}`);
const generator = await Generator.start({ id: options.id, workers: options.workers, log, openFileLimit: fileLimit.ok ? fileLimit.limit.soft : null });
log(`stressgrid generator: ${options.id} started with ${generator.workers} workers; coordinator ${options.coordinatorUrl}`);
const connection = CoordinatorConnection.start({ url: options.coordinatorUrl, token: options.token, generator, log });

let stopping = false;
async function shutDown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`stressgrid generator: ${signal}: stopping devices and sending the last telemetry`);
  connection.stop();
  const forced = setTimeout(() => {
    log('stressgrid generator: the last telemetry did not leave in time; exiting without it');
    process.exit(0);
  }, FLUSH_TIMEOUT_MS);
  await generator.close();
  await connection.ended();
  clearTimeout(forced);
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void shutDown(s));
