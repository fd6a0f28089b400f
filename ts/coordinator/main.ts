#!/usr/bin/env node
/**
 * The stressgrid-coordinator program: the management API and website (8000) and
 * the generator port (9696) over one coordinator. At start it archives the runs a
 * previous coordinator left unfinished; on SIGTERM or SIGINT it aborts the active
 * run (its report is still written), closes both ports and exits 0.
 */
import { Command } from 'commander';
import { startApiServer } from './api-server.js';
import { configuredWriters, writerKinds } from './configured-writers.js';
import { Coordinator } from './coordinator.js';
import { startGeneratorServer } from './generator-server.js';
import { exposureWarning, resolveCoordinatorOptions, type CoordinatorFlags } from './program-options.js';
import { EXIT_USAGE, settingsProblemLines } from '../shared/program-settings.js';
import { environmentOnlyHelp, settingFlags } from '../shared/settings.js';
import type { PrometheusFlags } from './prometheus-writer-kind.js';

const EXIT_START_FAILED = 1;

const log = (line: string) => console.error(line);
const say = (line: string) => log(`stressgrid coordinator: ${line}`);

const program = new Command('stressgrid-coordinator').description('Runs Stressgrid plans over the generators that connect to it.');
for (const { flags, help } of settingFlags('stressgrid-coordinator')) program.option(flags, help);
program
  .addHelpText(
    'after',
    environmentOnlyHelp('stressgrid-coordinator') +
      '\nWith STRESSGRID_TOKEN, report downloads need a link the coordinator signed (sgcli prints one, the website lists them).' +
      "\nCloudWatch credentials come from the AWS SDK's default chain." +
      '\nGET /metrics serves the same metrics for Prometheus to scrape (with STRESSGRID_TOKEN set, it needs it as a bearer token).',
  )
  .parse();

function refuse(problems: readonly string[]): never {
  for (const line of settingsProblemLines('stressgrid-coordinator', problems)) log(line);
  process.exit(EXIT_USAGE);
}

const flags = program.opts<CoordinatorFlags & PrometheusFlags>();
const resolved = resolveCoordinatorOptions(flags);
if (!resolved.ok) refuse(resolved.problems);
const options = resolved.options;
const writers = await configuredWriters(process.env, say, writerKinds(flags));
if (!writers.ok) refuse(writers.problems);
for (const line of writers.writers.described) say(line);

const warning = exposureWarning(options);
if (warning) say(warning);

const coordinator = new Coordinator({ dataDir: options.dataDir, reportIntervalSeconds: options.reportIntervalSeconds, extraWriters: writers.writers.create, log });
let api: Awaited<ReturnType<typeof startApiServer>>;
let generators: Awaited<ReturnType<typeof startGeneratorServer>>;
try {
  await coordinator.recover();
  generators = await startGeneratorServer({ coordinator, host: options.host, port: options.generatorPort, token: options.token, log });
  api = await startApiServer({ coordinator, host: options.host, port: options.port, token: options.token, linkExpirySeconds: options.linkExpirySeconds, log });
} catch (error) {
  say(`could not start: ${(error as Error).message}`);
  process.exit(EXIT_START_FAILED);
}
const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
say(`website and API on http://${shown}:${api.port}, generators on ws://${shown}:${generators.port}, reports in ${coordinator.store.dataDir}`);

let stopping = false;
async function shutDown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    say(`${signal} again: exiting without waiting for the report`);
    process.exit(EXIT_START_FAILED);
  }
  stopping = true;
  const run = coordinator.run;
  if (run) say(`${signal}: aborting run ${run.runId} and writing its report`);
  // Generators stay connected until the run's last telemetry is in.
  await coordinator.abort(`the coordinator was stopped (${signal})`);
  await api.close();
  await generators.close();
  say('stopped');
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s) => void shutDown(s));
